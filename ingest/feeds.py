"""RSS and Atom feeds, as files or http(s) addresses: each entry becomes an ``Article``.

Feeds are parsed by feedparser (RSS 0.9x/1.0/2.0, Atom 0.3/1.0). An entry's text is its content
(HTML turned into text by trafilatura, as ``.html`` files are); an entry with only a summary is
read from the page it links to, extracted by trafilatura. Its id is derived from its link
(``talks-resume-3f2a9c81d0``: the link's last path segment and a digest of the whole link), so the
same entry keeps its article when it changes. Its source is the feed's title (else its host, or its
file's name); title, link, date and authors come from the entry (the page's when the entry has none).

What was read is recorded in the store folder (``feeds.json``, rewritten atomically): per feed its
title, when it was last read and last brought something new, its validators, and for each of its
entries the article id and a digest of the entry. An entry read before with the same digest is
counted unchanged without being fetched again; a feed whose server answers 304, or whose document
is byte for byte the last one read, is not parsed again. An entry whose digest changed is read
again and replaces its article (the pipeline's update of a changed article). An article removed
from the store stays out until its entry changes.

A feed that cannot be read (unreachable, timed out, an HTTP error, malformed) is one ``Problem``
line and the other feeds and files still go in; so is an entry whose page cannot be fetched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError

from ingest.fetch import FetchError, FetchOptions, fetch
from ingest.loaders import Loaded, article_from_record, html_record, load_paths, read_bounded
from ingest.problems import Problem
from ingest.report import IngestEvent, IngestReport
from rag.types import Article, content_hash

if TYPE_CHECKING:  # the store and the pipeline are loaded when feeds are ingested, not for the CLI's help
    from rag.store import Store

FEED_SUFFIXES = {".rss", ".atom", ".xml"}
BOOK_NAME = "feeds.json"
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_SLUG_CHARS = 48

EventCallback = Callable[[IngestEvent], None]


def is_feed(arg: str | os.PathLike[str]) -> bool:
    """Whether a command-line argument names a feed: an http(s) address or a ``.rss``/``.atom``/``.xml`` file.

    Args:
        arg: the argument as given.

    Returns:
        True for a feed, False for the files and folders ``load_paths`` reads.
    """
    text = str(arg)
    return text.lower().startswith(("http://", "https://")) or Path(text).suffix.lower() in FEED_SUFFIXES


def feed_key(location: str) -> str:
    """How a feed is named in the record: its address as given, or its file's absolute path."""
    if location.lower().startswith(("http://", "https://")):
        return location
    return str(Path(location).absolute())


def now_iso() -> str:
    """The current time in UTC, ISO 8601 to the second (as the store records its last ingest)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# --- the record of feeds (feeds.json) ---------------------------------------------------------


class EntryRecord(BaseModel):
    """One entry of a feed as last read."""

    id: str = Field(description="The id of the article the entry became.")
    hash: str = Field(description="Digest of the entry (title, link, dates, authors, summary, content).")


class FeedRecord(BaseModel):
    """One feed: what it is called and when it was last read and last brought something new."""

    location: str = Field(description="The feed's address, or its file's absolute path.")
    title: str = Field(default="", description="The feed's own title ('' when it has none).")
    checked: str | None = Field(default=None, description="When it was last read (UTC, ISO 8601).")
    updated: str | None = Field(
        default=None, description="When an entry of it was last added or changed (UTC, ISO 8601)."
    )
    error: str | None = Field(default=None, description="Why the last read failed; None when it worked.")
    etag: str | None = Field(default=None, description="The ETag of the last complete read.")
    modified: str | None = Field(default=None, description="The Last-Modified of the last complete read.")
    digest: str | None = Field(default=None, description="Digest of the document of the last complete read.")
    entries: dict[str, EntryRecord] = Field(
        default_factory=dict, description="The entries stored from its last document, by link (or id)."
    )


class FeedBook(BaseModel):
    """Every feed ingested into one store (the ``feeds.json`` of its folder)."""

    feeds: dict[str, FeedRecord] = Field(default_factory=dict, description="By ``feed_key``.")


def load_book(folder: Path) -> FeedBook:
    """The record of a store's feeds (empty when there is none, or it cannot be read).

    Args:
        folder: the store folder.

    Returns:
        The ``FeedBook``.
    """
    try:
        return FeedBook.model_validate_json((Path(folder) / BOOK_NAME).read_bytes())
    except (OSError, ValueError, ValidationError):
        return FeedBook()


def save_book(folder: Path, book: FeedBook) -> None:
    """Write the record of feeds atomically: a reader sees the old file or the new one, never half.

    Args:
        folder: the store folder (created when missing).
        book: the record.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".feeds-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(book.model_dump_json(indent=1))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / BOOK_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- one feed, read -------------------------------------------------------------------------


@dataclass
class FeedEntry:
    """An entry new or changed since the last read, with the article it became."""

    key: str
    hash: str
    article: Article


@dataclass
class FeedRead:
    """What reading one feed gave."""

    location: str
    title: str = ""
    entries: list[FeedEntry] = field(default_factory=list)  # new or changed: to ingest
    unchanged: dict[str, EntryRecord] = field(default_factory=dict)  # read before, not fetched again
    problems: list[Problem] = field(default_factory=list)  # the feed's own, and entries skipped
    error: str | None = None  # the feed could not be read at all
    not_modified: bool = False  # 304, or the same document as the last complete read
    etag: str | None = None
    modified: str | None = None
    digest: str | None = None
    abandoned: bool = False  # stopped before it was read whole


def _raw(entry: Any, key: str) -> Any:
    """An entry's own value (feedparser maps a missing ``published`` to ``updated``, with a warning)."""
    return dict.get(entry, key)


def _date(entry: Any) -> str | None:
    parsed = _raw(entry, "published_parsed") or _raw(entry, "updated_parsed")
    return time.strftime("%Y-%m-%d", parsed) if parsed else None


def _authors(entry: Any) -> list[str]:
    names = [a.get("name") for a in entry.get("authors") or () if isinstance(a, dict)]
    names = [n for n in names if n]
    if not names and entry.get("author"):
        names = [entry.get("author")]
    return names


def _content(entry: Any) -> tuple[str, str] | None:
    """The entry's longest content, as ``(value, type)``; None when it has only a summary."""
    items = [c for c in entry.get("content") or () if (c.get("value") or "").strip()]
    if not items:
        return None
    best = max(items, key=lambda c: len(c.get("value") or ""))
    return best["value"], best.get("type") or "text/html"


def _as_text(value: str, kind: str) -> str:
    """Text of an entry's content or summary: HTML through trafilatura, plain text as it is."""
    if "html" not in kind:
        return value
    try:
        return html_record(f"<html><body><article>{value}</article></body></html>")["text"]
    except ValueError:
        return ""


def entry_hash(entry: Any) -> str:
    """Digest of what a feed says about an entry: a change in any of it reads the entry again."""
    key = [
        entry.get("title"), entry.get("link"), entry.get("id"), _raw(entry, "published"), _raw(entry, "updated"),
        _authors(entry), entry.get("summary"), [c.get("value") for c in entry.get("content") or ()],
    ]
    return content_hash(json.dumps(key, ensure_ascii=False, default=str))


def entry_key(entry: Any) -> str:
    """What names an entry across reads: its link, else its id, else its title and summary."""
    return entry.get("link") or entry.get("id") or content_hash(f"{entry.get('title')}\n{entry.get('summary')}")


def article_id_for(key: str, link: str | None, title: str) -> str:
    """A readable, stable article id for an entry: a slug of its link's last segment (or its
    title) and a digest of its key, e.g. ``talks-resume-3f2a9c81d0``."""
    base = urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1] if link else ""
    base = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", base)
    slug = re.sub(r"[^a-z0-9]+", "-", (base or title).lower()).strip("-")[:_SLUG_CHARS].strip("-")
    return f"{slug or 'entry'}-{content_hash(key, 10)}"


def feed_source(parsed: Any, location: str) -> str:
    """The source of a feed's articles: its title, else its host, else its file's name."""
    title = (parsed.feed.get("title") or "").strip()
    if title:
        return title
    if location.lower().startswith(("http://", "https://")):
        return urlsplit(location).hostname or location
    return Path(location).stem


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


def _parse_error(err: BaseException | None) -> str:
    """The parser's complaint, short: ``line 2, column 43: not well-formed (invalid token)``."""
    if err is None:
        return "not well-formed XML"
    if hasattr(err, "getLineNumber") and hasattr(err, "getMessage"):
        return f"line {err.getLineNumber()}, column {err.getColumnNumber()}: {err.getMessage()}"
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def parse_feed(data: bytes, base_url: str | None = None, content_type: str | None = None) -> tuple[Any, str | None]:
    """Parse a feed document with feedparser.

    Args:
        data: the document's bytes (feedparser reads its encoding).
        base_url: the address it was read from, for relative links.
        content_type: the ``Content-Type`` it was served with (None: a file).

    Returns:
        ``(parsed, warning)``: warning says the document was not well-formed but entries were read.

    Raises:
        ValueError: not a feed, or too malformed to read any entry.
    """
    import feedparser

    headers = {"content-location": base_url, "content-type": content_type or "application/xml"} if base_url else None
    parsed = feedparser.parse(data, response_headers=headers)
    if isinstance(parsed.get("bozo_exception"), (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)):
        parsed["bozo"] = 0  # served as text/html, or in another encoding than declared: read as it is
    # the lenient parser may make an empty entry of a broken tag: keep those with something in them
    parsed["entries"] = [e for e in parsed.entries if any(e.get(k) for k in ("link", "title", "summary", "content"))]
    why = _parse_error(parsed.get("bozo_exception"))
    if parsed.bozo and not parsed.entries:
        raise ValueError(f"malformed feed ({why})")
    if not parsed.version and not parsed.entries:
        raise ValueError("not an RSS or Atom feed")
    warning = f"the feed is not well-formed ({why}); read {_entries(len(parsed.entries))}" if parsed.bozo else None
    return parsed, warning


def _entry_article(entry: Any, key: str, source: str, location: str, options: FetchOptions) -> Article:
    """The article of one entry: its content, or the page it links to.

    Raises:
        ValueError: the entry has no text and its page cannot be fetched or holds no article text.
    """
    link = entry.get("link") or None
    title = entry.get("title") or ""
    article_id = article_id_for(key, link, title)
    record: dict[str, Any] = {
        "id": article_id, "title": title, "url": link, "published": _date(entry), "authors": _authors(entry), "source": source,
    }
    content = _content(entry)
    if content is not None:
        record["text"] = _as_text(*content)
    elif link:
        try:
            page = fetch(link, options, accept=PAGE_ACCEPT)
            found = html_record(page.text())
        except FetchError as err:
            raise ValueError(f"{err}; entry skipped") from None
        except ValueError as err:
            raise ValueError(f"{err} of the page; entry skipped") from None
        record["text"] = found["text"]
        for name in ("title", "published", "authors"):
            record[name] = record[name] or found.get(name)
    else:
        summary = entry.get("summary") or ""
        record["text"] = _as_text(summary, (entry.get("summary_detail") or {}).get("type") or "text/html")
        if not record["text"].strip():
            raise ValueError("entry has no text and no link; skipped")
    path = "" if location.lower().startswith(("http://", "https://")) else location  # a file, or none
    return article_from_record(record, article_id, path)


def _document(location: str, previous: FeedRecord | None, options: FetchOptions) -> tuple[bytes | None, str | None, Any]:
    """The feed's document: ``(bytes or None when not modified, base url, response headers)``."""
    if location.lower().startswith(("http://", "https://")):
        got = fetch(location, options, etag=previous and previous.etag, modified=previous and previous.modified,
                    accept=FEED_ACCEPT)
        return (None if got.not_modified else got.body), got.url, got.headers
    try:
        return read_bounded(Path(location), options.max_bytes), None, None
    except ValueError as err:
        raise FetchError(str(err)) from None


def read_feed(location: str, previous: FeedRecord | None, options: FetchOptions,
              stop: threading.Event | None = None) -> FeedRead:
    """Read one feed: the document, then the page of each new or changed entry that needs one.

    Args:
        location: an http(s) address or a file.
        previous: its record from the last read (None: never read into this store).
        options: timeout, size limit and User-Agent of the requests.
        stop: when set, reading stops before the next request (the result is ``abandoned``).

    Returns:
        The ``FeedRead``: entries to ingest, entries unchanged, problems, or the error.
    """
    read = FeedRead(location=location, title=previous.title if previous else "")
    known = previous.entries if previous else {}
    try:
        data, base, headers = _document(location, previous, options)
    except FetchError as err:
        read.error = f"cannot read the feed: {err}"
        read.problems.append(Problem(path=location, reason=read.error))
        return read
    read.digest = hashlib.sha256(data).hexdigest()[:16] if data is not None else previous and previous.digest
    if headers is not None:
        read.etag, read.modified = headers.get("ETag"), headers.get("Last-Modified")
    if data is None or (previous is not None and previous.digest == read.digest and previous.error is None):
        read.not_modified = True
        read.unchanged = dict(known)
        return read
    try:
        parsed, warning = parse_feed(data, base, headers.get("Content-Type") if headers is not None else None)
    except ValueError as err:
        read.error = str(err)
        read.problems.append(Problem(path=location, reason=read.error))
        return read
    if warning:
        read.problems.append(Problem(path=location, reason=warning, fatal=False))
    source = feed_source(parsed, location)
    read.title = (parsed.feed.get("title") or "").strip() or source
    for entry in parsed.entries:
        key, digest = entry_key(entry), entry_hash(entry)
        if key in known and known[key].hash == digest:
            read.unchanged[key] = known[key]
            continue
        if stop is not None and stop.is_set():
            read.abandoned = True
            return read
        try:
            read.entries.append(FeedEntry(key, digest, _entry_article(entry, key, source, location, options)))
        except ValueError as err:
            read.problems.append(Problem(path=entry.get("link") or location, reason=str(err)))
    return read


# --- feeds and files into the store ---------------------------------------------------------


@dataclass
class FeedRun:
    """What one ingest of feeds (and files) did."""

    report: IngestReport
    reads: list[FeedRead] = field(default_factory=list)
    abandoned: bool = False  # stopped before anything was written

    @property
    def failed_feeds(self) -> int:
        """Feeds that could not be read."""
        return sum(1 for r in self.reads if r.error)

    def counts(self) -> str:
        """``N new, N changed, N unchanged, N failed``: entries (and articles of files) of the run;
        duplicates count as unchanged, a feed that could not be read as one failure."""
        r = self.report
        return (f"{r.added} new, {r.updated} changed, {r.unchanged + r.duplicate + r.near_duplicate} unchanged, "
                f"{len(r.failed)} failed")

    def feed_lines(self) -> list[str]:
        """One line per feed read (those that could not be read are named by their problem line)."""
        lines = []
        for r in self.reads:
            if r.error:
                continue
            if r.not_modified:
                what = f"not modified since the last read, {_entries(len(r.unchanged))} unchanged"
            else:
                what = f"{_entries(len(r.entries))} read, {len(r.unchanged)} unchanged"
            lines.append(f"feed {r.title or r.location} ({r.location}): {what}")
        return lines


def _until(stop: threading.Event | None, items: Iterable[Loaded]) -> Iterator[Loaded]:
    """The items, until ``stop`` is set (what the pipeline has taken is still written whole)."""
    for item in items:
        if stop is not None and stop.is_set():
            return
        yield item


_STORED = {"added", "updated", "unchanged", "duplicate", "near_duplicate"}


def _recorded(read: FeedRead, previous: FeedRecord | None, statuses: dict[str, str], when: str) -> FeedRecord:
    """The feed's record after a run: its entries stored (or unchanged), its validators only when
    every entry went in (else the next read fetches the document again and retries the rest)."""
    record = (previous or FeedRecord(location=feed_key(read.location))).model_copy(deep=True)
    record.checked = when
    if read.error:
        record.error = read.error
        return record
    record.error = None
    record.title = read.title or record.title
    if read.not_modified:
        return record
    entries = dict(read.unchanged)
    for e in read.entries:
        if statuses.get(e.article.id) in _STORED:
            entries[e.key] = EntryRecord(id=e.article.id, hash=e.hash)
    complete = len(entries) == len(read.unchanged) + len(read.entries) and not any(p.fatal for p in read.problems)
    if any(statuses.get(e.article.id) in ("added", "updated") for e in read.entries):
        record.updated = when
    record.entries = entries
    record.etag, record.modified, record.digest = (read.etag, read.modified, read.digest) if complete else (None, None, None)
    return record


def record_reads(folder: Path, reads: list[FeedRead], statuses: dict[str, str]) -> FeedBook:
    """Update the store's record of feeds with a run's reads (under the store's write lock).

    Args:
        folder: the store folder.
        reads: the feeds read.
        statuses: the pipeline's status of each article id it handled.

    Returns:
        The record as saved.
    """
    book = load_book(folder)
    when = now_iso()
    for read in reads:
        key = feed_key(read.location)
        book.feeds[key] = _recorded(read, book.feeds.get(key), statuses, when)
    save_book(folder, book)
    return book


def ingest_sources(
    args: Iterable[str],
    store: Store,
    *,
    chunk_size: int,
    chunk_overlap: int,
    fetch_options: FetchOptions,
    progress: bool = True,
    on_event: EventCallback | None = None,
    wait: bool = True,
    ids_from_path: bool = False,
    prefetch: bool = False,
    stop: threading.Event | None = None,
    batch_chunks: int | None = None,
) -> FeedRun:
    """Ingest feeds, files and folders into the store, and record what the feeds gave.

    Args:
        args: feeds (see ``is_feed``), files and folders, in order.
        store: the store to write to.
        chunk_size: target chunk size in characters.
        chunk_overlap: overlap between chunks in whole sentences.
        fetch_options: timeout, size limit (also of files) and User-Agent.
        progress: show a progress bar (stderr).
        on_event: called with each ``IngestEvent`` (problems, articles, batches, waiting).
        wait: wait for another writer (True) or raise ``StoreBusy`` at once.
        ids_from_path: name file articles without an id by their relative path.
        prefetch: read every feed before taking the store's write lock (other writers are not
            held up by slow servers); otherwise feeds are read as the pipeline goes.
        stop: when set, no further request is made and no further article handed to the
            pipeline; what it has taken is written whole. Set while reading with ``prefetch``,
            nothing is written (the run is ``abandoned``).
        batch_chunks: chunks gathered across articles before one embedding call (None: the
            pipeline's default).

    Returns:
        The ``FeedRun``: the pipeline's report (entries read before counted unchanged) and each feed's read.

    Raises:
        StoreBusy: another writer holds the store and ``wait`` is False.
    """
    args = [str(a) for a in args]
    feeds = [a for a in args if is_feed(a)]
    files = [a for a in args if not is_feed(a)]
    book = load_book(store.path)
    run = FeedRun(report=IngestReport())

    def feed_items() -> Iterator[Loaded]:
        for location in feeds:
            if stop is not None and stop.is_set():
                return
            read = read_feed(location, book.feeds.get(feed_key(location)), fetch_options, stop)
            run.reads.append(read)
            yield from read.problems
            yield from (e.article for e in read.entries)

    items: Iterable[Loaded] = chain(load_paths(files, max_bytes=fetch_options.max_bytes), feed_items())
    if prefetch:
        items = list(items)
        if stop is not None and stop.is_set():
            run.abandoned = True
            return run
    statuses: dict[str, str] = {}

    def events(event: IngestEvent) -> None:
        if event.kind == "article" and event.article_id and event.status:
            statuses[event.article_id] = event.status
        if on_event is not None:
            on_event(event)

    def waiting(message: str) -> None:
        events(IngestEvent(kind="waiting", message=message))

    from ingest.pipeline import ingest_articles

    with store.writing(wait=wait, on_wait=waiting):
        run.report = ingest_articles(
            _until(stop, items), store, chunk_size=chunk_size, chunk_overlap=chunk_overlap, progress=progress,
            on_event=events, ids_from_path=ids_from_path, **({"batch_chunks": batch_chunks} if batch_chunks else {}),
        )
        run.report.unchanged += sum(len(r.unchanged) for r in run.reads)
        if run.reads:
            record_reads(store.path, run.reads, statuses)
    return run

