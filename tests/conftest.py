"""Shared fixtures: every test gets its own store folder; fakes you can check by hand."""

from __future__ import annotations

import hashlib
import math
import os
import re

import pytest
from langchain_core.embeddings import Embeddings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class FakeEmbeddings(Embeddings):
    """Deterministic bag-of-words hashing embedding: texts sharing words are close.

    Each lower-cased word adds 1 to dimension ``sha1(word) % dim``; vectors are L2-normalised.
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0  # number of texts embedded, so tests can check "embeds nothing"

    def _vec(self, text: str) -> list[float]:
        v = [0.0] * self.dim
        for w in re.findall(r"\w+", text.lower()):
            v[int(hashlib.sha1(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += len(texts)
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


@pytest.fixture
def fake_embeddings() -> FakeEmbeddings:
    return FakeEmbeddings()


@pytest.fixture(autouse=True)
def isolated_store(tmp_path, monkeypatch):
    """Each test runs with its own store and working directory."""
    store = tmp_path / "store"
    monkeypatch.setenv("NEWSRAG_STORE", str(store))
    monkeypatch.chdir(tmp_path)
    return store
