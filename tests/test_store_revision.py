"""Store.revision(): counted again only when the state revision changed, yet it changes with every
write (this store's, another store object's on the same folder, a removal, a failed write) and
is the same string as counting every time. Real Chroma, the fake embedder."""

from __future__ import annotations

import pytest

from conftest import FakeEmbeddings
from rag.errors import StoreError
from rag.store import Store
from rag.types import Article, Chunk


def _article(i: int) -> tuple[Article, list[Chunk]]:
    text = f"Story {i} says the river rose. Officials said more rain was due."
    article = Article(id=f"a{i}", title=f"Story {i}", text=text)
    return article, [Chunk(id=f"a{i}-0", article_id=article.id, text=text, start=0, end=len(text), position=0)]


def _counted(store: Store) -> str:
    """What revision() is, counted now."""
    return f"{store._state().get('revision', '0')}:{store._chunks.count()}:{store._articles.count()}"


class _Collection:
    """A collection whose upserts first call ``before`` (everything else passes through)."""

    def __init__(self, inner, before):
        self._inner, self._before = inner, before

    def upsert(self, **kwargs):
        self._before()
        return self._inner.upsert(**kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _fail() -> None:
    raise RuntimeError("disk full")


def test_revision_is_stable_without_writes_and_changes_with_each(tmp_path):
    store = Store(tmp_path / "db", "news", FakeEmbeddings())
    store.put_article(*_article(0))
    first = store.revision()
    assert first == _counted(store) and store.revision() == first
    store.put_article(*_article(1))
    second = store.revision()
    assert second != first and second == _counted(store) and second.endswith(":2:2")
    other = Store(tmp_path / "db", "news", FakeEmbeddings())  # another writer of the same folder
    other.put_article(*_article(2))
    third = store.revision()
    assert third not in (first, second) and third.endswith(":3:3")
    store.remove_articles(["a0"])
    assert store.revision().endswith(":2:2") and store.revision() == _counted(store)


def test_a_write_that_fails_after_a_read_during_it_still_gives_a_new_revision(tmp_path):
    store = Store(tmp_path / "db", "news", FakeEmbeddings())
    store.put_article(*_article(0))
    during = []
    store._chunks = _Collection(store._chunks, lambda: during.append(store.revision()))  # read mid-write
    store._articles = _Collection(store._articles, _fail)  # then the article record fails
    with pytest.raises(StoreError, match="disk full"):
        store.put_article(*_article(1))
    assert during and during[0].endswith(":1:1")
    after = store.revision()
    assert after != during[0] and after == _counted(store) and after.endswith(":2:1")


def test_dense_search_asks_for_more_than_the_store_holds(tmp_path):
    store = Store(tmp_path / "db", "news", FakeEmbeddings())
    assert store.dense_search("river", 5) == []
    store.put_article(*_article(0))
    got = store.dense_search("river rose", 5)
    assert [c.id for c, _ in got] == ["a0-0"] and got[0][1] > 0.5
