"""``newsrag ingest --workers N``: processes that embed and write side by side to a Chroma server."""

from __future__ import annotations

import random

import pytest
from typer.testing import CliRunner

from newsrag.cli import app
from rag.settings import load_settings
from rag.store import Store
from test_store_server import chroma_server  # noqa: F401  (the real `chroma run` fixture)

WORDS = ("harbour port ship crane storm council minister budget river bridge school teacher farm "
         "harvest train station museum painting court judge election vote market price factory worker "
         "hospital doctor forest fire coast island airport flight festival music").split()


def _articles(folder, n: int) -> None:
    """``n`` articles of different sentences (no two near-duplicates), four to seven chunks each."""
    rng = random.Random(14)
    folder.mkdir()
    for i in range(n):
        sentences = [" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + f" ({i}.{j})."
                     for j in range(rng.randint(20, 35))]
        (folder / f"story{i:02d}.txt").write_text(f"Story {i}\n\n" + " ".join(sentences), encoding="utf-8")


def _ids(store: Store) -> set[str]:
    return {c.id for c in store.all_chunks()}


def test_workers_need_a_chroma_server(tmp_path):
    (tmp_path / "a.txt").write_text("Title\n\nThe harbour froze.", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "a.txt"), "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers writes from several processes to a Chroma server: set NEWSRAG_CHROMA_HOST" in result.output
    assert not (tmp_path / "store").exists()


@pytest.mark.slow
def test_two_workers_store_what_one_does_and_a_rerun_embeds_nothing(chroma_server, tmp_path, monkeypatch):  # noqa: F811
    _articles(tmp_path / "news", 24)
    monkeypatch.setenv("NEWSRAG_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("NEWSRAG_CHROMA_PORT", str(chroma_server))
    runner = CliRunner()
    monkeypatch.setenv("NEWSRAG_COLLECTION", "two")
    two = runner.invoke(app, ["ingest", str(tmp_path / "news"), "--workers", "2", "-q"])
    assert two.exit_code == 0, two.output
    assert "24 added" in two.output
    again = runner.invoke(app, ["ingest", str(tmp_path / "news"), "--workers", "2", "-q"])
    assert "24 unchanged" in again.output and "(0 embedded)" in again.output
    monkeypatch.setenv("NEWSRAG_COLLECTION", "one")
    one = runner.invoke(app, ["ingest", str(tmp_path / "news"), "-q"])
    assert one.exit_code == 0, one.output

    parallel = Store.from_settings(load_settings(collection="two"))
    single = Store.from_settings(load_settings(collection="one"))
    assert _ids(parallel) == _ids(single) and len(_ids(single)) > 24 * 4
    assert parallel.stats()["articles"] == single.stats()["articles"] == 24
    for chunk in single.all_chunks()[:: len(_ids(single)) // 5]:
        (hit, score), *_ = parallel.dense_search(chunk.text, k=1)
        assert hit.id == chunk.id and score > 0.99
