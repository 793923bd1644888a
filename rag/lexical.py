"""Lexical side of retrieval: a BM25 index kept in step with the store.

Documents and queries become words through ``rag.text.content_words``, the one place where text
becomes comparable words (the refusal gate, the context and citation support use it too).
The BM25 index (``bm25s``) covers every chunk's title and text, is saved beside the store and is
rebuilt whenever ``Store.revision()`` changes, so it always matches what was ingested.

Retrieval sees the lexical side only through ``LexicalRanker``; ``LEXICAL_RANKERS`` maps the
``lexical_ranker`` setting to a loader. The in-process BM25 (``"bm25"``) is the one ranker here: it
holds every chunk in memory, which bounds it to one machine (docs/scaling.md). A deployment on
Chroma's distributed engine, whose sparse BM25 indexes rank inside the engine, would add a loader
returning a ranker that queries them (the local Chroma build refuses sparse indexes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol, Sequence

import numpy as np

from rag.quotes import quotes_of_chunk
from rag.text import content_words, words
from rag.types import Chunk


def chunk_document(chunk: Chunk) -> str:
    """The text BM25 indexes for a chunk: its article title then its text."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


FIRST_SLICE = 64  # positions ranked before the first look at the filter; each further slice 4x


def best_first(scores: np.ndarray, rows: np.ndarray | None = None) -> Iterator[int]:
    """Positions with a positive score, best first, ties in position order.

    The order of a stable sort of every score, found a slice at a time: only the best
    ``FIRST_SLICE`` (ties at the cut included) are sorted first, then four times as many, and so
    on, so a caller that needs a few of 100,000 chunks sorts a few dozen.

    Args:
        scores: one score per position.
        rows: the positions to rank, ascending (default: all).

    Returns:
        An iterator of positions.
    """
    candidates = np.flatnonzero(scores > 0) if rows is None else rows[scores[rows] > 0]
    given, size = 0, FIRST_SLICE
    while given < len(candidates):
        values = scores[candidates]
        if size < len(candidates):
            cut = np.partition(values, len(values) - size)[len(values) - size]
            part = candidates[values >= cut]  # every position scoring above the worst kept ones
        else:
            part = candidates
        ordered = part[np.argsort(-scores[part], kind="stable")]
        yield from (int(i) for i in ordered[given:])  # a slice's best are the last one's, in order
        given = len(ordered)
        if len(part) == len(candidates):
            return
        size *= 4


class LexicalRanker(Protocol):
    """What hybrid retrieval asks of its lexical side, whatever ranks (in process or in an engine)."""

    def __len__(self) -> int:
        """Chunks it ranks (0: the store is empty)."""
        ...

    def search(
        self, query: str, k: int, keep: Callable[[Chunk], bool] | None = None, only: Sequence[int] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Top-``k`` ``(chunk, score)`` pairs, best first, positive scores only; ``keep`` filters
        chunks, ``only`` restricts ranking to handles from ``quoting``."""
        ...

    def quoting(self, surname: str) -> list[int]:
        """Handles of the chunks quoting a speaker of this lower-cased surname (for ``only``)."""
        ...

    def of_article(self, article_id: str) -> list[Chunk]:
        """Every chunk of one article, in text order."""
        ...


class LexicalIndex:
    """BM25 over chunks (title included), with optional filtering at query time.

    Args:
        chunks: the chunks to index (order defines document ids).
        k1, b: BM25 parameters.
    """

    def __init__(self, chunks: list[Chunk], k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        self.chunks = chunks
        self._by_article: dict[str, list[Chunk]] | None = None
        self._by_speaker: dict[str, list[int]] | None = None
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        corpus = [content_words(chunk_document(c)) or ["_empty_"] for c in chunks]
        self._vocab: dict[str, int] = {}
        if chunks:
            self._bm25.index(self._tokenized(corpus, grow=True), show_progress=False)

    def _tokenized(self, docs: list[list[str]], grow: bool):
        import bm25s

        ids = []
        for doc in docs:
            row = []
            for w in doc:
                if w not in self._vocab:
                    if not grow:
                        continue
                    self._vocab[w] = len(self._vocab)
                row.append(self._vocab[w])
            ids.append(row)
        return bm25s.tokenization.Tokenized(ids=ids, vocab=self._vocab)

    def __len__(self) -> int:
        """Number of chunks indexed."""
        return len(self.chunks)

    def of_article(self, article_id: str) -> list[Chunk]:
        """The indexed chunks of one article, in text order (an index by article built on first use)."""
        if self._by_article is None:
            by_article: dict[str, list[Chunk]] = {}
            for c in self.chunks:
                by_article.setdefault(c.article_id, []).append(c)
            for cs in by_article.values():
                cs.sort(key=lambda c: c.start)
            self._by_article = by_article
        return self._by_article.get(article_id, [])

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for ``query`` (zeros when no query word is known)."""
        terms = [w for w in dict.fromkeys(content_words(query)) if w in self._vocab]
        if not self.chunks or not terms:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self._bm25.get_scores([self._vocab[w] for w in terms]), dtype=np.float32)

    def quoting(self, surname: str) -> list[int]:
        """Positions of the chunks holding a quotation whose speaker has this (lower-cased) surname
        (an index by surname built on first use, from the quotations kept at ingest)."""
        if self._by_speaker is None:
            by_speaker: dict[str, list[int]] = {}
            for i, c in enumerate(self.chunks):
                for name in dict.fromkeys(words(q.surname)[-1] for q in quotes_of_chunk(c) if words(q.surname)):
                    by_speaker.setdefault(name, []).append(i)
            self._by_speaker = by_speaker
        return self._by_speaker.get(surname, [])

    def search(
        self,
        query: str,
        k: int,
        keep: Callable[[Chunk], bool] | None = None,
        only: Sequence[int] | None = None,
    ) -> list[tuple[Chunk, float]]:
        """Top-``k`` chunks by BM25 score (only positive scores), best first.

        Args:
            query: the question.
            k: how many to return.
            keep: optional predicate; chunks for which it is false are skipped (metadata filters).
            only: positions of the chunks to rank (default: all), e.g. from ``quoting``.

        Returns:
            ``(chunk, score)`` pairs.
        """
        scores = self.scores(query)
        rows = None if only is None else np.asarray(sorted(set(only)), dtype=np.int64)
        out: list[tuple[Chunk, float]] = []
        for i in best_first(scores, rows):
            if len(out) >= k:
                break
            c = self.chunks[i]
            if keep is None or keep(c):
                out.append((c, float(scores[i])))
        return out

    # --- persistence -----------------------------------------------------------------------------
    def save(self, folder: Path, revision: str) -> None:
        """Write the index (chunks + BM25 arrays) under ``folder`` tagged with ``revision``."""
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "chunks.jsonl.tmp"
        with tmp.open("w", encoding="utf-8") as f:
            for c in self.chunks:
                f.write(c.model_dump_json() + "\n")
        tmp.replace(folder / "chunks.jsonl")
        (folder / "revision.json").write_text(json.dumps({"revision": revision}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, revision: str) -> "LexicalIndex | None":
        """The saved index when its revision matches, else None."""
        try:
            saved = json.loads((folder / "revision.json").read_text(encoding="utf-8"))
            if saved.get("revision") != revision:
                return None
            with (folder / "chunks.jsonl").open(encoding="utf-8") as f:
                chunks = [Chunk.model_validate_json(line) for line in f if line.strip()]
        except (OSError, ValueError):
            return None
        return cls(chunks)


def load_or_build(
    folder: Path | None, revision: str, get_chunks: Callable[[], Iterable[Chunk]]
) -> LexicalIndex:
    """The BM25 index for a store revision: loaded from ``folder`` if current, else rebuilt and saved.

    Args:
        folder: where the index lives (beside the store); None keeps it in memory only.
        revision: ``Store.revision()``; a different saved revision triggers a rebuild.
        get_chunks: returns every chunk of the store (called only on rebuild).

    Returns:
        A ready ``LexicalIndex``.
    """
    if folder is not None:
        index = LexicalIndex.load(folder, revision)
        if index is not None:
            return index
    index = LexicalIndex(list(get_chunks()))
    if folder is not None:
        try:
            index.save(folder, revision)
        except OSError:
            pass  # a read-only store still answers; the index is rebuilt next time
    return index


RankerLoader = Callable[[Path | None, str, Callable[[], Iterable[Chunk]]], LexicalRanker]
"""``(index folder or None, store revision, all chunks) -> ranker``, as ``load_or_build``."""

LEXICAL_RANKERS: dict[str, RankerLoader] = {"bm25": load_or_build}
"""Lexical rankers by the name the ``lexical_ranker`` setting gives."""
