"""BM25 ranking a slice at a time gives exactly the order of a stable sort of every score
(positive scores only, ties in position order), with and without filters and restricted rows."""

from __future__ import annotations

import numpy as np
import pytest

from rag.lexical import FIRST_SLICE, LexicalIndex, best_first
from rag.types import Chunk


def _stable_order(scores: np.ndarray, rows: np.ndarray | None = None) -> list[int]:
    """The reference: every position sorted by score, stable, positive scores only."""
    rows = np.arange(len(scores)) if rows is None else rows
    order = rows[np.argsort(-scores[rows], kind="stable")]
    return [int(i) for i in order if scores[i] > 0]


@pytest.mark.parametrize("seed", range(6))
def test_best_first_is_the_stable_order_of_every_positive_score(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    scores = rng.integers(-1, 6, n).astype(np.float32)  # few distinct values: ties at every cut
    scores[rng.random(n) < 0.3] = 0.0
    assert list(best_first(scores)) == _stable_order(scores)
    rows = np.flatnonzero(rng.random(n) < 0.4)
    assert list(best_first(scores, rows)) == _stable_order(scores, rows)


def test_best_first_reads_only_what_it_needs_first():
    scores = np.arange(10 * FIRST_SLICE, dtype=np.float32)
    first = next(best_first(scores))
    assert first == len(scores) - 1
    assert list(best_first(np.zeros(5, dtype=np.float32))) == []
    assert list(best_first(scores, np.array([], dtype=np.int64))) == []


def _chunks(n: int) -> list[Chunk]:
    rng = np.random.default_rng(3)
    vocab = ["rhodes", "ukraine", "sanctions", "trade", "summit", "flooding", "budget", "strike"]
    out = []
    for i in range(n):
        text = " ".join(rng.choice(vocab, size=int(rng.integers(3, 9)))) + "."
        out.append(Chunk(id=f"c{i}", article_id=f"a{i % 17}", text=text, start=0, end=len(text),
                         position=i // 17, title="", source="east" if i % 3 else "west"))
    return out


def _reference_search(index: LexicalIndex, query: str, k: int, keep=None, only=None):
    scores = index.scores(query)
    rows = None if only is None else np.asarray(sorted(set(only)), dtype=np.int64)
    out = []
    for i in _stable_order(scores, rows):
        if len(out) >= k:
            break
        if keep is None or keep(index.chunks[i]):
            out.append((index.chunks[i].id, float(scores[i])))
    return out


@pytest.mark.parametrize("query", ["rhodes sanctions", "trade summit budget", "strike", "nothing known"])
def test_search_matches_a_full_sort_with_filters_and_rows(query):
    index = LexicalIndex(_chunks(900))  # short texts from 8 words: many equal scores
    west = lambda c: c.source == "west"  # noqa: E731
    rare = lambda c: c.id.endswith("7")  # noqa: E731
    only = list(range(0, 900, 5))
    for k, keep, rows in [(5, None, None), (30, None, None), (30, west, None), (200, rare, None),
                          (30, None, only), (30, west, only)]:
        got = [(c.id, s) for c, s in index.search(query, k, keep=keep, only=rows)]
        assert got == _reference_search(index, query, k, keep, rows)
        assert query == "nothing known" or got


def test_retrieval_ranks_through_the_ranker_the_settings_name(monkeypatch):
    """The lexical side is whatever LEXICAL_RANKERS gives for params.lexical_ranker."""
    from conftest import retrieval_params

    from rag import lexical
    from rag.retrieval import HybridRetriever
    from rag.types import Chunk

    chunk = Chunk(id="c1", article_id="a1", text="The harbour froze.", start=0, end=18, position=0)

    class OneChunk:
        def __len__(self):
            return 1

        def search(self, query, k, keep=None, only=None):
            return [(chunk, 3.0)]

        def quoting(self, surname):
            return []

        def of_article(self, article_id):
            return [chunk] if article_id == "a1" else []

    class NoDense:
        def revision(self):
            return "r1"

        def dense_search(self, query, k, filters=None):
            return []

        def all_chunks(self):
            raise AssertionError("the ranker loads what it needs itself")

    loaded = []
    monkeypatch.setitem(lexical.LEXICAL_RANKERS, "bm25",
                        lambda folder, revision, get_chunks: loaded.append(revision) or OneChunk())
    got = HybridRetriever(NoDense(), retrieval_params(lexical_ranker="bm25")).retrieve("anything", k=3)
    assert [c.id for c in got.chunks] == ["c1"] and got.articles == [chunk]
    assert loaded == ["r1"]


def test_an_unknown_lexical_ranker_is_a_settings_error(monkeypatch):
    from rag.errors import SettingsError
    from rag.settings import load_settings

    monkeypatch.setenv("NEWSRAG_LEXICAL_RANKER", "chroma")
    with pytest.raises(SettingsError, match="NEWSRAG_LEXICAL_RANKER=chroma: must be one of bm25"):
        load_settings()
