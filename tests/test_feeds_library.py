"""The chat's Library shows each feed ingested into the store: title, entries, last update, last read."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from ingest.feeds import EntryRecord, FeedBook, FeedRecord, ingest_sources, save_book
from ingest.fetch import FetchOptions
from rag.store import Store
from ui.format import format_feeds
from ui.handlers import stats_and_sources

from conftest import FakeEmbeddings

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"


class _Backend:
    def __init__(self, store) -> None:
        self.settings = SimpleNamespace(store=store)

    def stats(self) -> dict:
        return {"articles": 2, "chunks": 5, "last_ingest": None, "sources": ["Harbour Gazette"]}


def _book() -> FeedBook:
    entries = {f"https://w.example/{i}": EntryRecord(id=f"s-{i}", hash="h") for i in range(3)}
    return FeedBook(feeds={
        "https://w.example/feed": FeedRecord(
            location="https://w.example/feed", title="Wire <b>News</b>", checked="2026-11-29T14:42:05+00:00",
            updated="2026-11-29T14:27:26+00:00", entries=entries,
        ),
        "/data/a.rss": FeedRecord(location="/data/a.rss", title="", checked="2026-11-29T14:42:06+00:00",
                                  error="cannot read the feed: timed out after 20 s"),
        "javascript:alert(1)": FeedRecord(location="javascript:alert(1)", title="Sneaky"),
    })


def test_feeds_table_rows_escaped_and_linked_only_for_web_addresses():
    table = format_feeds(list(_book().feeds.values()))
    assert table.startswith('<div class="feeds-count">3 feeds</div><table class="feeds">')
    rows = table.split("<tr>")[2:]
    assert [r.split("</td>")[1] for r in rows] == ["<td>0", "<td>0", "<td>3"]  # ordered by title: /data/a.rss, Sneaky, Wire
    wire = rows[2]
    assert 'href="https://w.example/feed"' in wire and "Wire &lt;b&gt;News&lt;/b&gt;" in wire and "<b>" not in wire
    assert "2026-11-29 14:27 UTC" in wire and "2026-11-29 14:42 UTC" in wire
    assert "failed: cannot read the feed: timed out after 20 s" in rows[0] and "never" in rows[0]
    assert "href" not in rows[1] and "javascript:alert(1)" in rows[1]
    assert format_feeds([]) == ""


def test_library_figures_show_the_feeds_of_the_store(tmp_path):
    store = Store(tmp_path / "db", "news", FakeEmbeddings())
    assert stats_and_sources(_Backend(store.path))[0].count("<table") == 0  # no feeds: the figures alone
    ingest_sources([str(FEEDS / "news.rss")], store, chunk_size=400, chunk_overlap=1, fetch_options=FetchOptions(),
                   progress=False)
    stats, names = stats_and_sources(_Backend(store.path))
    assert stats.startswith("**2** articles") and names == ["Harbour Gazette"]
    assert "\n\n<div class=\"feeds-count\">1 feed</div>" in stats
    assert "Harbour Gazette" in stats and "<td>2</td>" in stats and str(FEEDS / "news.rss") in stats


def test_a_backend_without_settings_shows_no_feeds(tmp_path):
    save_book(tmp_path, _book())
    backend = _Backend(tmp_path)
    del backend.settings
    assert "<table" not in stats_and_sources(backend)[0]
