"""Removing articles: ``Store.remove_articles``, ``rag.remove`` and ``newsrag remove``.

Real Chroma stores with the deterministic fake embedder; the BM25 index and dense search must
stop returning a removed article's chunks in this process and in another one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rag
import rag.embeddings
from conftest import FakeEmbeddings, retrieval_params
from ingest.pipeline import ingest_paths
from rag.retrieval import HybridRetriever
from rag.settings import load_settings
from rag.store import Store
from test_store_writers import helper, wait_for_line

HERE = Path(__file__).resolve().parent
SIZE, OVERLAP = 400, 1

HARBOUR = ("Harbour News\n\n" + " ".join(
    f"The harbour authority dredged berth {i} so that larger container ships can dock." for i in range(12)))
ORCHARD = ("Orchard News\n\n" + " ".join(
    f"Farmers in the valley picked apples from orchard row {i} before the frost." for i in range(12)))


@pytest.fixture(autouse=True)
def fake_embedder(monkeypatch):
    """Commands run in this process embed with the fake, like the stores built here."""
    fake = FakeEmbeddings()
    monkeypatch.setattr(rag.embeddings, "get_embeddings", lambda *a, **k: fake)
    return fake


@pytest.fixture
def store_dir(tmp_path) -> Path:
    """A store holding two articles, ``harbour`` and ``orchard``."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (tmp_path / "in" / "orchard.txt").write_text(ORCHARD, encoding="utf-8")
    path = tmp_path / "db"
    report = ingest_paths([tmp_path / "in"], _open(path), chunk_size=SIZE, chunk_overlap=OVERLAP, progress=False)
    assert report.added == 2
    return path


def _open(path: Path) -> Store:
    return Store.from_settings(load_settings(store=path), FakeEmbeddings())


def _retrieved_articles(retriever: HybridRetriever, query: str) -> set[str]:
    return {c.article_id for c in retriever.retrieve(query, 5).chunks}


def _retriever(path: Path) -> HybridRetriever:
    return HybridRetriever(_open(path), retrieval_params(), index_dir=path / "bm25" / "news")


def test_remove_deletes_the_record_and_every_chunk_and_changes_the_revision(store_dir):
    store = _open(store_dir)
    before = store.revision()
    n_chunks = len(store.chunk_ids_of("harbour"))
    assert n_chunks > 1
    removal = store.remove_articles(["harbour"])
    assert (removal.removed, removal.unknown, removal.chunks_removed) == (["harbour"], [], n_chunks)
    assert store.get_article("harbour") is None and store.chunk_ids_of("harbour") == []
    assert store.revision() != before
    assert [a.id for a in store.list_articles().articles] == ["orchard"]
    assert store.get_article("orchard") is not None and store.chunk_ids_of("orchard")


def test_remove_names_unknown_ids_and_still_removes_the_others(store_dir):
    store = _open(store_dir)
    removal = store.remove_articles(["nope", "orchard", "orchard"])
    assert (removal.removed, removal.unknown) == (["orchard"], ["nope"])
    assert removal.summary() == f"removed 1 article ({removal.chunks_removed} chunks)"
    nothing = store.remove_articles(["nope"])
    assert (nothing.removed, nothing.chunks_removed) == ([], 0)


def test_remove_deletes_the_chunks_of_an_article_whose_record_was_never_written(store_dir):
    store = _open(store_dir)
    store._articles.delete(ids=["harbour"])  # as an ingest interrupted between chunks and record leaves it
    assert store.remove_articles(["harbour"]).removed == ["harbour"]
    assert store.chunk_ids_of("harbour") == []


def test_bm25_and_dense_search_follow_a_removal_in_the_same_process(store_dir):
    retriever = _retriever(store_dir)
    assert "harbour" in _retrieved_articles(retriever, "harbour authority dredged berth container ships")
    removal = rag.remove(["harbour"], load_settings(store=store_dir))  # another Store object
    assert removal.removed == ["harbour"]
    assert all(c.article_id != "harbour" for c in retriever.lexical().chunks)
    assert "harbour" not in _retrieved_articles(retriever, "harbour authority dredged berth container ships")
    assert all(c.article_id != "harbour" for c, _ in retriever.store.dense_search("harbour berth", 10))


def test_a_removal_in_another_process_is_followed_here(store_dir):
    retriever = _retriever(store_dir)
    assert "harbour" in _retrieved_articles(retriever, "harbour authority dredged berth")
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    done = subprocess.run([sys.executable, "-m", "newsrag", "remove", "harbour", "--store", str(store_dir)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "removed 1 article" in done.stdout
    assert "harbour" not in _retrieved_articles(retriever, "harbour authority dredged berth")
    assert all(c.article_id != "harbour" for c, _ in retriever.store.dense_search("harbour berth", 10))


def test_another_process_follows_a_removal_made_here(store_dir):
    script = (
        "import sys; from conftest import FakeEmbeddings, retrieval_params; "
        "from rag.retrieval import HybridRetriever; from rag.settings import load_settings; "
        "from rag.store import Store; p = sys.argv[1]; "
        "s = Store.from_settings(load_settings(store=p), FakeEmbeddings()); "
        "r = HybridRetriever(s, retrieval_params(), index_dir=__import__('pathlib').Path(p) / 'bm25' / 'news'); "
        "print(sorted({c.article_id for c in r.retrieve('harbour authority dredged berth', 5).chunks}))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE)]))

    def other_process() -> str:
        done = subprocess.run([sys.executable, "-c", script, str(store_dir)], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "harbour" in other_process()  # and its BM25 index is saved beside the store
    _open(store_dir).remove_articles(["harbour"])
    assert "harbour" not in other_process()


# --- newsrag remove ------------------------------------------------------------------------------
def _invoke(*args: str):
    from newsrag.cli import app

    return CliRunner().invoke(app, ["remove", *args])


def test_cli_removes_and_says_what(store_dir):
    result = _invoke("harbour", "--store", str(store_dir))
    assert result.exit_code == 0, result.output
    assert "removed 1 article (" in result.output and "harbour" in result.output
    assert [a.id for a in _open(store_dir).list_articles().articles] == ["orchard"]


def test_cli_unknown_id_is_named_exit_1_and_the_others_are_removed(store_dir):
    result = _invoke("nope", "orchard", "--store", str(store_dir))
    assert result.exit_code == 1
    assert f"error: no article 'nope' in the store at {store_dir}; nothing removed for it" in result.output
    assert "removed 1 article (" in result.output and "1 unknown (named above)" in result.output
    assert "Traceback" not in result.output
    assert [a.id for a in _open(store_dir).list_articles().articles] == ["harbour"]


def test_cli_missing_store_is_one_error_line_and_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere"
    result = _invoke("harbour", "--store", str(missing))
    assert result.exit_code == 1
    assert f"error: no store at {missing}" in result.output
    assert not missing.exists()


def test_cli_bad_usage_exits_2():
    assert _invoke().exit_code == 2


def test_cli_no_wait_exits_1_while_another_writer_holds_the_store(store_dir):
    holder = helper("hold", str(store_dir))
    try:
        wait_for_line(holder, "holding")
        result = _invoke("harbour", "--store", str(store_dir), "--no-wait")
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert "another ingest is writing to the store" in result.output
    assert _open(store_dir).get_article("harbour") is not None
