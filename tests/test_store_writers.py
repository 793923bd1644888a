"""One writer at a time, and no silent replacement: the store's write lock and article-id clashes.

Real Chroma stores and real processes (``tests/writer_helper.py`` writes to or holds a store
from another process); the embedder is the deterministic fake.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rag.embeddings
from conftest import FakeEmbeddings
from ingest.pipeline import id_from_path, ingest_paths
from rag.errors import StoreBusy
from rag.store import LOCK_NAME, Store
from rag.types import Article, Chunk

HERE = Path(__file__).resolve().parent
HELPER = HERE / "writer_helper.py"


@pytest.fixture(autouse=True)
def fake_embedder(monkeypatch):
    """Commands run in this process embed with the fake, like the stores built here."""
    fake = FakeEmbeddings()
    monkeypatch.setattr(rag.embeddings, "get_embeddings", lambda *a, **k: fake)
    return fake


def article(aid: str, words: str) -> tuple[Article, list[Chunk]]:
    text = f"{words} first sentence here. {words} second sentence here."
    a = Article(id=aid, title=aid, text=text)
    half = text.index(" ", len(text) // 2)
    return a, [Chunk.of_span(a, 0, half, id=f"{aid}-0", position=0),
               Chunk.of_span(a, half + 1, len(text), id=f"{aid}-1", position=1)]


def helper(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE)]))
    return subprocess.Popen([sys.executable, str(HELPER), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"helper never printed {text!r}")


def test_a_reader_sees_what_another_process_wrote(tmp_path):
    """A store opened before another process wrote finds the new chunks by dense search
    (Chroma's in-memory index of the reader is reopened when the store's revision moved)."""
    path = tmp_path / "store"
    reader = Store(path, "news", FakeEmbeddings())
    reader.put_article(*article("first", "alpha"))
    proc = helper("write", str(path), "second", "zebra quokka")
    assert proc.wait(timeout=120) == 0, proc.stdout.read()
    hits = reader.dense_search("zebra quokka", 5)
    assert "second" in {c.article_id for c, _ in hits}
    assert len(reader.dense_search("anything", 10)) == 4


def test_a_second_writer_without_wait_is_refused_and_with_wait_goes_on_after(tmp_path):
    path = tmp_path / "store"
    store = Store(path, "news", FakeEmbeddings())
    holder = helper("hold", str(path))
    try:
        wait_for_line(holder, "holding")
        with pytest.raises(StoreBusy, match="another ingest is writing"):
            with store.writing(wait=False):
                pass
        messages: list[str] = []
        started = time.time()
        holder_stdin_closed = False

        def release_later(message: str) -> None:
            nonlocal holder_stdin_closed
            messages.append(message)
            holder.terminate()  # the holder dies; the operating system frees its lock
            holder_stdin_closed = True

        with store.writing(on_wait=release_later):
            store.put_article(*article("after", "beta"))
        assert holder_stdin_closed and messages and "waiting for another ingest" in messages[0]
        assert time.time() - started < 60
    finally:
        holder.kill()
        holder.wait()
    assert store.article_hash("after") is not None


def test_threads_of_one_process_write_one_at_a_time(tmp_path):
    import threading

    store = Store(tmp_path / "store", "news", FakeEmbeddings())
    inside: list[int] = []
    overlap: list[bool] = []

    def write(i: int) -> None:
        with store.writing():
            inside.append(i)
            overlap.append(len(inside) > 1)
            store.put_article(*article(f"t{i}", f"word{i}"))
            time.sleep(0.05)
            inside.remove(i)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert overlap == [False] * 4
    assert store.stats()["articles"] == 4


def test_ingest_cli_no_wait_exits_1_while_another_writer_holds_the_store(tmp_path):
    from newsrag.cli import app

    store = tmp_path / "store"
    Store(store, "news", FakeEmbeddings())  # create it
    (tmp_path / "a.txt").write_text("Title\n\nSome text about a harbour.", encoding="utf-8")
    holder = helper("hold", str(store))
    try:
        wait_for_line(holder, "holding")
        result = CliRunner().invoke(
            app, ["ingest", str(tmp_path / "a.txt"), "--store", str(store), "--no-wait", "-q"],
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert "another ingest is writing to the store" in result.output
    assert "Traceback" not in result.output


# --- the same file name in another folder ----------------------------------------------------


def _two_news_files(root: Path, first: str = "Harbour\n\nThe harbour opens on Monday.",
                    second: str = "Airport\n\nThe airport closes on Friday.") -> tuple[Path, Path]:
    (root / "a").mkdir()
    (root / "b").mkdir()
    (root / "a" / "news.txt").write_text(first, encoding="utf-8")
    (root / "b" / "news.txt").write_text(second, encoding="utf-8")
    return root / "a" / "news.txt", root / "b" / "news.txt"


def test_a_file_with_the_same_name_elsewhere_is_a_clash_not_a_replacement(tmp_path):
    a, b = _two_news_files(tmp_path)
    store = Store(tmp_path / "store", "news", FakeEmbeddings())
    first = ingest_paths([a], store, chunk_size=600, chunk_overlap=1, progress=False)
    assert first.added == 1
    second = ingest_paths([b], store, chunk_size=600, chunk_overlap=1, progress=False)
    assert (second.added, second.updated) == (0, 0)
    assert len(second.failed) == 1
    where, reason = second.failed[0]
    assert where == str(b)
    assert "article id 'news' is already used by" in reason and str(a.resolve()) in reason
    assert "--ids-from-path" in reason and "id" in reason
    assert "harbour opens" in store.get_article("news").text  # nothing replaced


def test_the_same_file_edited_is_an_update(tmp_path):
    a, _ = _two_news_files(tmp_path)
    store = Store(tmp_path / "store", "news", FakeEmbeddings())
    ingest_paths([a], store, chunk_size=600, chunk_overlap=1, progress=False)
    a.write_text("Harbour\n\nThe harbour opens on Tuesday instead.", encoding="utf-8")
    again = ingest_paths([tmp_path / "a" / ".." / "a" / "news.txt"], store, chunk_size=600,
                         chunk_overlap=1, progress=False)
    assert (again.updated, again.failed) == (1, [])
    assert "Tuesday" in store.get_article("news").text


def test_ids_of_their_own_update_whatever_the_file(tmp_path):
    a, b = _two_news_files(tmp_path, "---\nid: harbour-1\n---\nHarbour\n\nOpens on Monday.",
                           "---\nid: harbour-1\n---\nHarbour\n\nOpens on Tuesday.")
    store = Store(tmp_path / "store", "news", FakeEmbeddings())
    ingest_paths([a], store, chunk_size=600, chunk_overlap=1, progress=False)
    again = ingest_paths([b], store, chunk_size=600, chunk_overlap=1, progress=False)
    assert (again.updated, again.failed) == (1, [])


def test_ids_from_path_keep_both_articles(tmp_path):
    from newsrag.cli import app

    a, b = _two_news_files(tmp_path)
    runner = CliRunner()
    env = {"NEWSRAG_STORE": str(tmp_path / "store")}
    assert runner.invoke(app, ["ingest", "a/news.txt", "-q", "--ids-from-path"], env=env).exit_code == 0
    result = runner.invoke(app, ["ingest", "b/news.txt", "-q", "--ids-from-path"], env=env)
    assert result.exit_code == 0, result.output
    store = Store(tmp_path / "store", "news", FakeEmbeddings())
    assert "harbour" in store.get_article("a/news").text
    assert "airport" in store.get_article("b/news").text


def test_cli_clash_exits_1_and_names_the_fix(tmp_path):
    from newsrag.cli import app

    _two_news_files(tmp_path)
    runner = CliRunner()
    env = {"NEWSRAG_STORE": str(tmp_path / "store")}
    assert runner.invoke(app, ["ingest", "a/news.txt", "-q"], env=env).exit_code == 0
    result = runner.invoke(app, ["ingest", "b/news.txt", "-q"], env=env)
    assert result.exit_code == 1
    assert "already used by" in result.output and "--ids-from-path" in result.output
    assert "0 added, 0 updated" in result.output


def test_id_from_path_keeps_a_jsonl_line_suffix(tmp_path):
    assert id_from_path("b/feed.jsonl", "feed-3") == "b/feed-3"
    assert id_from_path("a/news.txt", "news") == "a/news"
    outside = id_from_path("/elsewhere/x/news.txt", "news")
    assert outside == "elsewhere/x/news"


def test_ask_with_a_missing_store_does_not_create_it(tmp_path):
    from newsrag.cli import app

    typo = tmp_path / "no-such-store"
    result = CliRunner().invoke(app, ["ask", "What happened?", "--store", str(typo), "--llm", "extractive"])
    assert result.exit_code == 1
    assert "no store at" in result.output
    assert not typo.exists()


def test_the_lock_file_lives_in_the_store(tmp_path):
    store = Store(tmp_path / "store", "news", FakeEmbeddings())
    store.put_article(*article("x", "gamma"))
    assert (tmp_path / "store" / LOCK_NAME).exists()


def test_two_processes_creating_one_store_at_once_both_succeed(tmp_path):
    """Creating a store writes its tables; unlocked, the second process failed with
    'table collections already exists'."""
    for round_ in range(3):
        path = tmp_path / f"new-{round_}"
        procs = [helper("write", str(path), f"p{i}", f"word{i} other{i}") for i in range(2)]
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        store = Store(path, "news", FakeEmbeddings())
        assert store.stats()["articles"] == 2


def test_a_chat_upload_waits_for_a_command_line_ingest_and_says_so(tmp_path):
    from rag.settings import load_settings
    from ui.backend import ChatBackend

    path = tmp_path / "store"
    Store(path, "news", FakeEmbeddings())
    doc = tmp_path / "up.txt"
    doc.write_text("Upload\n\nThe upload arrived while another ingest ran.", encoding="utf-8")
    backend = ChatBackend(load_settings(store=path))
    holder = helper("hold", str(path))
    events = []

    def on_event(event) -> None:
        events.append(event)
        if event.kind == "waiting":
            holder.kill()  # the command-line ingest finishes; its lock goes with it

    try:
        wait_for_line(holder, "holding")
        report = backend.ingest([doc], on_event=on_event)
    finally:
        holder.kill()
        holder.wait()
    assert events[0].kind == "waiting" and "waiting for another ingest" in events[0].message
    assert report.added == 1 and backend.store.article_hash("up") is not None
