"""Typed records shared by every part of newsrag: Article, Chunk, Citation, Answer.

These are the only data shapes that cross package boundaries (ingest -> store -> rag -> ui/evals).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from rag.text import parse_date


def content_hash(text: str, length: int = 16) -> str:
    """Return a short, stable hex digest of ``text`` (sha256, UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


class Article(BaseModel):
    """One news article, normalised, as it is stored."""

    id: str = Field(description="Stable article id: a record's/front matter's id, else the file stem.")
    title: str = Field(default="", description="Headline; the first non-empty line for plain text.")
    text: str = Field(description="Full normalised article text (NFC, paragraph breaks kept).")
    url: str | None = Field(default=None, description="Canonical address of the article, if known.")
    published: str | None = Field(default=None, description="Publication date, YYYY-MM-DD.")
    authors: list[str] = Field(default_factory=list, description="Bylines.")
    source: str | None = Field(default=None, description="Publisher or feed name, e.g. 'CNN'.")
    path: str | None = Field(default=None, description="File the article was loaded from.")
    id_from_path: bool = Field(
        default=False,
        description="True when the id was derived from the file name (the record or front matter "
        "gave none): such an id names the same article only when it comes from the same file.",
    )

    @property
    def text_hash(self) -> str:
        """Digest of the text alone: the same text under two file names is one article."""
        return content_hash(self.text)


class Quote(BaseModel):
    """One quotation in an article: who speaks which sentence(s) (found by ``rag.quotes``)."""

    speaker: str = Field(description="The speaker's full name as the article gives it (a surname "
                         "alone when the article never gives more).")
    start: int = Field(description="Character offset of the first quoted sentence in the article text.")
    end: int = Field(description="Character offset just past the last quoted sentence.")
    kind: Literal["direct", "reported"] = Field(
        description="'direct' (words between quotation marks) or 'reported' (speech reported "
        "without quotation marks: 'X said the ...')."
    )

    @property
    def surname(self) -> str:
        """The speaker's last name (``"Ben Rhodes"`` -> ``"Rhodes"``, ``"Ferdinand Marcos Jr."`` ->
        ``"Marcos"``)."""
        suffixes = ("jr", "sr", "ii", "iii", "iv")
        parts = [p for p in self.speaker.split() if p.lower().rstrip(".,") not in suffixes]
        return parts[-1] if parts else self.speaker

    def overlaps(self, start: int, end: int) -> bool:
        """True when the span ``[start, end)`` shares a character with this quotation."""
        return start < self.end and self.start < end


class Chunk(BaseModel):
    """A sentence-aligned span of an article; ``article.text[start:end] == text`` always holds."""

    id: str = Field(description="Derived from article id and chunk content: stable across re-ingests.")
    article_id: str = Field(description="Id of the article the chunk was cut from.")
    text: str = Field(description="Chunk text, exactly the article text between start and end.")
    start: int = Field(description="Character offset of the chunk in the article text.")
    end: int = Field(description="Character offset just past the chunk in the article text.")
    position: int = Field(description="0-based index of the chunk within its article.")
    title: str = Field(default="", description="Article title (copied for display and BM25).")
    url: str | None = Field(default=None, description="Article url.")
    published: str | None = Field(default=None, description="Article publication date, YYYY-MM-DD.")
    source: str | None = Field(default=None, description="Article source.")
    score: float | None = Field(default=None, description="Retrieval score, when retrieved.")
    quotes: list[Quote] | None = Field(
        default=None,
        description="Quotations of the article that overlap the chunk, offsets in the article text "
        "(found at ingest); None when not known (a store built before quotations were kept).",
    )

    @property
    def speakers(self) -> list[str]:
        """Full names of the people quoted in the chunk, in order of first quotation."""
        return list(dict.fromkeys(q.speaker for q in self.quotes or ()))

    @classmethod
    def of_span(
        cls, article: Article, start: int, end: int, *, id: str, position: int,
        quotes: list[Quote] | None = None,
    ) -> "Chunk":
        """The chunk of ``article`` between ``start`` and ``end``, carrying the article's metadata.

        Args:
            article: the article the span is cut from.
            start: character offset of the span in ``article.text``.
            end: character offset just past the span.
            id: the chunk id (each splitter derives it from the content its own way).
            position: 0-based index of the chunk within its article.
            quotes: the article's quotations; those overlapping the span are kept on the chunk
                (None: not known).

        Returns:
            A Chunk whose ``text`` is ``article.text[start:end]``.
        """
        return cls(
            id=id,
            article_id=article.id,
            text=article.text[start:end],
            start=start,
            end=end,
            position=position,
            title=article.title,
            url=article.url,
            published=article.published,
            source=article.source,
            quotes=None if quotes is None else [q for q in quotes if q.overlaps(start, end)],
        )


class Citation(BaseModel):
    """A verbatim quote backing one ``[n]`` marker of an answer."""

    n: int = Field(description="Marker number as it appears in the answer text, e.g. 1 for [1].")
    article_id: str = Field(description="Id of the quoted article.")
    title: str = Field(default="", description="Title of the quoted article.")
    url: str | None = Field(default=None, description="Url of the quoted article.")
    published: str | None = Field(default=None, description="Publication date of the article.")
    source: str | None = Field(default=None, description="Source of the article.")
    quote: str = Field(description="Exactly the article text between start and end.")
    start: int = Field(description="Character offset of the quote in the article text.")
    end: int = Field(description="Character offset just past the quote in the article text.")
    speaker: str | None = Field(
        default=None, description="Who speaks the quote, as the article names them (None: nobody is quoted)."
    )

    def contract(self) -> dict[str, Any]:
        """The JSON shape of DESIGN.md (``ask --json``), plus ``speaker``."""
        return {
            "n": self.n,
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "published": self.published,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "speaker": self.speaker,
        }


REFUSAL_TEXT = "The articles don't say. I couldn't find this in the news articles I have."
INSTRUCTION_REFUSAL_TEXT = (
    "The articles don't say. What matched the question is an instruction written into an article "
    "(to its readers or to an assistant), not news, and I don't pass those on."
)

# Why an answer is a refusal: reason code -> what it means. ``Answer.refusal_reason`` is one of these.
REFUSAL_REASONS = {
    "no_relevant_articles": "nothing retrieved was relevant enough to the question; the model was not asked",
    "not_in_articles": "the model found no answer in the passages",
    "unsupported": "no claim of the answer was supported by the passage it cites",
    "instruction_in_article": "the answer's claims rested only on instructions written into articles",
    "context_too_long": "no passage fits the model's context window beside the question",
    "speaker_not_quoted": "the question asks what a person said; the passages quote others on it, "
    "not that person (the answer names who is quoted)",
}


# Which case of refusal an answer is, for people: one plain sentence each (``refusal_sentence``
# fills in the names, filters and dates). The chat and ``newsrag ask`` both show these.
REFUSAL_SENTENCES = {
    "no_relevant_articles": "Nothing in the library is close enough to the question to answer it.",
    "filtered_out": "No article {filters} matches the question; without {that} the library has some that do.",
    "recent_window": "The question is about the last few days, so only articles published in the {days} days "
    "before {as_of} were searched, and none of them matches (older ones do).",
    "not_in_articles": "The passages found were read, and they don't answer the question.",
    "unsupported": "The model's answer failed its check: no claim was backed by the passage it cited.",
    "instruction_in_article": "The model's answer failed its check: it rested only on an instruction "
    "written into an article.",
    "speaker_not_quoted": "{speaker} is not quoted on this in the articles found; the answer names who is.",
    "context_too_long": "The passages found don't fit the model's window beside the question.",
}


def refusal_sentence(
    case: str,
    *,
    filters: "Filters | None" = None,
    blamed: tuple[str, ...] = (),
    days: int | None = None,
    as_of: dt.date | None = None,
    speaker: str | None = None,
) -> str:
    """The sentence of ``REFUSAL_SENTENCES`` for ``case``, its blanks filled.

    Args:
        case: a refusal reason code, or ``filtered_out`` / ``recent_window`` (cases of
            ``no_relevant_articles`` found by searching again without the restriction).
        filters: the question's filters (``filtered_out``).
        blamed: which of them kept the articles out: ``sources``, ``dates``, ``article_ids``
            (empty: all that are set).
        days: the recent window, in days (``recent_window``).
        as_of: the day the question was asked as of (``recent_window``).
        speaker: the person asked about (``speaker_not_quoted``).

    Returns:
        One sentence; an unknown case gives the plain "nothing relevant" one.
    """
    template = REFUSAL_SENTENCES.get(case, REFUSAL_SENTENCES["no_relevant_articles"])
    if case == "filtered_out" and filters is not None:
        parts = filters.described(blamed)
        return template.format(filters=" ".join(parts), that="that filter" if len(parts) == 1 else "these filters")
    if case == "recent_window":
        return template.format(days=days, as_of=as_of.isoformat() if as_of else "today")
    if case == "speaker_not_quoted":
        return template.format(speaker=speaker or "The person asked about")
    return template


STAGE_MESSAGES = {
    "rewriting": "Reading the question in the light of the conversation…",
    "searching": "Searching the articles…",
    "reading": "Reading the articles…",
    "writing": "Writing the answer…",
    "checking": "Checking the citations…",
}


class Stage(BaseModel):
    """A progress event of ``rag.stream``: which stage the answer is in, yielded as it begins.

    In order: ``rewriting`` (only with chat history), ``searching``, ``reading`` (with the
    retrieved passages, as soon as retrieval is done and only when something relevant was found),
    ``writing``, then the text pieces, then ``checking`` (the model's citations, before the final
    ``Answer``; the extractive backend quotes verbatim and has no such stage). A refusal ends the
    stages early. Callers that only handle ``str`` and ``Answer`` skip these.
    """

    name: Literal["rewriting", "searching", "reading", "writing", "checking"] = Field(
        description="The stage that begins."
    )
    query: str | None = Field(
        default=None, description="``searching``: the standalone question searched for."
    )
    sources: list[Chunk] = Field(
        default_factory=list, description="``reading``: the retrieved passages, best first."
    )

    @property
    def articles(self) -> list[str]:
        """Ids of the distinct articles of ``sources``, in order."""
        return list(dict.fromkeys(c.article_id for c in self.sources))

    @property
    def message(self) -> str:
        """The stage as a short line for people ("Reading 3 articles…")."""
        if self.name == "reading":
            n = len(self.articles)
            return f"Reading {n} article{'s' * (n != 1)}…"
        return STAGE_MESSAGES[self.name]



class Answer(BaseModel):
    """The result of ``rag.ask``: text with [n] markers, their citations and an answerable flag."""

    question: str = Field(description="The question as asked.")
    answer: str = Field(description="Answer text with [n] markers, or the refusal phrase.")
    answerable: bool = Field(description="False when the articles do not contain the answer.")
    citations: list[Citation] = Field(default_factory=list, description="One per marker n.")
    standalone_question: str | None = Field(
        default=None, description="The question rewritten without chat history, when rewritten."
    )
    retrieved: list[Chunk] = Field(
        default_factory=list, description="Passages retrieved, best first (for evals and the UI)."
    )
    timings: dict[str, float] = Field(
        default_factory=dict, description="Seconds: retrieve_s, ttft_s, llm_s, total_s, ..."
    )
    draft: str | None = Field(
        default=None, description="The model's raw answer before verification (diagnostics)."
    )
    dropped: list[str] = Field(
        default_factory=list, description="Claims of the draft dropped as unsupported (diagnostics)."
    )
    drop_reasons: list[str] = Field(
        default_factory=list,
        description="For each claim of ``dropped``, in order, the grounding rule that dropped it "
        "(a code of ``rag.grounding.DROP_RULES``; diagnostics).",
    )
    refusal_reason: str | None = Field(
        default=None,
        description="Why the answer is a refusal, a code of ``REFUSAL_REASONS`` (None when answered); "
        "``answer`` is then the sentence for people.",
    )
    refusal_detail: str | None = Field(
        default=None,
        description="For a refusal, one plain sentence saying which case it is (``REFUSAL_SENTENCES``: "
        "nothing relevant, filtered out naming the filter, outside the recent window, the person "
        "not quoted, the answer failed its check); None when answered.",
    )
    as_of: str | None = Field(
        default=None, description="The day the question was answered as of (YYYY-MM-DD), as used."
    )
    filters: dict[str, Any] | None = Field(
        default=None, description="The filters applied, as ``Filters.as_dict`` (None: none)."
    )

    @property
    def read_dates(self) -> tuple[str, str] | None:
        """The first and last publication dates of the retrieved articles (None: none dated)."""
        days = sorted(c.published for c in self.retrieved if c.published)
        return (days[0], days[-1]) if days else None

    def contract(self) -> dict[str, Any]:
        """The JSON object printed by ``newsrag ask --json`` and returned by the UI's /ask API."""
        return {
            "question": self.question,
            "answer": self.answer,
            "answerable": self.answerable,
            "citations": [c.contract() for c in self.citations],
            "timings": self.timings,
            "refusal_reason": self.refusal_reason,
        }



@dataclass(frozen=True)
class Filters:
    """Metadata restrictions on what an answer may draw from (the store and BM25 both apply them).

    Args:
        sources: keep only chunks of these sources (exact names).
        date_from / date_to: inclusive publication-date range.
        article_ids: keep only these articles.
    """

    sources: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    article_ids: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, filters: dict | None) -> "Filters":
        """Build from the API's ``{"sources", "date_from", "date_to", "article_ids"}`` dict.

        Raises:
            ValueError: unknown keys, or a date that is not ``YYYY-MM-DD``.
        """
        f = filters or {}
        unknown = set(f) - {"sources", "date_from", "date_to", "article_ids"}
        if unknown:
            raise ValueError(f"unknown filter keys: {', '.join(sorted(unknown))}")
        return cls(
            sources=tuple(f.get("sources") or ()),
            date_from=parse_date(f.get("date_from")),
            date_to=parse_date(f.get("date_to")),
            article_ids=tuple(f.get("article_ids") or ()),
        )

    def as_dict(self) -> dict[str, Any] | None:
        """The API's dict of the set restrictions (dates as ``YYYY-MM-DD``), None when none is."""
        out: dict[str, Any] = {}
        if self.sources:
            out["sources"] = list(self.sources)
        if self.date_from:
            out["date_from"] = self.date_from.isoformat()
        if self.date_to:
            out["date_to"] = self.date_to.isoformat()
        if self.article_ids:
            out["article_ids"] = list(self.article_ids)
        return out or None

    def without(self, names: tuple[str, ...]) -> "Filters":
        """These filters with the restrictions ``names`` (``sources``, ``dates``, ``article_ids``) lifted."""
        return Filters(
            sources=() if "sources" in names else self.sources,
            date_from=None if "dates" in names else self.date_from,
            date_to=None if "dates" in names else self.date_to,
            article_ids=() if "article_ids" in names else self.article_ids,
        )

    @property
    def set_names(self) -> tuple[str, ...]:
        """Which restrictions are set: ``sources``, ``dates``, ``article_ids``."""
        flags = (("sources", self.sources), ("dates", self.date_from or self.date_to), ("article_ids", self.article_ids))
        return tuple(name for name, value in flags if value)

    def described(self, names: tuple[str, ...] = ()) -> list[str]:
        """The restrictions ``names`` (default: all set) in words: ``from CNN or Reuters``,
        ``published between 2014-11-01 and 2014-11-30``, ``among the chosen articles``."""
        names = names or self.set_names
        parts = []
        if "sources" in names and self.sources:
            parts.append("from " + " or ".join(self.sources))
        if "dates" in names and (self.date_from or self.date_to):
            if self.date_from and self.date_to:
                parts.append(f"published between {self.date_from} and {self.date_to}")
            elif self.date_from:
                parts.append(f"published since {self.date_from}")
            else:
                parts.append(f"published up to {self.date_to}")
        if "article_ids" in names and self.article_ids:
            parts.append("among the chosen articles")
        return parts

    @property
    def empty(self) -> bool:
        """True when nothing is restricted."""
        return not (self.sources or self.date_from or self.date_to or self.article_ids)

    def keep(self, chunk: Chunk) -> bool:
        """True when ``chunk`` passes every restriction (an undated chunk fails a date range)."""
        if self.sources and chunk.source not in self.sources:
            return False
        if self.article_ids and chunk.article_id not in self.article_ids:
            return False
        if self.date_from or self.date_to:
            try:
                published = parse_date(chunk.published)
            except ValueError:
                published = None
            if published is None:
                return False
            if self.date_from and published < self.date_from:
                return False
            if self.date_to and published > self.date_to:
                return False
        return True
