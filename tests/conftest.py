"""Shared fixtures: every test gets its own store folder; fakes you can check by hand."""

from __future__ import annotations

import hashlib
import math
import re

import pytest

import rag  # noqa: F401  (applies the offline environment defaults before any library loads)
from langchain_core.embeddings import Embeddings


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


def retrieval_params(**overrides):
    """The product's retrieval parameters (``Settings().retrieval_params``), some overridden."""
    from rag.settings import Settings

    return Settings().retrieval_params.model_copy(update=overrides)


def answer_params(**overrides):
    """The product's answer parameters (``Settings().answer_params``), some overridden."""
    from rag.settings import Settings

    return Settings().answer_params.model_copy(update=overrides)


def model_params(**overrides):
    """The product's chat-model parameters (``Settings().model_params``), some overridden."""
    from rag.settings import Settings

    return Settings().model_params.model_copy(update=overrides)


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
