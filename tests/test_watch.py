"""``newsrag watch``: intervals, rounds one at a time, a clean stop on Ctrl-C (in the loop, in the
middle of a write, and of the real command), one watch per store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import FakeEmbeddings
from feed_server import FeedServer, ingest_commands, summary_feed
from ingest.feeds import FeedRun, ingest_sources, load_book
from ingest.fetch import FetchOptions
from ingest.report import IngestReport
from ingest.watch import Round, WatchBusy, parse_every, round_line, stop_on_signals, watch, watch_lock
from rag.errors import StoreError
from rag.store import Store

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"


@pytest.mark.parametrize("text, seconds", [("15m", 900), ("30s", 30), ("1h30m", 5400), (" 2h ", 7200), ("0.5s", 0.5)])
def test_parse_every(text, seconds):
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "15x", "m", "0s", "1h-5m"])
def test_parse_every_refuses(text):
    with pytest.raises(ValueError, match="--every"):
        parse_every(text)


def test_rounds_never_overlap_and_a_long_round_delays_the_next():
    spans: list[tuple[float, float]] = []
    running = threading.Lock()

    def slow_round() -> FeedRun:
        assert running.acquire(blocking=False), "two rounds at once"
        start = time.monotonic()
        time.sleep(0.15)  # longer than the interval
        spans.append((start, time.monotonic()))
        running.release()
        return FeedRun(report=IngestReport())

    nexts = []
    n = watch(slow_round, 0.05, stop=threading.Event(), on_round=lambda r, nxt: nexts.append(nxt), rounds=3)
    assert n == 3 and len(spans) == 3 and nexts[-1] is None
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:]))


def test_rounds_wait_for_the_interval_and_a_stop_ends_the_wait():
    stop = threading.Event()
    starts: list[float] = []

    def quick_round() -> FeedRun:
        starts.append(time.monotonic())
        if len(starts) == 2:
            threading.Timer(0.05, stop.set).start()  # Ctrl-C during the wait that follows
        return FeedRun(report=IngestReport())

    began = time.monotonic()
    n = watch(quick_round, 0.3, stop=stop, on_round=lambda r, nxt: None)
    assert n == 2 and starts[1] - starts[0] >= 0.29
    assert time.monotonic() - began < 5  # the stop ended the wait for a third round (due at 0.6 s)


def test_a_failing_round_is_a_line_and_the_watch_goes_on():
    rounds: list[Round] = []

    def broken() -> FeedRun:
        raise StoreError("cannot open the Chroma store at x: disk full")

    watch(broken, 0.01, stop=threading.Event(), on_round=lambda r, nxt: rounds.append(r), rounds=2)
    assert [r.error for r in rounds] == ["cannot open the Chroma store at x: disk full"] * 2
    assert round_line(rounds[0], None).startswith("round 1 at ") and ": failed: cannot open" in round_line(rounds[0], None)


def test_ctrl_c_stops_after_the_round_and_restores_the_handler():
    stop = threading.Event()
    said = []
    before = signal.getsignal(signal.SIGINT)

    def round_with_ctrl_c() -> FeedRun:
        os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the round
        time.sleep(0.05)
        return FeedRun(report=IngestReport(added=1))

    rounds: list[Round] = []
    with stop_on_signals(stop, lambda: said.append("stopping")):
        n = watch(round_with_ctrl_c, 0.01, stop=stop, on_round=lambda r, nxt: rounds.append(r))
    assert n == 1 and said == ["stopping"] and rounds[0].stopped and rounds[0].run.report.added == 1
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_ctrl_c_quits_at_once_with_one_line(monkeypatch, cli, isolated_store):
    import ingest.watch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest.watch, "watch", interrupted)
    result = cli(FEEDS / "news.rss")
    assert result.exit_code == 130 and result.stderr.splitlines()[-1].startswith("interrupted: the round in progress")
    assert "Traceback" not in result.output


def test_stop_while_writing_writes_what_was_taken_whole_and_the_next_round_takes_the_rest(tmp_path):
    store = Store(tmp_path / "db", "news", FakeEmbeddings())
    stop = threading.Event()

    def on_event(event):
        if event.kind == "article":
            stop.set()  # Ctrl-C once the first article is handled

    with FeedServer() as server:
        url = server.url(summary_feed(server, 30))
        first = ingest_sources([url], store, chunk_size=400, chunk_overlap=1, fetch_options=FetchOptions(timeout=2),
                               progress=False, on_event=on_event, prefetch=True, stop=stop, batch_chunks=8)
        stored = {a.id for a in store.list_articles().articles}
        recorded = {e.id for e in load_book(store.path).feeds[url].entries.values()}
        assert 0 < first.report.added < 30 and stored == recorded and len(stored) == first.report.added
        for aid in stored:  # each article whole: every chunk of its text is in
            assert "".join(c.text for c in store.all_chunks() if c.article_id == aid)
        second = ingest_sources([url], store, chunk_size=400, chunk_overlap=1, fetch_options=FetchOptions(timeout=2),
                                progress=False, prefetch=True, stop=threading.Event())
    assert (second.report.added, second.report.unchanged) == (30 - first.report.added, first.report.added)


def test_stop_while_reading_writes_nothing(tmp_path):
    store = Store(tmp_path / "db", "news", FakeEmbeddings())
    stop = threading.Event()
    stop.set()
    run = ingest_sources([str(FEEDS / "news.rss")], store, chunk_size=400, chunk_overlap=1,
                         fetch_options=FetchOptions(), progress=False, prefetch=True, stop=stop)
    assert run.abandoned and store.list_articles().total == 0
    assert round_line(Round(1, time.time(), 0.1, run=run), None).endswith("stopped while reading the feeds; nothing written; 0.1 s")


def test_one_watch_per_store(tmp_path):
    with watch_lock(tmp_path):
        with pytest.raises(WatchBusy, match="another newsrag watch is already keeping feeds current"):
            with watch_lock(tmp_path):
                pass
    with watch_lock(tmp_path):  # released: a new watch may start
        pass


@pytest.fixture
def cli(monkeypatch):
    return ingest_commands(monkeypatch, "watch")


def test_cli_watch_rounds(cli, isolated_store):
    result = cli(FEEDS / "news.rss", FEEDS / "news.atom", "--every", "0.1s", "--rounds", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert ": 4 new, 0 changed, 0 unchanged, 0 failed; " in lines[0] and "; next at " in lines[0]
    assert ": 0 new, 0 changed, 4 unchanged, 0 failed; 0 chunks added; " in lines[1] and "next at" not in lines[1]
    assert "stopped after 2 rounds" in result.stderr


def test_cli_watch_bad_usage_and_busy_store(cli, isolated_store):
    assert cli(FEEDS / "news.rss", "--every", "soon").exit_code == 2
    not_feed = cli("seeds/", "--every", "1m")
    assert not_feed.exit_code == 2 and "'seeds/' is not a feed" in not_feed.stderr
    with watch_lock(isolated_store):
        busy = cli(FEEDS / "news.rss", "--rounds", "1")
    assert busy.exit_code == 1 and busy.stderr.startswith("error: another newsrag watch")
    assert "Traceback" not in busy.output


@pytest.mark.slow
def test_watch_command_keeps_a_feed_current_and_stops_on_ctrl_c(tmp_path):
    """The real command: real embedder and Chroma store, a feed served over HTTP, Ctrl-C."""
    store = tmp_path / "store"
    with FeedServer() as server:
        url = server.url(summary_feed(server, 12))
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsrag", "watch", url, "--every", "1s", "--store", str(store)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            lines = [proc.stdout.readline(), proc.stdout.readline()]  # two rounds
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        requested = server.paths_requested()
    assert proc.returncode == 0, err
    assert ": 12 new, 0 changed, 0 unchanged, 0 failed; " in lines[0]
    assert ": 0 new, 0 changed, 12 unchanged, 0 failed; 0 chunks added" in lines[1]
    assert "stopping after the current write" in err and "stopped after" in err and "Traceback" not in err
    assert requested.count("/wire.rss") >= 2 and len(requested) - requested.count("/wire.rss") == 12
    from rag.settings import Settings

    opened = Store.from_settings(Settings(store=store))
    assert opened.list_articles().total == 12
    assert len(load_book(store).feeds[url].entries) == 12
