"""The store records which embedder made its vectors, refuses another one, and re-embeds."""

from __future__ import annotations

import pytest
from conftest import FakeEmbeddings
from typer.testing import CliRunner

from rag.store import REPLACED_SUFFIX, EmbedderMismatch, Store
from rag.types import Article, Chunk, content_hash


class Named(FakeEmbeddings):
    """A fake embedder with a name, as the project's own embedders have."""

    def __init__(self, name: str, dim: int = 64) -> None:
        super().__init__(dim)
        self.name = name


class FailsAfter(Named):
    """Embeds ``ok`` texts, then fails: a re-embed interrupted part-way."""

    def __init__(self, name: str, ok: int, dim: int = 64) -> None:
        super().__init__(name, dim)
        self.ok = ok

    def embed_documents(self, texts):
        if self.calls + len(texts) > self.ok:
            raise KeyboardInterrupt
        return super().embed_documents(texts)


def _article(i: int) -> tuple[Article, list[Chunk]]:
    text = f"Harbour {i} froze on Tuesday, the port authority of town {i} said. Ships waited outside."
    art = Article(id=f"a{i}", title=f"Harbour {i}", text=text)
    chunk = Chunk(id=content_hash(f"a{i}:{text}"), article_id=art.id, text=text, start=0, end=len(text), position=0)
    return art, [chunk]


def _fill(store: Store, n: int = 6) -> None:
    for i in range(n):
        art, chunks = _article(i)
        store.put_article(art, chunks)


def _vectors(store: Store) -> dict[str, list[float]]:
    ids = [c.id for c in store.all_chunks()]
    return store.existing_vectors(ids)


def test_first_write_records_the_embedder_and_dimension(tmp_path):
    store = Store(tmp_path / "db", "news", Named("minilm-int8", dim=32))
    assert store.embedder_record() == {}
    _fill(store, 1)
    assert store.embedder_record() == {"embedder": "minilm-int8", "dimension": 32}
    reopened = Store(tmp_path / "db", "news", Named("minilm-int8", dim=32))
    assert reopened.embedder_record()["dimension"] == 32


def test_another_embedder_is_refused_naming_both_and_the_command(tmp_path):
    _fill(Store(tmp_path / "db", "news", Named("minilm-int8")), 1)
    with pytest.raises(EmbedderMismatch) as err:
        Store(tmp_path / "db", "news", Named("openai:bge"))
    message = str(err.value)
    assert "minilm-int8, 64-d" in message and "openai:bge" in message
    assert f"newsrag reembed --store {tmp_path / 'db'}" in message
    assert "\n" not in message


def test_an_unnamed_embedder_is_not_refused_but_its_dimension_is_checked(tmp_path):
    _fill(Store(tmp_path / "db", "news", Named("minilm-int8", dim=64)), 1)
    same_dim = Store(tmp_path / "db", "news", FakeEmbeddings(dim=64))
    same_dim.put_article(*_article(7))
    other_dim = Store(tmp_path / "db", "news", FakeEmbeddings(dim=16))
    with pytest.raises(EmbedderMismatch, match="vectors of minilm-int8, 64-d, not of an unnamed embedder, 16-d"):
        other_dim.put_article(*_article(8))
    assert other_dim.get_article("a8") is None  # nothing written


def test_a_store_from_before_the_record_is_checked_by_its_vectors(tmp_path):
    _fill(Store(tmp_path / "db", "news", FakeEmbeddings(dim=64)), 1)  # no name: nothing recorded
    store = Store(tmp_path / "db", "news", Named("openai:bge", dim=16))
    with pytest.raises(EmbedderMismatch, match="vectors of an unnamed embedder, 64-d, not of openai:bge, 16-d"):
        store.put_article(*_article(3))
    assert store.stats()["articles"] == 1


def test_reembed_keeps_articles_and_ids_and_the_store_opens_with_the_new_embedder(tmp_path):
    old = Store(tmp_path / "db", "news", Named("minilm-int8", dim=64))
    _fill(old, 6)
    before_ids = sorted(_vectors(old))
    articles_before = old.stats()["articles"]
    store = Store(tmp_path / "db", "news", Named("openai:bge", dim=16), check_embedder=False)
    seen = []
    done = store.reembed(on_progress=lambda d, t: seen.append((d, t)), batch=4)
    assert (done.chunks, done.embedded, done.dimension) == (6, 6, 16)
    assert seen[-1] == (6, 6)
    reopened = Store(tmp_path / "db", "news", Named("openai:bge", dim=16))
    vectors = _vectors(reopened)
    assert sorted(vectors) == before_ids and {len(v) for v in vectors.values()} == {16}
    assert reopened.stats()["articles"] == articles_before
    assert reopened.embedder_record() == {"embedder": "openai:bge", "dimension": 16}
    chunk = next(c for c in reopened.all_chunks() if c.article_id == "a3")
    assert vectors[chunk.id] == pytest.approx(Named("x", dim=16).embed_query(chunk.text))
    (_, score), *_ = reopened.dense_search(chunk.text, k=1)
    assert score == pytest.approx(1.0)  # the query vector is among the new ones (the index was rebuilt)
    with pytest.raises(EmbedderMismatch):
        Store(tmp_path / "db", "news", Named("minilm-int8"))


def test_an_interrupted_reembed_loses_nothing_and_the_next_run_resumes(tmp_path):
    _fill(Store(tmp_path / "db", "news", Named("minilm-int8", dim=64)), 6)
    failing = FailsAfter("openai:bge", ok=4, dim=16)
    with pytest.raises(KeyboardInterrupt):
        Store(tmp_path / "db", "news", failing, check_embedder=False).reembed(batch=2)
    as_it_was = Store(tmp_path / "db", "news", Named("minilm-int8", dim=64))  # still the old embedder's
    assert len(_vectors(as_it_was)) == 6 and as_it_was.stats()["articles"] == 6
    again = Named("openai:bge", dim=16)
    done = Store(tmp_path / "db", "news", again, check_embedder=False).reembed(batch=2)
    assert (done.chunks, done.embedded) == (6, 2) and again.calls == 2
    assert "done by an earlier, interrupted run" in done.summary()
    assert len(_vectors(Store(tmp_path / "db", "news", again))) == 6


def test_a_swap_cut_short_is_undone_on_open(tmp_path):
    store = Store(tmp_path / "db", "news", Named("minilm-int8"))
    _fill(store, 2)
    store._chunks.modify(name="news" + REPLACED_SUFFIX)  # stopped between the two renames
    reopened = Store(tmp_path / "db", "news", Named("minilm-int8"))
    assert len(_vectors(reopened)) == 2
    assert "news" + REPLACED_SUFFIX not in reopened._collection_names()


def test_reembed_command(tmp_path, monkeypatch):
    from newsrag.cli import app

    _fill(Store(tmp_path / "store", "news", FakeEmbeddings()), 3)
    import rag.embeddings

    monkeypatch.setattr(rag.embeddings, "embeddings_from_settings", lambda settings: Named("minilm", dim=8))
    result = CliRunner().invoke(app, ["reembed", "-q"])
    assert result.exit_code == 0, result.output
    assert "re-embedded 3 chunks with minilm (8-d)" in result.output
    assert Store(tmp_path / "store", "news", Named("minilm", dim=8)).embedder_record()["dimension"] == 8
    missing = CliRunner().invoke(app, ["reembed", "--store", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "no store at" in missing.output
