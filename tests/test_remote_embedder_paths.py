"""Every path that opens a store builds its embedder from the settings, a remote one included:
the server's address and key reach the embedder when answering and evaluating, not only at ingest."""

from __future__ import annotations

import pytest

import rag.embeddings
from rag.settings import Settings


class _Built(Exception):
    """Raised by the stand-in embedder factory once it has recorded its arguments."""


@pytest.fixture
def remote(tmp_path, monkeypatch):
    seen: dict = {}

    def record(model, batch_size=None, **kwargs):
        seen.update(model=model, **kwargs)
        raise _Built

    monkeypatch.setattr(rag.embeddings, "get_embeddings", record)
    settings = Settings(
        store=tmp_path / "store", embedding_model="openai:nomic-embed",
        embedding_base_url="http://127.0.0.1:9/v1", embedding_api_key="k", llm="extractive",
    )
    return settings, seen


def test_answering_builds_the_remote_embedder_with_its_server(remote):
    from rag.pipeline import build_answerer

    settings, seen = remote
    with pytest.raises(_Built):
        build_answerer(settings)
    assert seen["model"] == "openai:nomic-embed"
    assert seen["base_url"] == "http://127.0.0.1:9/v1" and seen["api_key"] == "k"


def test_evaluating_builds_the_remote_embedder_with_its_server(remote):
    from evals.presets import build_pipeline

    settings, seen = remote
    with pytest.raises(_Built):
        build_pipeline("default", settings, None, progress=False)
    assert seen["base_url"] == "http://127.0.0.1:9/v1"
