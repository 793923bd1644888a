"""Quotations kept at ingest: chunk metadata in a real Chroma store, read back, listed per article."""

from __future__ import annotations

from pathlib import Path

from ingest.chunking import chunk_article
from ingest.pipeline import ingest_paths
from rag.store import Store
from rag.types import Article

SEED = Path(__file__).parent.parent / "seeds" / "000_d8ed5a87b2fc358e.txt"


def test_chunks_keep_their_quotations_through_chroma(tmp_path, fake_embeddings):
    store = Store(tmp_path / "db", "news", fake_embeddings)
    ingest_paths([SEED], store, chunk_size=600, chunk_overlap=1, progress=False)
    text = store.get_article("000_d8ed5a87b2fc358e").text
    chunks = [c for c in store.all_chunks() if c.article_id == "000_d8ed5a87b2fc358e"]
    rhodes = [c for c in chunks if "complete violation" in c.text]
    assert rhodes and all("Ben Rhodes" in c.speakers for c in rhodes)
    for c in chunks:
        for q in c.quotes:
            assert q.overlaps(c.start, c.end) and text[q.start:q.end]
    raw = store._chunks.get(ids=[rhodes[0].id], include=["metadatas"])["metadatas"][0]
    assert "Ben Rhodes" in raw["speakers"].split("; ") and "Rhodes" in raw["speakers"].split("; ")
    assert isinstance(raw["quotes"], str)
    hits = store.dense_search("complete violation of the spirit", k=1)
    assert hits[0][0].speakers  # search results carry them too
    assert store.speakers_of("000_d8ed5a87b2fc358e") == ["Bernadette Meehan", "Ben Rhodes"]
    assert [q.speaker for q in store.quotes_of("000_d8ed5a87b2fc358e")][-1] == "Ben Rhodes"
    assert store.speakers_of("nope") == [] and store.quotes_of("nope") == []


def test_chunk_without_quotations_has_empty_metadata(tmp_path, fake_embeddings):
    store = Store(tmp_path / "db", "news", fake_embeddings)
    art = Article(id="plain", title="Bridge", text="The bridge opened in 1932. It carries 40,000 cars a day.")
    store.put_article(art, chunk_article(art, 600, 0))
    (chunk,) = store.all_chunks()
    assert chunk.quotes == [] and chunk.speakers == []
    raw = store._chunks.get(ids=[chunk.id], include=["metadatas"])["metadatas"][0]
    assert raw["speakers"] == "" and raw["quotes"] == "[]"


def test_chunks_of_a_store_built_before_quotations_were_kept_say_so():
    from rag.store import _chunk_from

    old = _chunk_from("c1", "He said it.", {"article_id": "a", "start": 0, "end": 11, "position": 0})
    assert old.quotes is None and old.speakers == []  # not known, unlike a chunk that quotes nobody
