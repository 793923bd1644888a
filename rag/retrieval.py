"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank, with news-aware priors.

Fusion score of a chunk = sum over rankers of ``1 / (rrf_k + rank)``, plus two mild priors. The
rankers are dense and BM25, and for a question about what a named person said a third one: BM25
over only the chunks holding that person's quotations (kept at ingest), so their words on the
topic are found even when the article's other paragraphs rank higher. The priors:
- *speaker*: when the question asks what a named person said, chunks where that name appears in a
  sentence with quoted speech or a speech verb get a bonus;
- *recency*: chunks from articles published shortly before ``as_of`` get a bonus decaying with age.
Metadata filters (``rag.types.Filters``: sources, date range, article ids) apply to both rankers:
the store turns them into its own query language, BM25 applies ``Filters.keep``.
The result also carries a *relevance* figure used by the refusal gate.

Read top to bottom, ``HybridRetriever.retrieve`` is: rank (dense, BM25, speaker) → ``fuse`` →
``recent_window`` → ``add_priors`` → top k → ``relevance_of``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rag.errors import StoreError
from rag.lexical import LEXICAL_RANKERS, LexicalRanker
from rag.quotes import name_as_written, quotes_of_chunk, speaker_matches
from rag.settings import RetrievalParams
from rag.text import content_words, parse_date, words
from rag.types import Chunk, Filters

__all__ = ["HybridRetriever", "Retrieval", "Candidates", "speakers", "asked_speakers", "fuse", "recent_window", "add_priors"]


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
_NAME = r"(?:[A-Z][\w.'’-]*\s+){0,3}[A-Z][\w'’-]+"
_SUFFIX = r"(?:,?\s+(?:Jr|Sr)\.?|\s+(?:II|III|IV))?"  # "Ferdinand Marcos Jr.": the surname is Marcos
_NAME_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
_SPEAKER_Q = re.compile(
    rf"\b(?:did|does|do|has|have|had|is|was|will|would)\s+(?P<name>{_NAME}){_SUFFIX}"
    r"\s+(?:say|said|tell|told|claim|announce|argue|warn|write|tweet|mean|think|call|describe|"
    r"suggest|promise|add|state|admit|reveal|insist|explain)\b"
    rf"|\b(?i:according)\s+to\s+(?P<name2>{_NAME}){_SUFFIX}",
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
        written = m.group("name") or m.group("name2")
        if re.search(r"['’]s?$", written):  # "according to Fiji's minister": the minister speaks
            continue
        name = [w for w in words(written) if w not in _NAME_SUFFIXES]
        last = name[-1] if name else ""
        if last and last not in out:
            out.append(last)
    return out


def asked_speakers(question: str) -> list[str]:
    """The people the question asks about as speakers, as it writes them ("What did Ben Rhodes say"
    -> ["Ben Rhodes"]), titles left out: with a first name, only a speaker with the same first name
    is that person ("Dick Cheney" is not "Liz Cheney")."""
    return [name_as_written(question, s) for s in speakers(question)]


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


def quoted_by(chunk: Chunk, names: list[str]) -> bool:
    """Whether ``chunk`` holds a quotation spoken by one of ``names`` (quotations kept at ingest)."""
    return any(speaker_matches(q.speaker, n) for q in quotes_of_chunk(chunk) for n in names)


def _spoken_by(names: list[str], keep: Callable[[Chunk], bool] | None) -> Callable[[Chunk], bool]:
    """A chunk filter: chunks holding a quotation of one of ``names`` (and kept by ``keep``)."""
    return lambda chunk: (keep is None or keep(chunk)) and quoted_by(chunk, names)


# --- the retriever --------------------------------------------------------------------------------
@dataclass
class Retrieval:
    """What the retriever found for one query."""

    chunks: list[Chunk]
    relevance: float
    signals: dict[str, float] = field(default_factory=dict)
    quoting: list[Chunk] = field(default_factory=list)
    """For a question about what someone said: the other chunks of the retrieved articles that
    quote that person (a quotation on the topic may sit in a paragraph the search did not rank)."""
    articles: list[Chunk] = field(default_factory=list)
    """Every chunk of the retrieved articles, in text order: the whole article, where grounding
    looks for what a claim is about."""


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


Ranking = list[tuple[Chunk, float]]


@dataclass
class Candidates:
    """Chunks found by any ranker, with their fused scores (changed in place by each step)."""

    scores: dict[str, float] = field(default_factory=dict)
    chunks: dict[str, Chunk] = field(default_factory=dict)

    def top(self, k: int) -> list[Chunk]:
        """The ``k`` best chunks, best first, each carrying its fused score."""
        order = sorted(self.scores, key=lambda cid: -self.scores[cid])[:k]
        return [self.chunks[cid].model_copy(update={"score": round(self.scores[cid], 6)}) for cid in order]


def fuse(rankings: list[Ranking], rrf_k: int) -> Candidates:
    """Reciprocal-rank fusion: each ranking gives a chunk ``1 / (rrf_k + rank)``.

    Args:
        rankings: ``(chunk, score)`` lists, best first.
        rrf_k: the fusion constant.

    Returns:
        The fused candidates.
    """
    found = Candidates()
    for ranking in rankings:
        for rank, (chunk, _score) in enumerate(ranking, start=1):
            found.scores[chunk.id] = found.scores.get(chunk.id, 0.0) + 1.0 / (rrf_k + rank)
            found.chunks.setdefault(chunk.id, chunk)
    return found


def recent_window(found: Candidates, query: str, as_of: dt.date | None, days: int) -> None:
    """For questions about the last few days, drop chunks of articles outside the window.

    ``days`` is the window (0, or no ``as_of``: no window); undated articles stay.
    """
    if not days or as_of is None or not asks_about_recent_days(query):
        return
    for cid in [c for c, chunk in found.chunks.items() if not in_recent_window(_published(chunk), as_of, days)]:
        del found.scores[cid], found.chunks[cid]


def add_priors(found: Candidates, query: str, as_of: dt.date | None, params: RetrievalParams) -> None:
    """Add the speaker prior and (with ``as_of``) the recency prior to the scores, in rank-1 votes."""
    unit = 1.0 / (params.rrf_k + 1)
    names = speakers(query)
    for cid, chunk in found.chunks.items():
        if names and params.speaker_weight and quotes_speaker(chunk, names):
            found.scores[cid] += params.speaker_weight * unit
        if params.recency_weight and as_of is not None:
            found.scores[cid] += params.recency_weight * unit * recency_prior(
                _published(chunk), as_of, params.recency_tau_days
            )


class HybridRetriever:
    """Dense + BM25 retrieval over a ``Store``, fused, filtered and re-ranked with news priors.

    Args:
        store: a ``rag.store.Store`` (anything with ``dense_search``, ``all_chunks``, ``revision``).
        params: fetch size, fusion constant, prior weights and the recent window
            (``Settings.retrieval_params``).
        index_dir: folder where the BM25 index is saved (None: memory only).
    """

    def __init__(self, store: Any, params: RetrievalParams, index_dir: Path | None = None) -> None:
        self.store = store
        self.params = params
        self.index_dir = index_dir
        self._lexical: LexicalRanker | None = None
        self._revision: str | None = None

    def lexical(self) -> LexicalRanker:
        """The lexical ranker ``params.lexical_ranker`` names (the in-process BM25 index by
        default), loaded again when the store's revision changed since it was loaded."""
        revision = str(self.store.revision())
        if self._lexical is None or revision != self._revision:
            self._lexical = LEXICAL_RANKERS[self.params.lexical_ranker](self.index_dir, revision, self.store.all_chunks)
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
        index = self.lexical()  # one look at the store's revision per query
        if not len(index):
            raise StoreError("The store is empty: add articles with `newsrag ingest PATH` first.")
        keep: Callable[[Chunk], bool] | None = None if filters.empty else filters.keep
        dense = self.store.dense_search(query, self.params.fetch_k, filters=filters)
        lexical = index.search(query, self.params.fetch_k, keep=keep)
        rankings = [dense, lexical]
        names = asked_speakers(query)
        if names and self.params.speaker_weight:
            rows = [i for surname in speakers(query) for i in index.quoting(words(surname)[-1])]
            rankings.append(index.search(query, self.params.fetch_k, keep=_spoken_by(names, keep), only=rows))
        found = fuse(rankings, self.params.rrf_k)
        recent_window(found, query, as_of, self.params.recent_window_days)
        add_priors(found, query, as_of, self.params)

        chunks = found.top(k)
        cosine = {chunk.id: score for chunk, score in dense}
        relevance, signals = relevance_of(query, [(c, cosine.get(c.id, float("nan"))) for c in chunks])
        articles = [c for a in dict.fromkeys(c.article_id for c in chunks) for c in index.of_article(a)]
        have = {c.id for c in chunks}
        quoting = [c for c in articles if c.id not in have and quoted_by(c, names)] if names else []
        return Retrieval(chunks=chunks, relevance=relevance, signals=signals, quoting=quoting, articles=articles)


