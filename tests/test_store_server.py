"""Server mode: the store against a real ``chroma run`` server started on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from rag.settings import Settings
from rag.store import Store
from servers import free_port, stop_process

SEED_DIR = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture
def chroma_server(tmp_path):
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        exe = shutil.which("chroma")
    assert exe, "the chroma CLI (chromadb) is not installed"
    port = free_port()
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen([str(exe), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chroma server did not start: " + (tmp_path / "chroma.log").read_text())
                time.sleep(0.3)
        yield port
    finally:
        stop_process(proc)
        log.close()


@pytest.mark.slow
def test_ingest_and_search_against_chroma_server(chroma_server, fake_embeddings, monkeypatch):
    monkeypatch.setenv("NEWSRAG_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("NEWSRAG_CHROMA_PORT", str(chroma_server))
    store = Store.from_settings(Settings(), embeddings=fake_embeddings)
    assert store.location == f"http://127.0.0.1:{chroma_server}"
    rep = ingest_paths([SEED_DIR], store, chunk_size=600, chunk_overlap=1, progress=False)
    assert rep.added == 1 and rep.chunks_added > 3
    again = ingest_paths([SEED_DIR], store, chunk_size=600, chunk_overlap=1, progress=False)
    assert again.unchanged == 1 and again.chunks_embedded == 0
    (hit, score), *_ = store.dense_search("complete violation of the spirit", k=3)
    art = store.get_article(hit.article_id)
    assert art.text[hit.start : hit.end] == hit.text
    assert store.stats()["articles"] == 1
    assert not Path(Settings().store).exists()  # nothing written to the local store folder
