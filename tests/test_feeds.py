"""Feeds as files (no network): RSS and Atom entries become articles, bad feeds are one line, the
record of feeds makes a second run read nothing again, a changed entry replaces its article."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import FakeEmbeddings
from feed_server import ingest_commands
from ingest.feeds import (
    BOOK_NAME, FeedBook, FeedRecord, article_id_for, ingest_sources, is_feed, load_book, parse_feed, read_feed, save_book,
)
from ingest.fetch import FetchOptions
from rag.store import Store

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
SEED_DIR = Path(__file__).resolve().parents[1] / "seeds"
OPTIONS = FetchOptions(timeout=2.0)


def _store(tmp_path, emb=None):
    return Store(tmp_path / "db", "news", emb or FakeEmbeddings())


def _ingest(args, store, **kw):
    return ingest_sources([str(a) for a in args], store, chunk_size=400, chunk_overlap=1, fetch_options=OPTIONS,
                          progress=False, **kw)


def _copy(name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(FEEDS / name, folder / name))


def test_rss_entries_become_articles_with_their_metadata():
    read = read_feed(str(FEEDS / "news.rss"), None, OPTIONS)
    assert read.error is None and read.problems == [] and read.title == "Harbour Gazette"
    ferry, market = (e.article for e in read.entries)
    assert ferry.title == "Ferry service resumes after storm"
    assert ferry.url == "https://gazette.example/2024/03/ferry-service-resumes.html"
    assert (ferry.published, ferry.authors, ferry.source) == ("2024-03-12", ["Mara Lind"], "Harbour Gazette")
    assert ferry.id.startswith("ferry-service-resumes-") and not ferry.id_from_path
    # the content, not the summary, and its markup gone; paragraphs kept apart
    assert ferry.text.startswith("The island ferry resumed its morning crossings")
    assert "harbour master Olof Berg said" in ferry.text and "<p>" not in ferry.text and "\n" in ferry.text
    assert "councillor Ines Holm said" in market.text  # content:encoded preferred to the shorter description


def test_atom_entries_take_every_author_and_plain_text_content():
    read = read_feed(str(FEEDS / "news.atom"), None, OPTIONS)
    bridge, choir = (e.article for e in read.entries)
    assert bridge.authors == ["Tomas Ek", "Sara Nyberg"] and bridge.published == "2024-05-01"
    assert bridge.text.startswith("Repairs to the old stone bridge") and "&lt;" not in bridge.text
    assert choir.published == "2024-04-28"  # only <updated>: used as the date
    assert choir.text.startswith("The school choir won first prize") and choir.source == "Valley Observer"


def test_malformed_and_non_feeds_are_refused_with_a_reason():
    with pytest.raises(ValueError, match=r"malformed feed \(line 2, column \d+"):
        parse_feed((FEEDS / "malformed.rss").read_bytes())
    with pytest.raises(ValueError, match="not an RSS or Atom feed"):
        parse_feed((FEEDS / "not_a_feed.xml").read_bytes())
    parsed, warning = parse_feed((FEEDS / "truncated.rss").read_bytes())
    assert [e.title for e in parsed.entries] == ["Lighthouse keeper retires"]
    assert warning.startswith("the feed is not well-formed (line 11") and warning.endswith("read 1 entry")


def test_entry_without_link_uses_its_summary_and_unreachable_page_is_one_problem():
    read = read_feed(str(FEEDS / "summary_only.rss"), None, OPTIONS)
    [note] = [e.article for e in read.entries]
    assert note.text.startswith("The library extends its opening hours") and note.url is None
    [problem] = read.problems
    assert problem.path == "http://127.0.0.1:9/unreachable/story.html" and problem.fatal
    assert problem.reason == "connection refused; entry skipped"


def test_ids_are_stable_readable_and_distinct():
    a = article_id_for("https://x.example/a/talks-resume.html", "https://x.example/a/talks-resume.html", "T")
    assert a == article_id_for("https://x.example/a/talks-resume.html", "https://x.example/a/talks-resume.html", "T")
    assert a.startswith("talks-resume-") and len(a) == len("talks-resume-") + 10
    b = article_id_for("https://y.example/b/talks-resume.html", "https://y.example/b/talks-resume.html", "T")
    assert a != b
    assert article_id_for("urn:1", None, "Ünïcode title! here").startswith("n-code-title-here-")


def test_is_feed():
    assert is_feed("https://x.example/feed") and is_feed("HTTP://x") and is_feed("a/b.rss") and is_feed("c.ATOM")
    assert is_feed("d.xml") and not is_feed("seeds/") and not is_feed("a.html") and not is_feed("feed.jsonl")


def test_feeds_and_files_go_in_together_and_a_second_run_reads_nothing_again(tmp_path):
    emb = FakeEmbeddings()
    store = _store(tmp_path, emb)
    feeds = [_copy("news.rss", tmp_path / "f"), _copy("news.atom", tmp_path / "f")]
    first = _ingest([*feeds, SEED_DIR], store)
    assert (first.report.added, first.report.failed) == (5, [])
    assert store.get_article("000_d8ed5a87b2fc358e") is not None
    book = load_book(store.path)
    assert {r.title: len(r.entries) for r in book.feeds.values()} == {"Harbour Gazette": 2, "Valley Observer": 2}
    assert all(r.updated and r.checked and r.error is None for r in book.feeds.values())
    calls = emb.calls
    second = _ingest([*feeds, SEED_DIR], store)
    assert (second.report.added, second.report.updated, second.report.unchanged) == (0, 0, 5)
    assert all(r.not_modified for r in second.reads) and emb.calls == calls
    assert load_book(store.path).feeds[str(feeds[0])].updated == book.feeds[str(feeds[0])].updated


def test_changed_entry_replaces_its_article_and_the_others_are_not_read_again(tmp_path):
    store = _store(tmp_path)
    feed = _copy("news.rss", tmp_path / "f")
    _ingest([feed], store)
    ferry_id = next(e.id for e in load_book(store.path).feeds[str(feed)].entries.values() if e.id.startswith("ferry"))
    feed.write_text(feed.read_text().replace("queued from six o'clock", "queued from five o'clock"))
    run = _ingest([feed], store)
    assert (run.report.added, run.report.updated, run.report.unchanged) == (0, 1, 1)
    assert [e.article.id for e in run.reads[0].entries] == [ferry_id]  # only the changed entry was read
    assert "five o'clock" in store.get_article(ferry_id).text
    texts = [c.text for c in store.all_chunks() if c.article_id == ferry_id]
    assert any("five o'clock" in t for t in texts) and not any("six o'clock" in t for t in texts)


def test_a_bad_feed_is_one_problem_and_the_rest_go_in(tmp_path):
    store = _store(tmp_path)
    lines = []
    run = _ingest([FEEDS / "malformed.rss", tmp_path / "missing.rss", FEEDS / "news.atom"], store,
                  on_event=lambda e: lines.append(e.message) if e.kind == "problem" else None)
    assert run.report.added == 2 and len(run.report.failed) == 2
    assert lines == [
        f"error: {FEEDS / 'malformed.rss'}: malformed feed (line 2, column 43: not well-formed (invalid token))",
        f"error: {tmp_path / 'missing.rss'}: cannot read the feed: no such file",
    ]
    book = load_book(store.path)
    assert book.feeds[str(tmp_path / "missing.rss")].error == "cannot read the feed: no such file"
    assert book.feeds[str(FEEDS / "malformed.rss")].entries == {}


def test_book_is_written_atomically_and_a_corrupt_one_reads_as_empty(tmp_path):
    book = FeedBook(feeds={"x": FeedRecord(location="x", title="X")})
    save_book(tmp_path, book)
    assert load_book(tmp_path) == book
    assert sorted(p.name for p in tmp_path.iterdir()) == [BOOK_NAME]  # no temporary file left
    (tmp_path / BOOK_NAME).write_text("{not json")
    assert load_book(tmp_path) == FeedBook()


@pytest.fixture
def cli(monkeypatch):
    return ingest_commands(monkeypatch)


def test_cli_ingest_feeds_says_each_feed_and_exits_1_when_one_failed(cli, isolated_store):
    ok = cli("ingest", "--quiet", FEEDS / "news.rss")
    assert ok.exit_code == 0, ok.output
    assert f"feed Harbour Gazette ({FEEDS / 'news.rss'}): 2 entries read, 0 unchanged" in ok.stdout
    assert "articles: 2 added" in ok.stdout
    again = cli("ingest", "--quiet", FEEDS / "news.rss", FEEDS / "not_a_feed.xml")
    assert again.exit_code == 1
    assert "not modified since the last read, 2 entries unchanged" in again.stdout
    assert f"error: {FEEDS / 'not_a_feed.xml'}: not an RSS or Atom feed" in again.stderr
    assert "Traceback" not in again.output
    assert json.loads((isolated_store / BOOK_NAME).read_text())["feeds"]
