"""Store: articles and chunks in an embedded Chroma, with our (fake) embeddings."""

from __future__ import annotations

from ingest.chunking import chunk_article
import datetime as dt

import pytest

from rag.store import Store, chroma_where, published_ts
from rag.types import Article, Filters


def _store(tmp_path, emb, name="news"):
    return Store(tmp_path / "db", name, emb)


def _article(aid="a1", text=None, **kw):
    text = text or (
        "Rhodes said the move was a complete violation of the spirit of the agreement. "
        "He spoke in Washington on Monday.\n\nThe talks about Ukraine continue next week. "
        "Officials in Kyiv welcomed the statement."
    )
    return Article(id=aid, title=kw.pop("title", "Talks"), text=text, published=kw.pop("published", "2022-06-17"),
                   source=kw.pop("source", "CNN"), url="https://example.org/" + aid, authors=["A B", "C D"], **kw)


def test_put_get_search_and_metadata(tmp_path, fake_embeddings):
    store = _store(tmp_path, fake_embeddings)
    art = _article()
    chunks = chunk_article(art, 120, 0)
    assert store.put_article(art, chunks) == len(chunks) >= 2
    got = store.get_article("a1")
    assert got.text == art.text and got.authors == ["A B", "C D"] and got.published == "2022-06-17"
    assert store.article_hash("a1") == art.text_hash
    assert store.find_by_text_hash(art.text_hash) == "a1"
    assert store.get_article("nope") is None and store.article_hash("nope") is None
    hits = store.dense_search("complete violation of the spirit", k=2)
    assert len(hits) == 2
    best, score = hits[0]
    assert "complete violation" in best.text and -1.0 <= score <= 1.0001
    assert hits[0][1] >= hits[1][1]
    assert art.text[best.start : best.end] == best.text
    assert best.published == "2022-06-17" and best.source == "CNN" and best.url == "https://example.org/a1"
    raw = store._chunks.get(ids=[best.id], include=["metadatas"])["metadatas"][0]
    assert raw["published_ts"] == published_ts("2022-06-17") == 19160
    for key in ("article_id", "title", "url", "published", "published_ts", "source", "position", "start", "end"):
        assert key in raw


def test_where_filter_and_all_chunks(tmp_path, fake_embeddings):
    store = _store(tmp_path, fake_embeddings)
    a = _article("a1")
    b = _article("b2", text="A different story about the weather in Kyiv today.", source="AP", published=None)
    for art in (a, b):
        store.put_article(art, chunk_article(art, 100, 0))
    hits = store.dense_search("Kyiv", k=10, filters=Filters(sources=("AP",)))
    assert {c.article_id for c, _ in hits} == {"b2"}
    hits = store.dense_search("Kyiv", k=10, filters=Filters(date_from=dt.date(2022, 1, 8)))
    assert {c.article_id for c, _ in hits} == {"a1"}
    chunks = store.all_chunks()
    assert {c.article_id for c in chunks} == {"a1", "b2"}
    assert all(c.published is None for c in chunks if c.article_id == "b2")
    stats = store.stats()
    assert stats["articles"] == 2 and stats["chunks"] == len(chunks) and stats["sources"] == ["AP", "CNN"]
    assert stats["last_ingest"]


def test_replace_leaves_no_stale_chunks_and_revision_changes(tmp_path, fake_embeddings):
    store = _store(tmp_path, fake_embeddings)
    art = _article()
    r0 = store.revision()
    store.put_article(art, chunk_article(art, 120, 0))
    r1 = store.revision()
    assert r1 != r0
    new = art.model_copy(update={"text": art.text.replace("Monday", "Tuesday")})
    new_chunks = chunk_article(new, 120, 0)
    calls = fake_embeddings.calls
    added = store.put_article(new, new_chunks)
    assert fake_embeddings.calls - calls == added == 1  # only the changed chunk is embedded
    assert store.revision() != r1
    assert sorted(store.chunk_ids_of("a1")) == sorted(c.id for c in new_chunks)
    assert all("Monday" not in c.text for c in store.all_chunks())


def test_writes_in_slices_of_max_batch(tmp_path, fake_embeddings):
    store = _store(tmp_path, fake_embeddings)
    store.max_batch = 2
    art = _article()
    chunks = chunk_article(art, 60, 0)
    assert len(chunks) > 2
    assert store.put_article(art, chunks) == len(chunks)
    assert len(store.existing_vectors([c.id for c in chunks])) == len(chunks)


def test_reopen_persists(tmp_path, fake_embeddings):
    art = _article()
    _store(tmp_path, fake_embeddings).put_article(art, chunk_article(art, 120, 0))
    again = _store(tmp_path, fake_embeddings)
    assert again.get_article("a1").text == art.text
    assert again.stats()["articles"] == 1


def test_published_ts():
    assert published_ts(None) == -1 and published_ts("garbage") == -1
    assert published_ts("1970-01-02") == 1


COMBINED = [
    Filters(),
    Filters(sources=("AP",)),
    Filters(sources=("AP", "CNN"), date_from=dt.date(2022, 6, 1)),
    Filters(date_from=dt.date(2022, 6, 1), date_to=dt.date(2022, 6, 30)),
    Filters(article_ids=("a1", "c3"), date_to=dt.date(2022, 6, 30)),
    Filters(sources=("CNN",), article_ids=("a1", "b2", "d4"), date_from=dt.date(2022, 1, 1), date_to=dt.date(2022, 12, 31)),
]


@pytest.mark.parametrize("filters", COMBINED)
def test_combined_filters_in_chroma_keep_what_filters_keep_keeps(tmp_path, fake_embeddings, filters):
    """The store's Chroma query and ``Filters.keep`` (used by BM25 and the fakes) agree."""
    store = _store(tmp_path, fake_embeddings)
    arts = [
        _article("a1", source="CNN", published="2022-06-17"),
        _article("b2", text="Weather in Kyiv today. Rain later.", source="AP", published=None),
        _article("c3", text="Storm on the coast. Kyiv calm.", source="AP", published="2022-05-30"),
        _article("d4", text="Kyiv markets rally. Prices rise.", source="CNN", published="2022-07-01"),
        _article("e5", text="A quiet day in Kyiv. Nothing else.", source="Reuters", published="2022-06-02"),
    ]
    for art in arts:
        store.put_article(art, chunk_article(art, 100, 0))
    every = store.all_chunks()
    hits = store.dense_search("Kyiv", k=len(every), filters=filters)
    assert {c.id for c, _ in hits} == {c.id for c in every if filters.keep(c)}


def test_chroma_where_is_built_in_the_store_only():
    f = Filters(sources=("AP",), date_from=dt.date(2022, 6, 1))
    assert chroma_where(f) == {"$and": [{"source": {"$in": ["AP"]}}, {"published_ts": {"$gte": 19144}}]}
    assert chroma_where(Filters()) is None and chroma_where(None) is None
