"""Lexical side of retrieval: word normalisation and a BM25 index kept in step with the store.

``content_words`` is the one place where text becomes comparable words; BM25, the refusal gate,
passage trimming and citation support all use it, so they agree on what a "word" is.
The BM25 index (``bm25s``) covers every chunk's title and text, is saved beside the store and is
rebuilt whenever ``Store.revision()`` changes, so it always matches what was ingested.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from rag.types import Chunk

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can could did didn't do does doesn't doing don't down
    during each few for from further had has have having he her here hers herself him himself his
    how i if in into is isn't it it's its itself just let me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own per same she should so some such than
    that the their theirs them themselves then there these they this those through to too under
    until up upon us very via was we were what when where which while who whom whose why will with
    would you your yours yourself yourselves
    said say says saying told tell tells according week weeks recently recent new newly year years
    today yesterday month months day days time ago one ones many much who's what's
    """.split()
)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def _stem(word: str) -> str:
    """A light, deterministic stemmer: plural endings, then one of -ing/-ed/-ion/-e, so that
    "violated", "violation" and "violates" meet, and "ceasefire"/"ceasefires" too."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed", "ion", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` with possessives removed (``Rhodes's`` -> ``rhodes``)."""
    out = []
    for w in _WORD.findall(text.lower()):
        w = w.replace("’", "'")
        if w.endswith("'s"):
            w = w[:-2]
        out.append(w)
    return out


def content_words(text: str) -> list[str]:
    """Stemmed, stopword-free words of ``text``, in order (duplicates kept).

    Args:
        text: any text (question, passage, answer sentence).

    Returns:
        The list of normalised content words.
    """
    return [_stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


def chunk_document(chunk: Chunk) -> str:
    """The text BM25 indexes for a chunk: its article title then its text."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


class LexicalIndex:
    """BM25 over chunks (title included), with optional filtering at query time.

    Args:
        chunks: the chunks to index (order defines document ids).
        k1, b: BM25 parameters.
    """

    def __init__(self, chunks: list[Chunk], k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        self.chunks = chunks
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

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for ``query`` (zeros when no query word is known)."""
        terms = [w for w in dict.fromkeys(content_words(query)) if w in self._vocab]
        if not self.chunks or not terms:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self._bm25.get_scores([self._vocab[w] for w in terms]), dtype=np.float32)

    def search(
        self, query: str, k: int, keep: Callable[[Chunk], bool] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Top-``k`` chunks by BM25 score (only positive scores), best first.

        Args:
            query: the question.
            k: how many to return.
            keep: optional predicate; chunks for which it is false are skipped (metadata filters).

        Returns:
            ``(chunk, score)`` pairs.
        """
        scores = self.scores(query)
        order = np.argsort(-scores, kind="stable")
        out: list[tuple[Chunk, float]] = []
        for i in order:
            s = float(scores[i])
            if s <= 0 or len(out) >= k:
                break
            c = self.chunks[int(i)]
            if keep is None or keep(c):
                out.append((c, s))
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
