"""Feeds over HTTP from a real server on 127.0.0.1: summary-only entries read from their pages,
a second run that fetches nothing, slow, missing, redirected and malformed feeds and pages, and a
feed whose entries change between two runs."""

from __future__ import annotations

import pytest

from conftest import FakeEmbeddings
from feed_server import FeedServer, Item, Route, article_page, made_up_text, rss, summary_feed
from ingest.feeds import ingest_sources, load_book
from ingest.fetch import FetchError, FetchOptions, fetch
from rag.store import Store

pytestmark = pytest.mark.slow  # a real local server (the embedder is the fake: seconds)

TIMEOUT = 0.5


def _run(urls, store, lines=None, **kw):
    return ingest_sources(
        urls, store, chunk_size=400, chunk_overlap=1, fetch_options=FetchOptions(timeout=TIMEOUT), progress=False,
        on_event=(lambda e: lines.append(e.message) if e.kind == "problem" else None) if lines is not None else None,
        **kw,
    )


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "db", "news", FakeEmbeddings())


def test_fifty_summary_entries_are_read_from_their_pages_and_a_second_run_fetches_nothing(server, store):
    feed = summary_feed(server, 50)
    first = _run([server.url(feed)], store)
    assert (first.report.added, first.report.failed) == (50, [])
    requested = server.paths_requested()
    assert requested[0] == feed and sorted(requested[1:]) == sorted(f"/wire/story-{i}.html" for i in range(50))
    assert all(agent.startswith("newsrag/") for _, agent in server.requests)
    article = store.get_article(load_book(store.path).feeds[server.url(feed)].entries[server.url("/wire/story-7.html")].id)
    assert article.title == "Story 7 of the wire" and article.source == "The Wire" and article.published == "2014-11-11"
    assert made_up_text(7)[:60] in article.text and "Copyright" not in article.text and "Home" not in article.text

    server.forget_requests()
    second = _run([server.url(feed)], store)
    assert server.paths_requested() == [feed]  # the feed alone, answered 304
    assert second.reads[0].not_modified and (second.report.added, second.report.unchanged) == (0, 50)


def test_changed_entries_between_two_runs(server, store):
    items = [Item(f"Report {i}", server.url(f"/r/{i}.html"), summary=f"Brief {i}.") for i in range(4)]
    for i in range(4):
        server.routes[f"/r/{i}.html"] = Route(body=article_page(f"Report {i}", made_up_text(100 + i)))
    server.routes["/r.rss"] = Route(body=rss("Reports", items))
    _run([server.url("/r.rss")], store)
    book = load_book(store.path).feeds[server.url("/r.rss")]
    changed_id = book.entries[server.url("/r/2.html")].id

    # entry 2 is corrected (new summary and page), entry 3 drops out, entry 4 is new
    server.routes["/r/2.html"] = Route(body=article_page("Report 2", "Correction. " + made_up_text(102)))
    server.routes["/r/4.html"] = Route(body=article_page("Report 4", made_up_text(104)))
    items[2] = Item("Report 2", server.url("/r/2.html"), summary="Brief 2, corrected.")
    server.routes["/r.rss"] = Route(body=rss("Reports", [*items[:3], Item("Report 4", server.url("/r/4.html"), "Brief 4.")]))
    server.forget_requests()
    run = _run([server.url("/r.rss")], store)
    assert (run.report.added, run.report.updated, run.report.unchanged) == (1, 1, 2)
    assert sorted(server.paths_requested()) == ["/r.rss", "/r/2.html", "/r/4.html"]
    assert store.get_article(changed_id).text.startswith("Report 2\nCorrection.")
    assert any(c.text.startswith("Report 2\nCorrection.") for c in store.all_chunks() if c.article_id == changed_id)
    entries = load_book(store.path).feeds[server.url("/r.rss")].entries
    assert sorted(entries) == sorted(server.url(f"/r/{i}.html") for i in (0, 1, 2, 4))


def test_slow_missing_redirected_and_malformed(server, store):
    items = [
        Item("Fine", server.url("/p/fine.html")),
        Item("Gone", server.url("/p/gone.html")),  # 404
        Item("Moved", server.url("/p/moved.html")),  # 301 to /p/new-home.html
        Item("Slow", server.url("/p/slow.html")),  # longer than the timeout
        Item("Inline", server.url("/p/never-fetched.html"), content="<p>" + made_up_text(9) + "</p>"),
    ]
    server.routes["/p/fine.html"] = Route(body=article_page("Fine", made_up_text(1)))
    server.routes["/p/moved.html"] = Route(status=301, location="/p/new-home.html")
    server.routes["/p/new-home.html"] = Route(body=article_page("Moved", made_up_text(3)))
    server.routes["/p/slow.html"] = Route(body=article_page("Slow", made_up_text(4)), delay=5)
    server.routes["/good.rss"] = Route(body=rss("Good", items))
    server.routes["/feed-moved.rss"] = Route(status=302, location=server.url("/good2.rss"))
    server.routes["/good2.rss"] = Route(body=rss("Second", [Item("Other", server.url("/p/other.html"), content="<p>"
                                                                  + made_up_text(5) + "</p>")]))
    server.routes["/slow.rss"] = Route(body=rss("Slow", []), delay=5)
    server.routes["/bad.rss"] = Route(body=b"<rss version='2.0'><channel><title>x</title><<item>")
    closed = server.url("/nothing.rss").replace(str(server.port), "9")
    lines: list[str] = []
    run = _run([server.url("/good.rss"), server.url("/missing.rss"), server.url("/slow.rss"), server.url("/bad.rss"),
                closed, server.url("/feed-moved.rss")], store, lines)
    assert sorted(lines) == sorted([
        f"error: {server.url('/p/gone.html')}: HTTP 404 Not Found; entry skipped",
        f"error: {server.url('/p/slow.html')}: timed out after {TIMEOUT:g} s; entry skipped",
        f"error: {server.url('/missing.rss')}: cannot read the feed: HTTP 404 Not Found",
        f"error: {server.url('/slow.rss')}: cannot read the feed: timed out after {TIMEOUT:g} s",
        f"error: {server.url('/bad.rss')}: malformed feed (line 2, column 45: not well-formed (invalid token))",
        f"error: {closed}: cannot read the feed: connection refused",
    ])
    assert (run.report.added, len(run.report.failed)) == (4, 6)  # fine, moved, inline, other
    titles = {a.title for a in store.list_articles().articles}
    assert titles == {"Fine", "Moved", "Inline", "Other"}
    assert "/p/never-fetched.html" not in server.paths_requested()  # content in the feed: no page fetch
    book = load_book(store.path)
    good = book.feeds[server.url("/good.rss")]
    assert len(good.entries) == 3 and good.etag is None  # two entries still to get: the next run reads it again
    assert book.feeds[server.url("/slow.rss")].error.endswith("timed out after 0.5 s")

    # next run: the failed entries are tried again, the ones stored are not fetched again
    server.routes["/p/slow.html"].delay = 0
    server.forget_requests()
    again = _run([server.url("/good.rss")], store, [])
    assert sorted(server.paths_requested()) == ["/good.rss", "/p/gone.html", "/p/slow.html"]
    assert (again.report.added, again.report.unchanged, len(again.report.failed)) == (1, 3, 1)


def test_fetch_refuses_large_bodies_and_other_schemes(server):
    server.routes["/big"] = Route(body=b"x" * 5000)
    with pytest.raises(FetchError, match="larger than the limit"):
        fetch(server.url("/big"), FetchOptions(timeout=2, max_bytes=1000))
    with pytest.raises(FetchError, match="not an http or https address"):
        fetch("ftp://127.0.0.1/x", FetchOptions())
    server.routes["/to-file"] = Route(status=302, location="file:///etc/passwd")
    server.routes["/to-ftp"] = Route(status=302, location="ftp://127.0.0.1/x")
    for path in ("/to-file", "/to-ftp"):  # redirects stay on http(s)
        with pytest.raises(FetchError):
            fetch(server.url(path), FetchOptions(timeout=2))
    got = fetch(server.url("/big"), FetchOptions(timeout=2))
    assert got.status == 200 and len(got.body) == 5000
    assert fetch(server.url("/big"), FetchOptions(timeout=2), etag=got.headers["ETag"]).not_modified
