"""HTML for the chat: answers with linked [n] markers, the refusal look, and the sources panel.

Everything taken from articles or answers is escaped with ``html.escape``: article text is shown
as text, never interpreted as HTML. Only the tags built here (links, ``<mark>``, layout) are markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rag.text import MARKER, marker_numbers
from rag.types import Answer, Article, Citation, Filters, Stage
from ui.export import answer_markdown

if TYPE_CHECKING:
    from ingest.feeds import FeedRecord
    from rag.store import ArticleSummary, Origin

CONTEXT_CHARS = 360  # at most this much paragraph text shown on each side of a quote


def source_anchor(turn: int, n: int) -> str:
    """The element id of source ``n`` of answer number ``turn`` (both shown in the page).

    Args:
        turn: 1-based index of the answer within the chat.
        n: citation number as it appears in the answer, ``[n]``.

    Returns:
        An id safe for HTML attributes and URL fragments, e.g. ``src-2-1``.
    """
    return f"src-{int(turn)}-{int(n)}"


def link_markers(text: str, turn: int, known: set[int]) -> str:
    """Escape ``text`` and turn each ``[n]`` with a known citation into a link to its source.

    Args:
        text: answer text with ``[n]`` markers (plain text, not yet escaped).
        turn: answer number, for the anchor ids.
        known: citation numbers that have a source entry.

    Returns:
        HTML: the escaped text, markers as ``<a class="cite" href="#src-turn-n">[n]</a>``.
    """
    out: list[str] = []
    pos = 0
    for m in MARKER.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        numbers = marker_numbers(m)
        n = numbers[0]
        if len(numbers) == 1 and n in known:
            anchor = source_anchor(turn, n)
            out.append(
                f'<a class="cite" href="#{anchor}" data-target="{anchor}" '
                f'title="Show source {n}">[{n}]</a>'
            )
        else:
            out.append(html.escape(m.group(0)))
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


STAGE_TITLES = 3  # the reading stage names at most this many of the articles it reads


def format_stage(stage: Stage | None) -> str:
    """The bubble of an answer that has no text yet: the stage it is in ("Searching the articles…");
    while reading, the titles of the first articles read.

    Args:
        stage: the latest stage event (None: the answer is starting).

    Returns:
        HTML for the chat bubble.
    """
    if stage is None:
        return '<div class="stage" role="status">Starting…</div>'
    titles = list(dict.fromkeys(c.title or c.article_id for c in stage.sources))
    more = len(titles) - STAGE_TITLES
    listed = " · ".join(html.escape(t) for t in titles[:STAGE_TITLES]) + (f" · and {more} more" if more > 0 else "")
    extra = f'<div class="stage-sources">{listed}</div>' if titles else ""
    return f'<div class="stage" role="status">{html.escape(stage.message)}{extra}</div>'


def format_streaming(partial: str, stage: Stage | None = None) -> str:
    """The answer while it is being generated: escaped text, markers not yet linked.

    Args:
        partial: the text generated so far.
        stage: a stage begun after the text came (``checking``), shown under it.

    Returns:
        HTML for the chat bubble.
    """
    note = f'<div class="stage" role="status">{html.escape(stage.message)}</div>' if stage else ""
    return f'<div class="answer streaming">{html.escape(partial)}</div>{note}'


def describe_filters(filters: dict | None) -> str:
    """The filters in words: ``from CNN, published since 2014-11-01``; ``all articles`` when none.

    Args:
        filters: the ``rag`` filters dict (None: none).

    Returns:
        Plain text.
    """
    parts = Filters.from_dict(filters).described()
    return ", ".join(parts) if parts else "all articles"


def format_asked(answer: Answer) -> str:
    """The small line under an answer: what was asked, as of when, over what.

    The question as interpreted when the rewrite differs from what was typed, the day the answer
    is as of, the date range of the articles read, and the filters. Empty when the answer does not
    say what it was asked as of (it did not come from ``rag``).

    Args:
        answer: the answer.

    Returns:
        HTML (escaped), or "".
    """
    if not answer.as_of:
        return ""
    parts = []
    if answer.standalone_question and answer.standalone_question.strip() != answer.question.strip():
        parts.append(f"read as “{answer.standalone_question}”")
    parts.append(f"as of {answer.as_of}")
    dates = answer.read_dates
    if dates:
        parts.append(f"articles of {dates[0]}" if dates[0] == dates[1] else f"articles of {dates[0]} to {dates[1]}")
    elif answer.retrieved:
        parts.append("undated articles")
    parts.append(describe_filters(answer.filters) if answer.filters else "no filters")
    return f'<div class="asked">{html.escape(" · ".join(parts))}</div>'


def copy_button(answer: Answer) -> str:
    """The answer's Copy link and, hidden beside it, the answer as Markdown
    (``export.answer_markdown``), which the page's script puts on the clipboard (the chat's own
    copy would copy the bubble's HTML; the chat's sanitiser drops ``data-`` attributes).

    Args:
        answer: the answer.

    Returns:
        HTML on one line (line breaks as ``&#10;``, so the chat's Markdown renderer leaves it alone).
    """
    text = html.escape(answer_markdown(answer), quote=False).replace("\n", "&#10;")
    return (
        '<div class="answer-tools"><a class="copy-answer" href="#copy" role="button" '
        f'title="Copy the answer with its sources as text">Copy</a><span class="copy-text">{text}</span></div>'
    )


def format_answer(answer: Answer, turn: int) -> str:
    """The final chat bubble of an answer.

    An answerable answer shows its text with each ``[n]`` linked to its source entry; an
    unanswerable one gets its own look (a "not in the articles" box, with the sentence saying
    why), so it cannot be mistaken for an answer. Under either, the line of ``format_asked`` and
    the Copy link (``copy_button``).

    Args:
        answer: the answer from ``rag``.
        turn: answer number in this chat (for the anchors of its sources).

    Returns:
        HTML for the chat bubble.
    """
    asked = format_asked(answer)
    if not answer.answerable:
        why = f'<div class="refusal-why">{html.escape(answer.refusal_detail)}</div>' if answer.refusal_detail else ""
        return (
            '<div class="refusal" role="note">'
            '<span class="refusal-badge">Not in the articles</span> '
            f"{html.escape(answer.answer)}{why}</div>{asked}{copy_button(answer)}"
        )
    body = link_markers(answer.answer, turn, {c.n for c in answer.citations})
    return f'<div class="answer">{body}</div>{asked}{copy_button(answer)}'


def quote_in_paragraph(text: str, start: int, end: int, context: int = CONTEXT_CHARS) -> str:
    """The paragraph around ``text[start:end]``, escaped, with the quote inside ``<mark>``.

    Args:
        text: full article text.
        start: offset of the quote in ``text``.
        end: offset just past the quote.
        context: at most this many characters shown on each side (cut at a word, with "…").

    Returns:
        HTML: ``before<mark>quote</mark>after``, every piece escaped.
    """
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    para_start = text.rfind("\n", 0, start) + 1
    para_end = text.find("\n", end)
    if para_end == -1:
        para_end = len(text)
    before = text[para_start:start]
    after = text[end:para_end]
    lead = trail = ""
    if len(before) > context:
        cut = before[-context:]
        before = cut[cut.find(" ") + 1 :] if " " in cut else cut
        lead = "… "
    if len(after) > context:
        cut = after[:context]
        after = cut[: cut.rfind(" ")] if " " in cut else cut
        trail = " …"
    return (
        f"{lead}{html.escape(before)}<mark>{html.escape(text[start:end])}</mark>"
        f"{html.escape(after)}{trail}"
    )


def citation_context(citation: Citation, article: Article | None) -> str:
    """The highlighted quote of one citation, in its paragraph when the stored text agrees.

    Args:
        citation: the citation (quote and article offsets).
        article: the stored article, or None when it is not available.

    Returns:
        HTML of the quote in context, or of the quote alone (still highlighted).
    """
    if article is not None and article.text[citation.start : citation.end] == citation.quote:
        return quote_in_paragraph(article.text, citation.start, citation.end)
    return f"<mark>{html.escape(citation.quote)}</mark>"


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links are clickable (no ``javascript:`` or ``data:`` addresses)."""
    if url and re.match(r"^https?://", url.strip(), flags=re.IGNORECASE):
        return url.strip()
    return None


def _external_link(url: str, label: str) -> str:
    """A link opening ``url`` (already checked by ``_safe_url``) in a new tab; ``label`` is HTML."""
    return f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">{label}</a>'


def _origin_html(origin: Origin) -> str:
    """One other copy of an article: its web address (http/https only, linked), else its file's
    name, else its id; then its publisher in brackets. Escaped."""
    url = _safe_url(origin.url)
    if url:
        where = _external_link(url, html.escape(url))
    else:
        where = html.escape((re.split(r"[\\/]", origin.path)[-1] if origin.path else "") or origin.id)
    return f"{where} ({html.escape(origin.source)})" if origin.source else where


def format_also_in(origins: Sequence[Origin]) -> str:
    """The line naming the other copies of an article stored once (near-duplicates): ``also in: …``.

    Args:
        origins: the copies (``Store.also_in``).

    Returns:
        HTML (every piece escaped, only http/https linked), or "" when there are none.
    """
    if not origins:
        return ""
    return f'<div class="source-also">also in: {"; ".join(_origin_html(o) for o in origins)}</div>'


def format_source(citation: Citation, article: Article | None, turn: int, also_in: Sequence[Origin] = ()) -> str:
    """One entry of the sources panel: number, title, date, source, link, the article's other
    copies (``also in: …``), quote in context.

    Args:
        citation: the citation to show.
        article: its stored article (for the surrounding paragraph), or None.
        turn: answer number, for the anchor id.
        also_in: the other copies of the article found at ingest.

    Returns:
        HTML of the entry, with ``id`` equal to ``source_anchor(turn, citation.n)``.
    """
    title = html.escape(citation.title or (article.title if article else "") or citation.article_id)
    meta = [html.escape(x) for x in (citation.published, citation.source) if x]
    url = _safe_url(citation.url)
    link = f" · {_external_link(url, 'link')}" if url else ""
    said = f'<div class="source-speaker">{html.escape(citation.speaker)} said:</div>' if citation.speaker else ""
    return (
        f'<div class="source" id="{source_anchor(turn, citation.n)}">'
        f'<div class="source-head"><span class="source-n">[{citation.n}]</span> '
        f'<span class="source-title">{title}</span></div>'
        f'<div class="source-meta">{" · ".join(meta) or "undated"}{link}</div>{format_also_in(also_in)}'
        f'{said}<blockquote class="source-quote">{citation_context(citation, article)}</blockquote>'
        "</div>"
    )


def format_sources(
    turns: list[Answer],
    get_article: Callable[[str], Article | None],
    also_in: Callable[[str], Sequence[Origin]] | None = None,
) -> str:
    """The sources panel: the citations of every answer in the chat, newest answer first.

    Args:
        turns: the chat's answers in order (answer ``i`` is turn ``i + 1``).
        get_article: looks up a stored article by id (None when missing).
        also_in: the other copies of a stored article by id (``Store.also_in``); None: not shown.

    Returns:
        HTML of the whole panel.
    """
    if not turns:
        return '<div class="sources-empty">Sources of each answer appear here.</div>'
    blocks: list[str] = []
    cache: dict[str, Article | None] = {}
    copies: dict[str, Sequence[Origin]] = {}
    for turn in range(len(turns), 0, -1):
        answer = turns[turn - 1]
        entries: list[str] = []
        for c in sorted(answer.citations, key=lambda c: c.n):
            if c.article_id not in cache:
                cache[c.article_id] = get_article(c.article_id)
                copies[c.article_id] = also_in(c.article_id) if also_in else ()
            entries.append(format_source(c, cache[c.article_id], turn, copies[c.article_id]))
        body = "".join(entries) or '<div class="sources-none">No sources: the articles don\'t say.</div>'
        blocks.append(
            f'<section class="turn-sources" data-turn="{turn}">'
            f'<div class="turn-question">Q{turn}: {html.escape(answer.question)}</div>{body}</section>'
        )
    return "".join(blocks)


def format_stats(stats: dict) -> str:
    """Markdown line of the collection's figures for the Library tab.

    Args:
        stats: ``Store.stats()``: articles, chunks, last_ingest, sources.

    Returns:
        Markdown text.
    """
    last = html.escape(str(stats.get("last_ingest") or "never"))
    sources = html.escape(", ".join(stats.get("sources") or [])) or "none"
    return (
        f"**{stats.get('articles', 0)}** articles · **{stats.get('chunks', 0)}** chunks · "
        f"last ingest: {last} · sources: {sources}"
    )


def _when(iso: str | None) -> str:
    """An ISO time of the record of feeds for people: ``2026-11-29 14:27 UTC`` (``never`` when None)."""
    if not iso:
        return "never"
    day, _, clock = iso.partition("T")
    return f"{day} {clock[:5]} UTC" if clock.endswith("+00:00") else f"{day} {clock[:5]}"


def _feed_row(feed: FeedRecord) -> str:
    """One feed: its title (linked when it is a web address) over its location, its entries, when an
    entry of it was last added or changed, and when it was last read (with why, when that failed)."""
    title = html.escape(feed.title or feed.location)
    url = _safe_url(feed.location)
    name = _external_link(url, title) if url else title
    read = html.escape(_when(feed.checked))
    if feed.error:
        read += f'<div class="feed-error">failed: {html.escape(feed.error)}</div>'
    where = f'<div class="feed-location"><small>{html.escape(feed.location)}</small></div>' if feed.title else ""
    cells = (
        f"{name}{where}",
        f"{len(feed.entries):,}",
        html.escape(_when(feed.updated)),
        read,
    )
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def format_feeds(feeds: Sequence[FeedRecord]) -> str:
    """The Library's table of feeds (``newsrag ingest FEED``, ``newsrag watch``), "" when there is none.

    Args:
        feeds: the store's record of feeds (``ingest.feeds.load_book``), shown by title.

    Returns:
        HTML: a heading line, then a row per feed: title and location, entries stored, last update
        (an entry added or changed), last read (and its failure).
    """
    if not feeds:
        return ""
    ordered = sorted(feeds, key=lambda f: ((f.title or f.location).casefold(), f.location))
    head = "".join(f"<th>{name}</th>" for name in ("Feed", "Entries", "Last update", "Last read"))
    return (
        f'<div class="feeds-count">{len(feeds)} feed{"s" * (len(feeds) != 1)}</div>'
        f'<table class="feeds"><thead><tr>{head}</tr></thead><tbody>{"".join(_feed_row(f) for f in ordered)}</tbody></table>'
    )


def _library_row(article: ArticleSummary) -> str:
    """One row of the library table: a box to select it (for removal), date, title (linked when it
    has a web address), source, quoted."""
    title = html.escape(article.title or article.id)
    pick = (
        f'<input type="checkbox" class="library-pick" value="{html.escape(article.id, quote=True)}" '
        f'aria-label="Select {html.escape(article.title or article.id, quote=True)}">'
    )
    url = _safe_url(article.url)
    if url:
        title = _external_link(url, title)
    cells = (
        pick,
        html.escape(article.published or "undated"),
        f'{title}<div class="library-id">{html.escape(article.id)}</div>',
        html.escape(article.source or ""),
        html.escape(article.quoted_line()) or '<span class="library-nobody">nobody</span>',
    )
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


LIBRARY_SORTS = {"newest": "newest first", "oldest": "oldest first", "title": "by title"}
"""The library table's orders, by the name the page sends: how the count line says it."""
_CUT = {"newest": "The newest {shown:,} of {total:,} {what}.", "oldest": "The oldest {shown:,} of {total:,} {what}.",
        "title": "The first {shown:,} by title of {total:,} {what}."}


def format_library(articles: Sequence[ArticleSummary], total: int, sort: str = "newest", search: str = "") -> str:
    """The Library tab's table of articles: date, title, source and who is quoted.

    Args:
        articles: the articles to show (``Store.list_articles``), in ``sort`` order.
        total: how many articles matched (more than shown when the list was cut).
        sort: their order, a key of ``LIBRARY_SORTS``.
        search: the words they were searched by ("" when none), named in the count line.

    Returns:
        HTML: a line saying how many articles are shown and in what order, then the table.
    """
    search = " ".join(search.split())
    matching = f" matching “{html.escape(search)}”" if search else ""
    if not total:
        if search:
            return f'<div class="library-empty">No article matches “{html.escape(search)}”.</div>'
        return '<div class="library-empty">The library is empty: add articles below.</div>'
    what = f"article{'s' * (total != 1)}{matching}"
    if len(articles) < total:
        count = _CUT.get(sort, _CUT["newest"]).format(shown=len(articles), total=total, what=what)
    else:
        count = f"{total:,} {what}, {LIBRARY_SORTS.get(sort, LIBRARY_SORTS['newest'])}."
    head = "".join(f"<th>{name}</th>" for name in ("", "Date", "Title", "Source", "Quoted"))
    rows = "".join(_library_row(a) for a in articles)
    return (
        f'<div class="library-count">{count}</div>'
        f'<table class="library"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    )


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each paragraph of ``text``: the runs of text between line breaks."""
    return [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text) if m.group(0).strip()]


def _marked(text: str, start: int, end: int, span: tuple[int, int] | None, first: bool) -> str:
    """``text[start:end]`` escaped, with its part inside ``span`` in ``<mark class="cited">``."""
    if span is None or span[1] <= start or end <= span[0]:
        return html.escape(text[start:end])
    lo, hi = max(start, span[0]), min(end, span[1])
    anchor = ' id="cited"' if first else ""
    return (
        f"{html.escape(text[start:lo])}<mark class=\"cited\"{anchor}>{html.escape(text[lo:hi])}</mark>"
        f"{html.escape(text[hi:end])}"
    )


def cited_span(article: Article, citation: Citation) -> tuple[int, int] | None:
    """Where the citation's quote is in the stored article: its offsets when the text there is the
    quote, else the first place the quote occurs (the article was re-ingested), else None."""
    if citation.quote and article.text[citation.start : citation.end] == citation.quote:
        return citation.start, citation.end
    found = article.text.find(citation.quote) if citation.quote else -1
    return (found, found + len(citation.quote)) if found >= 0 else None


def article_meta(article: Article | None, citation: Citation) -> tuple[str, str]:
    """The viewer's title and its line of date · source · link (HTML, escaped), from the stored
    article, else from what the citation recorded."""
    title = (article.title if article else "") or citation.title or citation.article_id
    published = (article.published if article else None) or citation.published
    source = (article.source if article else None) or citation.source
    url = _safe_url((article.url if article else None) or citation.url)
    meta = [html.escape(x) for x in (published or "undated", source) if x]
    if url:
        meta.append(_external_link(url, html.escape(url)))
    return html.escape(title), " · ".join(meta)


def format_article(article: Article | None, citation: Citation, turn: int) -> str:
    """The article viewer: the stored article in full, its paragraphs kept, the cited sentence in
    ``<mark class="cited" id="cited">`` (the page scrolls to it), under its title, date, source and
    web address (http and https only).

    Args:
        article: the stored article (None: no longer in the library).
        citation: the citation opened (its quote and offsets in the article).
        turn: the answer it belongs to (shown as ``[n] of answer turn``).

    Returns:
        HTML of the viewer; every piece of the article escaped.
    """
    title, meta = article_meta(article, citation)
    head = (
        f'<div class="viewer-head"><button class="viewer-close" type="button" title="Close the article">×</button>'
        f'<div class="viewer-for">[{citation.n}] of answer {int(turn)}</div>'
        f'<div class="viewer-title">{title}</div><div class="viewer-meta">{meta}</div></div>'
    )
    quoted = f"<mark class=\"cited\" id=\"cited\">{html.escape(citation.quote)}</mark>"
    if article is None:
        body = f'<p class="viewer-note">This article is no longer in the library. The quoted passage:</p><p>{quoted}</p>'
    else:
        span = cited_span(article, citation)
        note = (
            "" if span else
            f'<p class="viewer-note">The quoted passage is no longer in this article as stored: {quoted}</p>'
        )
        paragraphs, first = [], True
        for start, end in _paragraph_spans(article.text):
            paragraphs.append(f"<p>{_marked(article.text, start, end, span, first)}</p>")
            if span and start < span[1] and span[0] < end:
                first = False
        body = note + "".join(paragraphs)
    return (
        f'<article class="viewer" data-article="{html.escape(citation.article_id, quote=True)}">'
        f'{head}<div class="viewer-body">{body}</div></article>'
    )
