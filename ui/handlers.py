"""The chat's event handlers: plain functions over the backend, plain values in and out.

``ui.app`` lays out the page and wires each event to one of these; nothing here needs a Gradio
server, so the tests call them directly with a fake backend. Where a handler leaves an output as it
is, it returns ``None`` for it (``ui.app`` turns that into "no change"); the "ready" value says
whether the Ask button takes a new question (``True``/``False``, or ``None``: unchanged).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.errors import NewsragError
from rag.text import parse_date
from rag.types import Answer, Stage, content_hash
from ui.backend import Backend
from ui.export import conversation_json, conversation_markdown
from ui.format import (
    LIBRARY_SORTS, describe_filters, format_answer, format_article, format_feeds, format_library, format_sources, format_stage,
    format_stats, format_streaming,
)
from ui.uploads import UploadRejected, store_upload

log = logging.getLogger(__name__)

EXPORT_NAME = "newsrag-conversation"  # the downloads' file name, ``.md`` and ``.json``
LIBRARY_ROWS = 300  # the Library tab shows at most this many articles (the newest), and says how many in all
QUEUED_HTML = '<div class="queued">Waiting in line: other answers are being written…</div>'
UNEXPECTED_ERROR = "Sorry, answering failed because of an internal error; the server log has the details."

Progress = Callable[..., Any]
"""Reports upload progress: ``progress((done, total), desc=...)`` (``gr.Progress`` in the app)."""


class FilterError(ValueError):
    """A filter or as-of date the user typed that is not valid; the message says which and why."""


class AnswerLine:
    """How many answers are being written right now, in every session (the chat and the API
    share one answer worker, so a new question waits only while this is not zero)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writing = 0

    @property
    def busy(self) -> bool:
        """True while an answer is being written."""
        with self._lock:
            return self._writing > 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Count an answer as being written for the duration of the block (also when it is
        stopped: Gradio closes a stopped handler, which exits the block)."""
        with self._lock:
            self._writing += 1
        try:
            yield
        finally:
            with self._lock:
                self._writing -= 1


def new_session() -> dict[str, Any]:
    """A fresh per-browser-session state: the answers so far and the plain-text history."""
    return {"turns": [], "history": []}


def message_text(message: dict) -> str:
    """The text of a chat message, whether its content is a string or a list of parts.

    Args:
        message: a message of the Chatbot's value (``{"role", "content"}``).

    Returns:
        The text (parts joined).
    """
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def error_code(err: NewsragError) -> str:
    """A short code for a domain error: its ``code``, else its class name in snake case without
    "Error" (``BackendError`` -> ``backend``, ``StoreError`` -> ``store``)."""
    code = getattr(err, "code", None)
    if code:
        return str(code)
    name = type(err).__name__.removesuffix("Error") or "newsrag"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def describe_error(err: Exception, question: str) -> tuple[str, str]:
    """What to tell the user about a failed answer: the edge where errors become one sentence.

    Call it inside the ``except`` block: an unexpected exception is logged with its traceback and
    shown only as a plain sentence.

    Args:
        err: the exception raised while answering.
        question: the question being answered (for the log).

    Returns:
        ``(code, message)``: a domain error's own code and sentence, a bad filter's message, or
        ``("internal_error", UNEXPECTED_ERROR)``.
    """
    if isinstance(err, NewsragError):
        return error_code(err), str(err)
    if isinstance(err, FilterError):
        return "bad_filter", str(err)
    log.exception("answering %r failed", question)
    return "internal_error", UNEXPECTED_ERROR


def api_error(question: str, code: str, message: str) -> dict:
    """The ``/ask`` API's answer when there is no answer: ``{"question", "error": {"code", "message"}}``."""
    return {"question": question, "error": {"code": code, "message": message}}


def filters_from(sources: list[str] | None, date_from: str | None, date_to: str | None) -> dict | None:
    """The ``rag`` filters dict from the Library tab's controls (None when nothing is set).

    Args:
        sources: selected source names.
        date_from: first publication day, ``YYYY-MM-DD`` (blank: open).
        date_to: last publication day, ``YYYY-MM-DD`` (blank: open).

    Returns:
        ``{"sources", "date_from", "date_to"}`` with only the set keys, or None.

    Raises:
        FilterError: a date that is not ``YYYY-MM-DD``.
    """
    filters: dict[str, Any] = {}
    if sources:
        filters["sources"] = list(sources)
    for key, value in (("date_from", date_from), ("date_to", date_to)):
        day = _typed_date(value, "Filter date")
        if day is not None:
            filters[key] = day.isoformat()
    return filters or None


def _typed_date(value: str | None, what: str) -> dt.date | None:
    """A date typed as ``YYYY-MM-DD`` (None when blank); anything else is a ``FilterError``."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        day = parse_date(value)
    except (ValueError, TypeError):
        day = None
    if day is None:
        raise FilterError(f"{what} {value!r} is not a date like 2014-11-11.")
    return day


def today() -> str:
    """Today's date, ``YYYY-MM-DD``: the as-of field's default."""
    return dt.date.today().isoformat()


def as_of_from(value: str | None) -> str | None:
    """The chat's as-of field as ``YYYY-MM-DD`` (None when blank: today).

    Raises:
        FilterError: a value that is not a date.
    """
    day = _typed_date(value, "As of")
    return day.isoformat() if day else None


def check_inputs(as_of: str | None, sources: list[str] | None, date_from: str | None, date_to: str | None) -> str:
    """What is wrong with the as-of date and the filters as typed, for the message under them.

    Args:
        as_of: the Chat tab's as-of field.
        sources: the selected sources.
        date_from: first publication day.
        date_to: last publication day.

    Returns:
        HTML of one line per problem (""  when all is well): the question is not asked until then.
    """
    problems = []
    for check in (lambda: as_of_from(as_of), lambda: filters_from(sources, date_from, date_to)):
        try:
            check()
        except FilterError as err:
            problems.append(f'<div class="error">{html.escape(str(err))} The question is not asked until it is.</div>')
    return "".join(problems)


def filters_line(sources: list[str] | None, date_from: str | None, date_to: str | None) -> str:
    """The active filters in one line (``Filters: from CNN, published since 2014-11-01``).

    Args:
        sources, date_from, date_to: the filter controls.

    Returns:
        Markdown text; a bad date is said instead.
    """
    try:
        return f"Filters: {describe_filters(filters_from(sources, date_from, date_to))}"
    except FilterError as err:
        return f"Filters: {err}"


def display_name(where: str, names: dict[str, str]) -> str:
    """The upload's own name for a stored path, or ``stored:line`` (a ``.jsonl`` line), else as is.

    Args:
        where: a failure location from the ingest report (a path, or ``path:line``).
        names: stored path -> name the file was uploaded under.

    Returns:
        What to show the user.
    """
    for stored, original in names.items():
        if where == stored or where.startswith(stored + ":"):
            return original + where[len(stored):]
    return Path(where).name


# --- the chat -------------------------------------------------------------------------------------


def submit(
    message: str,
    chat: list,
    session: dict,
    *,
    waiting: bool = False,
    as_of: str | None = None,
    sources: list[str] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> tuple[str, list, dict, bool | None]:
    """Take the question from the box: show it with a "starting" bubble and mark it pending.

    Args:
        message: the text in the question box.
        chat: the Chatbot's messages.
        session: the session state (``new_session``).
        waiting: another answer is being written (``AnswerLine.busy``): the bubble says it waits
            in line, instead of "Starting…".
        as_of, sources, date_from, date_to: the as-of field and the filters; when one is not
            valid (``check_inputs``) the question is not asked.

    Returns:
        ``(box, chat, session, ready)``: the box emptied and the Ask button disabled, or, for a
        blank question or a bad date, everything as it was.
    """
    question = (message or "").strip()
    if not question or check_inputs(as_of, sources, date_from, date_to):
        return message, chat, session, None
    chat = list(chat or []) + [
        {"role": "user", "content": html.escape(question)},
        {"role": "assistant", "content": QUEUED_HTML if waiting else format_stage(None)},
    ]
    return "", chat, dict(session, pending=question), False


def answer(
    backend: Backend,
    chat: list,
    session: dict,
    sources: list[str] | None,
    date_from: str,
    date_to: str,
    as_of: str | None = None,
) -> Iterator[tuple[list, str | None, dict, bool | None]]:
    """Answer the pending question: the bubble shows each stage until text comes, grows as the
    text streams, then shows the verified answer with linked ``[n]`` and the line saying what was
    asked as of when over what; the sources panel shows every answer's passages.

    Args:
        backend: answers and articles (``ui.backend.Backend``).
        chat: the Chatbot's messages (the last one is the bubble being written).
        session: the session state with ``pending`` set by ``submit``.
        sources: the Library's source filter.
        date_from: the Library's first publication day (blank: open).
        date_to: the Library's last publication day (blank: open).
        as_of: the day the answer is as of, ``YYYY-MM-DD`` (blank: today).

    Yields:
        ``(chat, sources_html, session, ready)``; ``sources_html`` is None until the final answer.
        A failure ends with one sentence in the bubble and no new turn.
    """
    question = session.get("pending")
    if not question:
        yield chat, None, session, True
        return
    chat = list(chat)
    final: Answer | None = None
    try:
        filters = filters_from(sources, date_from, date_to)
        day = as_of_from(as_of)
        partial = ""
        for item in backend.stream(question, list(session["history"]), filters, day):
            if isinstance(item, Answer):
                final = item
                break
            if isinstance(item, Stage):
                shown = format_streaming(partial, item) if partial else format_stage(item)
            elif isinstance(item, str):
                partial += item
                shown = format_streaming(partial)
            else:
                continue
            chat[-1] = {"role": "assistant", "content": shown}
            yield chat, None, session, None
    except Exception as err:  # the edge: one plain sentence in the chat, the details in the log
        _, line = describe_error(err, question)
        chat[-1] = {"role": "assistant", "content": f'<div class="error">{html.escape(line)}</div>'}
    if final is None:  # it failed, or the stream ended without its Answer: keep no turn
        yield chat, None, dict(session, pending=None), True
        return
    turns: list[Answer] = [*session["turns"], final]
    history = [
        *session["history"],
        {"role": "user", "content": question},
        {"role": "assistant", "content": final.answer},
    ]
    chat[-1] = {"role": "assistant", "content": format_answer(final, len(turns))}
    session = {"turns": turns, "history": history, "pending": None}
    yield chat, format_sources(turns, backend.get_article, backend.also_in), session, True


def stopped(chat: list) -> tuple[list, bool]:
    """After Stop: say in the last bubble that the answer was stopped, and take questions again.

    Args:
        chat: the Chatbot's messages.

    Returns:
        ``(chat, ready)``.
    """
    chat = list(chat or [])
    if chat and chat[-1].get("role") == "assistant":
        text = message_text(chat[-1])
        if 'class="queued"' in text or text.startswith('<div class="stage"'):
            text = '<div class="note">Stopped before the answer began.</div>'
        elif "answer streaming" in text:
            text = text.replace("answer streaming", "answer stopped") + '<div class="note">Stopped.</div>'
        chat[-1] = {"role": "assistant", "content": text}
    return chat, True


def clear(backend: Backend) -> tuple[list, str, dict, bool]:
    """A new conversation: no messages, an empty sources panel, a fresh session.

    Args:
        backend: for the (empty) sources panel.

    Returns:
        ``(chat, sources_html, session, ready)``.
    """
    return [], format_sources([], backend.get_article), new_session(), True


def export_files(session: dict, folder: Path) -> tuple[str | None, str | None]:
    """The conversation so far as two files to download, Markdown and JSON (``ui.export``).

    Args:
        session: the session state; its answers are exported.
        folder: where to write them (each export in a folder named by its content's digest, so
            sessions never overwrite each other's files).

    Returns:
        ``(markdown_path, json_path)``, or ``(None, None)`` before the first answer.
    """
    turns = session.get("turns") or []
    if not turns:
        return None, None
    markdown, as_json = conversation_markdown(turns), conversation_json(turns)
    where = folder / content_hash(markdown + as_json)
    where.mkdir(parents=True, exist_ok=True)
    paths = where / f"{EXPORT_NAME}.md", where / f"{EXPORT_NAME}.json"
    for path, text in zip(paths, (markdown, as_json)):
        path.write_text(text, encoding="utf-8")
    return str(paths[0]), str(paths[1])


ANCHOR = re.compile(r"^src-(\d+)-(\d+)$")


def open_article(backend: Backend, session: dict, anchor: str | None) -> str | None:
    """The article viewer for a source clicked in the sources panel: the stored article in full
    with the cited sentence highlighted (``format_article``).

    Args:
        backend: the stored articles (``Backend.get_article``).
        session: the session state; its answers hold the citations.
        anchor: the clicked entry's id, ``src-<answer>-<n>`` (``format.source_anchor``).

    Returns:
        HTML of the viewer, or None (leave it as it is) when the anchor names no citation of this
        session's answers (say, the chat was cleared meanwhile).
    """
    m = ANCHOR.match(anchor or "")
    turns = session.get("turns") or []
    if not m or not 1 <= int(m.group(1)) <= len(turns):
        return None
    turn, n = int(m.group(1)), int(m.group(2))
    citation = next((c for c in turns[turn - 1].citations if c.n == n), None)
    if citation is None:
        return None
    return format_article(backend.get_article(citation.article_id), citation, turn)


def ask_api(backend: Backend, question: str) -> dict:
    """Answer one question without history or filters (the ``/ask`` API).

    Args:
        backend: answers (``ui.backend.Backend``).
        question: the question.

    Returns:
        The JSON object of ``newsrag ask --json``, or, when the question cannot be answered at
        all, ``{"question", "error": {"code", "message"}}`` (e.g. code ``question_too_long``).
    """
    final: Answer | None = None
    try:
        for item in backend.stream(question, [], None, None):
            if isinstance(item, Answer):
                final = item
    except Exception as err:  # the edge: a structured error for the client, the details in the log
        return api_error(question, *describe_error(err, question))
    if final is None:
        return api_error(question, "no_answer", "No answer was produced.")
    return final.contract()


# --- the library ----------------------------------------------------------------------------------


def feeds_of(backend: Backend) -> list[Any]:
    """The feeds ingested into the backend's store, from the record in its folder (``feeds.json``).

    Args:
        backend: a backend with ``settings`` (``ChatBackend``); one without has no feeds.

    Returns:
        The ``ingest.feeds.FeedRecord`` of each feed.
    """
    from ingest.feeds import load_book

    folder = getattr(getattr(backend, "settings", None), "store", None)
    return list(load_book(Path(folder)).feeds.values()) if folder else []


def stats_and_sources(backend: Backend) -> tuple[str, list[str]]:
    """The Library's figures line (and its feeds, when there are any) and the source names for its filter.

    Args:
        backend: the store's figures (``Backend.stats``) and its folder (for the feeds).

    Returns:
        ``(stats_markdown, source_names)``.
    """
    stats = backend.stats()
    feeds = format_feeds(feeds_of(backend))
    return format_stats(stats) + (f"\n\n{feeds}" if feeds else ""), list(stats.get("sources") or [])


def sorted_articles(articles: list[Any], sort: str) -> list[Any]:
    """Library articles (``ArticleSummary``) in the order named: ``newest`` (as the store lists
    them), ``oldest`` (undated last), or ``title`` (case aside); ties by title, then id."""
    by_title = sorted(articles, key=lambda a: ((a.title or "").casefold(), a.id))
    if sort == "title":
        return by_title
    if sort == "oldest":
        return sorted(by_title, key=lambda a: (not a.published, a.published or ""))
    return list(articles)


def library_table(backend: Backend, search: str | None = "", sort: str | None = "newest") -> str:
    """The Library's table of articles: the first ``LIBRARY_ROWS`` in the order asked, with who is
    quoted in each; searched by title and source words like ``newsrag articles SEARCH``.

    Args:
        backend: the store's articles (``Backend.list_articles``).
        search: keep articles whose title or source holds every word ("" or None: all).
        sort: ``newest`` first (the store's order), ``oldest`` first, or by ``title``.

    Returns:
        HTML of the table, with how many articles matched in all.
    """
    sort = sort if sort in LIBRARY_SORTS else "newest"
    search = (search or "").strip()
    if sort == "newest":  # the store's own order: it keeps only the rows shown
        listing = backend.list_articles(search=search or None, limit=LIBRARY_ROWS)
        articles = listing.articles
    else:
        listing = backend.list_articles(search=search or None, limit=None)
        articles = sorted_articles(listing.articles, sort)[:LIBRARY_ROWS]
    return format_library(articles, listing.total, sort, search)


def counted(n: int, word: str) -> str:
    """``n`` and ``word``, plural when ``n`` is not 1: ``1 article``, ``1,204 chunks``."""
    return f"{n:,} {word}{'s' * (n != 1)}"


def _ingest_uploads(backend: Backend, names: dict[str, str], progress: Progress) -> tuple[Any, list[str]]:
    """Ingest the stored copies, reporting progress: articles done of those expected when the
    pipeline knows how many (a ``.jsonl`` holds many), else files done; a failed batch keeps none."""
    total = len(names)
    seen: set[str] = set()
    progress((0, total), desc=f"Reading {counted(total, 'file')}", unit="files")

    def on_event(event: Any) -> None:
        if event.kind == "waiting":  # another ingest (say, from the command line) is writing
            progress((0, total), desc=event.message, unit="files")
            return
        path = str(event.path or "")
        seen.update(s for s in names if path == s or path.startswith(s + ":"))
        files = min(len(seen), total)
        if getattr(event, "articles_total", None):
            progress((event.articles_done, event.articles_total), unit="articles",
                     desc=f"{counted(event.chunks_done, 'chunk')} written, {files} of {counted(total, 'file')} read")
        else:
            progress((files, total), unit="files",
                     desc=f"{counted(event.articles_done, 'article')}, {counted(event.chunks_done, 'chunk')} written")

    try:
        report = backend.ingest([Path(p) for p in names], on_event=on_event)
    except NewsragError as err:
        for stored in names:  # nothing of this batch went in: keep none of its copies
            Path(stored).unlink(missing_ok=True)
        return None, [str(err)]
    problems: list[str] = []
    for where, reason in report.failed:
        problems.append(f"{display_name(str(where), names)}: {reason}")
        if str(where) in names:  # the whole file failed: do not keep its copy
            Path(where).unlink(missing_ok=True)
    return report, problems


def add_files(
    backend: Backend,
    files: list[str] | None,
    *,
    store_dir: Path,
    max_bytes: int,
    progress: Progress = lambda *args, **kwargs: None,
) -> tuple[str, str, list[str]]:
    """Copy uploads into ``<store_dir>/uploads`` under generated names and ingest them.

    Args:
        backend: ingest and figures (``ui.backend.Backend``).
        files: the uploaded files' temporary paths (the browser's file names are their last part).
        store_dir: the store folder.
        max_bytes: largest accepted upload.
        progress: called with ``((done, total), desc=...)`` as files are read.

    Returns:
        ``(report_markdown, stats_markdown, source_names)``: what was added and each file not
        added with its reason (wrong type, too large, failed to load, store busy).
    """
    if not files:
        return "Choose one or more files first.", *stats_and_sources(backend)
    names: dict[str, str] = {}  # stored path -> uploaded name
    problems: list[str] = []
    for path in files:
        original = Path(path).name
        try:
            stored = store_upload(Path(path), original, store_dir, max_bytes)
        except UploadRejected as err:
            problems.append(str(err))
            continue
        names[str(stored)] = original
    report_lines: list[str] = []
    if names:
        report, failed = _ingest_uploads(backend, names, progress)
        problems += failed
        if report is not None:
            report_lines.append(
                f"Added **{report.added}**, updated {report.updated}, unchanged {report.unchanged}, "
                f"duplicate {report.duplicate}, near-duplicate {report.near_duplicate}, failed {len(report.failed)}; "
                f"chunks added: {report.chunks_added}; {report.seconds:.1f} s."
            )
    if problems:
        report_lines.append("Not added:\n\n" + "\n".join(f"- {html.escape(p)}" for p in problems))
    return "\n\n".join(report_lines), *stats_and_sources(backend)


def picked_ids(value: Any) -> list[str]:
    """The article ids ticked in the library table, as the page's script sends them (each once,
    anything that is not a non-empty string dropped)."""
    items = value if isinstance(value, list) else []
    return list(dict.fromkeys(v for v in items if isinstance(v, str) and v))


def confirm_removal(backend: Backend, ids: list[str] | None) -> tuple[str, bool]:
    """The question asked before removing the ticked articles, naming each one.

    Args:
        backend: the stored articles (``Backend.get_article``), for their titles.
        ids: the ticked article ids.

    Returns:
        ``(html, ask)``: the question (or, with nothing ticked, what to do first) and whether to
        show the confirm and cancel buttons.
    """
    ids = picked_ids(ids)
    if not ids:
        return '<div class="note">Tick one or more articles in the table first.</div>', False
    names = []
    for aid in ids:
        article = backend.get_article(aid)
        names.append(f"<li>{html.escape((article.title if article else '') or aid)} "
                     f'<span class="library-id">{html.escape(aid)}</span></li>')
    return (
        f'<div class="remove-ask">Remove {counted(len(ids), "article")} from the library, with all '
        f"{'its' if len(ids) == 1 else 'their'} passages? The chat stops citing "
        f"{'it' if len(ids) == 1 else 'them'}.<ul>{''.join(names)}</ul></div>"
    ), True


def remove_articles(
    backend: Backend, ids: list[str] | None, progress: Progress = lambda *a, **k: None
) -> tuple[str, str, list[str]]:
    """Remove the ticked articles from the store (``Backend.remove_articles``, under its write lock).

    Args:
        backend: the store.
        ids: the article ids to remove.
        progress: told when the removal waits for another writer.

    Returns:
        ``(report_markdown, stats_markdown, source_names)``: what was removed (and ids no longer
        stored), or why nothing was.
    """
    ids = picked_ids(ids)
    if not ids:
        return "Tick one or more articles in the table first.", *stats_and_sources(backend)
    try:
        removal = backend.remove_articles(ids, on_wait=lambda message: progress(None, desc=message))
    except NewsragError as err:
        return f"Nothing was removed: {html.escape(str(err))}", *stats_and_sources(backend)
    lines = [f"{removal.summary().capitalize()}."]
    if removal.unknown:
        lines.append("No longer in the library: " + html.escape(", ".join(removal.unknown)))
    return "\n\n".join(lines), *stats_and_sources(backend)
