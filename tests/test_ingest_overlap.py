"""Ingest with embedding overlapped: batches are embedded on a background thread while the next
articles are chunked and the batch before is written. What is stored, and the report, must be
those of one batch at a time. Real Chroma stores, the fake embedder."""

from __future__ import annotations

import json
import threading

import pytest

from conftest import FakeEmbeddings
from ingest.pipeline import ingest_paths
from rag.store import Store
from test_ingest import _write_corpus

SIZE, OVERLAP = 400, 1


class RecordingEmbeddings(FakeEmbeddings):
    """The fake embedder, noting the thread of each call; it can be made to fail on a given call."""

    def __init__(self, fail_on_call: int | None = None) -> None:
        super().__init__()
        self.threads: list[str] = []
        self.fail_on_call = fail_on_call

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.threads.append(threading.current_thread().name)
        if self.fail_on_call is not None and len(self.threads) == self.fail_on_call:
            raise RuntimeError("embedder failed")
        return super().embed_documents(texts)


def _ingest(paths, store, **kw):
    return ingest_paths(paths, store, chunk_size=SIZE, chunk_overlap=OVERLAP, progress=False, **kw)


def _contents(store: Store) -> dict[str, tuple[str, str, tuple[float, ...]]]:
    """``{chunk id: (article id, text, vector)}`` of everything stored."""
    chunks = store.all_chunks()
    vectors = store.existing_vectors([c.id for c in chunks])
    return {c.id: (c.article_id, c.text, tuple(round(x, 6) for x in vectors[c.id])) for c in chunks}


def test_small_batches_store_what_one_batch_stores_and_embed_off_the_main_thread(tmp_path):
    corpus = _write_corpus(tmp_path / "c")
    one = Store(tmp_path / "one", "news", RecordingEmbeddings())
    many_emb = RecordingEmbeddings()
    many = Store(tmp_path / "many", "news", many_emb)
    events = []
    r1 = _ingest([corpus], one, batch_chunks=10_000)
    r2 = _ingest([corpus], many, batch_chunks=5, on_event=events.append)
    assert len(many_emb.threads) >= 3, "several batches were embedded"
    assert threading.main_thread().name not in many_emb.threads
    assert _contents(one) == _contents(many) and len(_contents(many)) > 6
    assert (r1.added, r1.chunks_added, r1.chunks_embedded) == (r2.added, r2.chunks_added, r2.chunks_embedded)
    assert [e.article_id for e in events if e.kind == "article"] == [f"story{i}" for i in range(6)]
    assert events[-1].chunks_done == r2.chunks_added


def test_a_better_copy_replaces_an_article_whose_batch_is_still_being_embedded(tmp_path):
    text = " ".join(f"Flood sentence {j} says the river rose {j} metres in Port Allen." for j in range(12))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a-flood.txt").write_text(f"River floods town\n\n{text}\n", encoding="utf-8")
    record = {"id": "flood-2024", "title": "River floods town", "text": text,
              "url": "https://news.example/flood", "published": "2024-03-05"}
    (tmp_path / "in" / "feed.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    store = Store(tmp_path / "db", "news", RecordingEmbeddings())
    report = _ingest([tmp_path / "in"], store, batch_chunks=1)  # the .txt is submitted at once
    assert (report.added, report.near_duplicate) == (1, 1)
    assert store.chunk_ids_of("a-flood") == [] and store.chunk_ids_of("flood-2024")
    assert [o.id for o in store.also_in("flood-2024")] == ["a-flood"]
    assert report.chunks_embedded == len(store.chunk_ids_of("flood-2024"))


def test_a_failing_embedder_stops_the_run_keeps_earlier_batches_and_releases_the_store(tmp_path):
    corpus = _write_corpus(tmp_path / "c")
    store = Store(tmp_path / "db", "news", RecordingEmbeddings(fail_on_call=2))
    with pytest.raises(RuntimeError, match="embedder failed"):
        _ingest([corpus], store, batch_chunks=5)
    stored = {c.article_id for c in store.all_chunks()}
    assert stored and stored < {f"story{i}" for i in range(6)}
    store.embeddings = RecordingEmbeddings()
    again = _ingest([corpus], store, wait=False)  # the write lock was released
    assert again.added + again.unchanged == 6 and not again.failed
