"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank, with news-aware priors.

Fusion score of a chunk = sum over rankers of ``1 / (rrf_k + rank)``, plus two mild priors:
- *speaker*: when the question asks what a named person said, chunks where that name appears in a
  sentence with quoted speech or a speech verb get a bonus;
- *recency*: chunks from articles published shortly before ``as_of`` get a bonus decaying with age.
Metadata filters (sources, date range, article ids) apply to both rankers.
The result also carries a *relevance* figure used by the refusal gate.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rag.errors import StoreError
from rag.lexical import LexicalIndex, content_words, load_or_build, words
from rag.types import Chunk

EPOCH = dt.date(1970, 1, 1)


# --- filters ------------------------------------------------------------------------------------
def parse_date(value: Any) -> dt.date | None:
    """A ``date`` from a date, datetime or ``YYYY-MM-DD`` string (None stays None).

    Raises:
        ValueError: for a string that is not an ISO date.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Filters:
    """Metadata restrictions applied to every ranker.

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
        """Build from the API's ``{"sources", "date_from", "date_to", "article_ids"}`` dict."""
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

    @property
    def empty(self) -> bool:
        """True when nothing is restricted."""
        return not (self.sources or self.date_from or self.date_to or self.article_ids)

    def where(self) -> dict | None:
        """The equivalent Chroma ``where`` clause over chunk metadata (None when empty)."""
        clauses: list[dict] = []
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if self.article_ids:
            clauses.append({"article_id": {"$in": list(self.article_ids)}})
        if self.date_from:
            clauses.append({"published_ts": {"$gte": (self.date_from - EPOCH).days}})
        if self.date_to:
            clauses.append({"published_ts": {"$lte": (self.date_to - EPOCH).days}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def keep(self, chunk: Chunk) -> bool:
        """True when ``chunk`` passes every restriction (the lexical side of ``where``)."""
        if self.sources and chunk.source not in self.sources:
            return False
        if self.article_ids and chunk.article_id not in self.article_ids:
            return False
        if self.date_from or self.date_to:
            published = _published(chunk)
            if published is None:
                return False
            if self.date_from and published < self.date_from:
                return False
            if self.date_to and published > self.date_to:
                return False
        return True


def _published(chunk: Chunk) -> dt.date | None:
    try:
        return parse_date(chunk.published)
    except ValueError:
        return None


# --- news priors --------------------------------------------------------------------------------
_SPEECH = re.compile(
    r"[\"“”‘’]|\b(?:said|says|say|told|tells|added|adds|stated|wrote|tweeted|warned|announced|"
    r"argued|claimed|insisted|explained|noted|asked|according)\b",
    re.IGNORECASE,
)
_SPEAKER_Q = re.compile(
    r"\b(?:did|does|do|has|have|had|is|was|will|would)\s+(?P<name>(?:[A-Z][\w.'’-]*\s+){0,3}[A-Z][\w'’-]+)"
    r"\s+(?:say|said|tell|told|claim|announce|argue|warn|write|tweet|mean|think|call|describe|"
    r"suggest|promise|add|state|admit|reveal|insist|explain)\b"
    r"|\baccording\s+to\s+(?P<name2>(?:[A-Z][\w.'’-]*\s+){0,3}[A-Z][\w'’-]+)",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def speakers(question: str) -> list[str]:
    """Surnames of people the question asks about as speakers ("What did Ben Rhodes say ..." -> ["rhodes"]).

    Args:
        question: the (standalone) question.

    Returns:
        Lower-cased last names, possibly empty.
    """
    out = []
    for m in _SPEAKER_Q.finditer(question):
        name = m.group("name") or m.group("name2")
        last = words(name)[-1] if words(name) else ""
        if last and last not in out:
            out.append(last)
    return out


def quotes_speaker(chunk: Chunk, names: list[str]) -> bool:
    """True when one of ``names`` occurs in a sentence of ``chunk`` with quotes or a speech verb."""
    for sentence in _SENTENCE_END.split(chunk.text):
        if _SPEECH.search(sentence) and set(names) & set(words(sentence)):
            return True
    return False


_RECENT = re.compile(
    r"\b(this (?:week|weekend|morning|evening)|today|tonight|yesterday|"
    r"on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
    re.IGNORECASE,
)


def asks_about_recent_days(question: str) -> bool:
    """True when the question is about the last few days ("this week", "yesterday", "on Tuesday")."""
    return bool(_RECENT.search(question))


def in_recent_window(published: dt.date | None, as_of: dt.date, days: int) -> bool:
    """True when an article published on ``published`` can report news of the days before ``as_of``
    (published at most ``days`` before it and not after the next day); undated articles pass."""
    if published is None:
        return True
    return as_of - dt.timedelta(days=days) <= published <= as_of + dt.timedelta(days=1)


def recency_prior(published: dt.date | None, as_of: dt.date | None, tau_days: float) -> float:
    """Bonus in [0, 1] for an article published shortly before ``as_of`` (0 if after or unknown).

    Args:
        published: the article's date.
        as_of: the day the question refers to.
        tau_days: decay constant: an article ``tau_days`` old gets ``1/e``.
    """
    if published is None or as_of is None:
        return 0.0
    age = (as_of - published).days
    if age < -1:  # published after the question's date: cannot be what "this week" means
        return 0.0
    return math.exp(-max(age, 0) / tau_days)


# --- the retriever --------------------------------------------------------------------------------
@dataclass
class Retrieval:
    """What the retriever found for one query."""

    chunks: list[Chunk]
    relevance: float
    signals: dict[str, float] = field(default_factory=dict)


def question_overlap(question: str, chunk: Chunk) -> float:
    """Share of the question's distinct content words found in the chunk (title included)."""
    q = set(content_words(question))
    if not q:
        return 0.0
    return len(q & set(content_words(f"{chunk.title}\n{chunk.text}"))) / len(q)


def relevance_of(question: str, chunks: list[tuple[Chunk, float]]) -> tuple[float, dict[str, float]]:
    """Relevance for the refusal gate: best of (dense cosine + question-word overlap) over ``chunks``.

    Args:
        question: the standalone question.
        chunks: candidate chunks with their dense cosine (``float('nan')`` when unknown).

    Returns:
        ``(relevance, signals)`` where ``signals`` holds the components of the best chunk.
    """
    best, signals = 0.0, {"dense": 0.0, "overlap": 0.0}
    for chunk, cosine in chunks:
        cos = 0.0 if cosine is None or math.isnan(cosine) else cosine
        ov = question_overlap(question, chunk)
        score = 0.5 * cos + 0.5 * ov
        if score > best:
            best, signals = score, {"dense": round(cos, 4), "overlap": round(ov, 4)}
    return round(best, 4), signals


class HybridRetriever:
    """Dense + BM25 retrieval over a ``Store``, fused, filtered and re-ranked with news priors.

    Args:
        store: a ``rag.store.Store`` (anything with ``dense_search``, ``all_chunks``, ``revision``).
        index_dir: folder where the BM25 index is saved (None: memory only).
        fetch_k: candidates taken from each ranker.
        rrf_k: reciprocal-rank-fusion constant.
        recency_weight: weight of the recency prior (0 disables it), in units of a rank-1 vote.
        recency_tau_days: decay constant of the recency prior.
        speaker_weight: weight of the speaker prior, in units of a rank-1 vote.
        recent_window_days: for questions about the last few days ("this week", "yesterday"),
            only articles published at most this many days before ``as_of`` are kept (undated
            ones too); 0 disables the window.
    """

    def __init__(
        self,
        store: Any,
        index_dir: Path | None = None,
        fetch_k: int = 30,
        rrf_k: int = 60,
        recency_weight: float = 0.0,
        recency_tau_days: float = 7.0,
        speaker_weight: float = 1.0,
        recent_window_days: int = 0,
    ) -> None:
        self.store = store
        self.recent_window_days = recent_window_days
        self.index_dir = index_dir
        self.fetch_k = fetch_k
        self.rrf_k = rrf_k
        self.recency_weight = recency_weight
        self.recency_tau_days = recency_tau_days
        self.speaker_weight = speaker_weight
        self._lexical: LexicalIndex | None = None
        self._revision: str | None = None

    def lexical(self) -> LexicalIndex:
        """The BM25 index, rebuilt when the store's revision changed since it was built."""
        revision = str(self.store.revision())
        if self._lexical is None or revision != self._revision:
            self._lexical = load_or_build(self.index_dir, revision, self.store.all_chunks)
            self._revision = revision
        return self._lexical

    def retrieve(
        self,
        query: str,
        k: int,
        filters: Filters | None = None,
        as_of: dt.date | None = None,
    ) -> Retrieval:
        """The ``k`` best chunks for ``query``, best first, with the refusal relevance.

        Args:
            query: standalone question.
            k: number of chunks to return.
            filters: metadata restrictions (None: none).
            as_of: the day the question refers to (None: no recency prior).

        Returns:
            A ``Retrieval``.

        Raises:
            StoreError: when the store holds no chunks.
        """
        filters = filters or Filters()
        if not self.lexical().chunks:
            raise StoreError("The store is empty: add articles with `newsrag ingest PATH` first.")
        keep: Callable[[Chunk], bool] | None = None if filters.empty else filters.keep
        dense = self.store.dense_search(query, self.fetch_k, where=filters.where())
        lexical = self.lexical().search(query, self.fetch_k, keep=keep)

        fused: dict[str, float] = {}
        by_id: dict[str, Chunk] = {}
        cosine: dict[str, float] = {}
        for ranking in (dense, lexical):
            for rank, (chunk, _score) in enumerate(ranking, start=1):
                fused[chunk.id] = fused.get(chunk.id, 0.0) + 1.0 / (self.rrf_k + rank)
                by_id.setdefault(chunk.id, chunk)
        for chunk, score in dense:
            cosine[chunk.id] = score

        if self.recent_window_days and as_of is not None and asks_about_recent_days(query):
            for cid in [c for c, chunk in by_id.items()
                        if not in_recent_window(_published(chunk), as_of, self.recent_window_days)]:
                del fused[cid], by_id[cid]

        unit = 1.0 / (self.rrf_k + 1)
        names = speakers(query)
        for cid, chunk in by_id.items():
            if names and self.speaker_weight and quotes_speaker(chunk, names):
                fused[cid] += self.speaker_weight * unit
            if self.recency_weight and as_of is not None:
                fused[cid] += self.recency_weight * unit * recency_prior(
                    _published(chunk), as_of, self.recency_tau_days
                )

        order = sorted(fused, key=lambda cid: -fused[cid])[:k]
        chunks = [by_id[cid].model_copy(update={"score": round(fused[cid], 6)}) for cid in order]
        relevance, signals = relevance_of(
            query, [(by_id[cid], cosine.get(cid, float("nan"))) for cid in order]
        )
        return Retrieval(chunks=chunks, relevance=relevance, signals=signals)
