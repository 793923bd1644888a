"""The remote embedder against a real OpenAI-compatible embedding server: llama-cpp-python's
server with ``--embedding`` on the local Qwen2.5 0.5B GGUF (mean pooling set through a metadata
override), started by the test. Ingest through it, refuse the store with another embedder,
re-embed it back."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsrag.cli import app
from rag.model_files import pull
from rag.settings import default_cache_dir, load_settings
from rag.store import EmbedderMismatch, Store
from servers import llama_server

pytestmark = pytest.mark.slow

SEED_DIR = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture(scope="module")
def embedding_server(tmp_path_factory):
    gguf = pull("qwen2.5-0.5b", default_cache_dir(), progress=False)  # built once, then cached
    # 1: mean pooling, one vector per text
    with llama_server(gguf, tmp_path_factory.mktemp("embed-server"), "--embedding", "True",
                      "--kv_overrides", "qwen2.pooling_type=int:1") as url:
        yield url


def test_ingest_through_the_server_refuse_another_embedder_and_reembed(embedding_server, monkeypatch):
    monkeypatch.setenv("NEWSRAG_EMBEDDING_MODEL", "openai:qwen2.5-0.5b")
    monkeypatch.setenv("NEWSRAG_EMBEDDING_BASE_URL", embedding_server)
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", str(SEED_DIR), "-q"])
    assert ingested.exit_code == 0, ingested.output
    assert "1 added" in ingested.output

    store = Store.from_settings(load_settings())
    record = store.embedder_record()
    assert record == {"embedder": "openai:qwen2.5-0.5b", "model": "qwen2.5-0.5b", "base_url": embedding_server,
                      "dimension": 896}
    chunk = store.all_chunks()[2]
    (hit, score), *_ = store.dense_search(chunk.text, k=1)
    assert hit.id == chunk.id and score > 0.99

    monkeypatch.delenv("NEWSRAG_EMBEDDING_MODEL")
    monkeypatch.delenv("NEWSRAG_EMBEDDING_BASE_URL")
    refused = runner.invoke(app, ["ingest", str(SEED_DIR), "-q"])
    assert refused.exit_code == 1
    assert f"holds vectors of openai:qwen2.5-0.5b ({embedding_server}), 896-d, not of minilm-int8" in refused.output
    assert "newsrag reembed --store" in refused.output

    n_chunks = len(store.all_chunks())
    back = runner.invoke(app, ["reembed", "-q"])
    assert back.exit_code == 0, back.output
    assert f"re-embedded {n_chunks} chunks with minilm-int8 (384-d)" in back.output
    again = runner.invoke(app, ["ingest", str(SEED_DIR), "-q"])
    assert again.exit_code == 0 and "1 unchanged" in again.output
    with pytest.raises(EmbedderMismatch, match="holds vectors of minilm-int8, 384-d, not of openai:qwen2.5-0.5b"):
        store.revision()  # a reader opened before, with the server's embedder, sees the change
