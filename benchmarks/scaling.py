"""How retrieval scales with the store: 10k, 100k and 1M synthetic chunks on one machine.

For each size of ``benchmarks.retrieval_latency``'s synthetic stores (built once under
``benchmarks/.cache/``, reused):
- ``retrieval_p50_ms_<n>``: one hybrid retrieval end to end (``retrieval_latency.measure``);
- ``chroma_query_p50_ms_<n>``: Chroma's dense query alone (30 nearest, vector given);
- ``chunks_read_s_<n>``: reading every chunk out of Chroma, as a BM25 rebuild does;
- ``bm25_build_s_<n>``: building the in-process BM25 index (``rag.lexical.LexicalIndex``) from them;
- ``bm25_query_p50_ms_<n>``: its top 30 for a query;
- ``chunks_mb_<n>`` and ``bm25_index_mb_<n>``: how much the process's resident memory grew while
  the chunk list was read and while the index was built (each kept for the next step).
``--lexical-only`` sizes (1M by default) skip Chroma: their chunks are made in memory, with the
same texts the stores hold, as embedding a million chunks here would take days.

Run: ``python -m benchmarks.scaling [--sizes 10000 100000] [--lexical-only 1000000]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.retrieval_latency import base_texts, build_store, measure, queries, variant_text
from rag.lexical import LexicalIndex
from rag.types import Chunk, content_hash


def _label(n: int) -> str:
    return f"{n // 1_000_000}m" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def _p50_ms(run: Callable[[str], Any], texts: list[str]) -> float:
    times = []
    for q in texts:
        t0 = time.perf_counter()
        run(q)
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1)


def _rss_mb() -> float:
    """This process's resident memory (MB), from /proc."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _timed_held(make: Callable[[], Any]) -> tuple[Any, float, float]:
    """``make()``'s result, its seconds, and how much resident memory (MB) grew while it ran."""
    gc.collect()
    before, t0 = _rss_mb(), time.perf_counter()
    made = make()
    return made, round(time.perf_counter() - t0, 2), round(_rss_mb() - before, 1)


def synthetic_chunks(n: int) -> list[Chunk]:
    """``n`` chunks with the synthetic stores' texts, titles and layout, made in memory."""
    base = base_texts()
    out = []
    for i in range(n):
        a, pos = divmod(i, 50)
        text = variant_text(base, i)
        out.append(Chunk(id=content_hash(f"syn-{a:06d}\0{pos}\0{text}"), article_id=f"syn-{a:06d}", text=text,
                         start=0, end=len(text), position=pos, title=f"Synthetic article {a}",
                         published="2022-07-01", source="synthetic"))
    return out


def lexical_figures(n: int, get_chunks: Callable[[], list[Chunk]], prefix: str = "") -> dict[str, float]:
    """Time and memory of the chunk list and its BM25 index, and BM25 query p50.

    Args:
        n: store size (for the keys).
        get_chunks: reads or makes every chunk.
        prefix: key prefix ("" or "lexical_only_").

    Returns:
        The figures by key.
    """
    key = _label(n)
    out: dict[str, float] = {}
    chunks, out[f"{prefix}chunks_read_s_{key}"], out[f"chunks_mb_{key}"] = _timed_held(get_chunks)
    index, out[f"bm25_build_s_{key}"], out[f"bm25_index_mb_{key}"] = _timed_held(lambda: LexicalIndex(chunks))
    out[f"bm25_query_p50_ms_{key}"] = _p50_ms(lambda q: index.search(q, 30), queries())
    return out


def store_figures(n: int, embeddings: Any) -> dict[str, float]:
    """Every figure of one synthetic store of ``n`` chunks (built on first use)."""
    store, _ = build_store(n, embeddings)
    key = _label(n)
    out = {f"retrieval_p50_ms_{key}": round(measure(n, embeddings), 1)}
    vectors = [store.embed_query(q) for q in queries()]
    store.dense_search_by_vector(vectors[0], 30)
    it = iter(vectors)
    out[f"chroma_query_p50_ms_{key}"] = _p50_ms(lambda _q: store.dense_search_by_vector(next(it), 30), queries())
    out.update(lexical_figures(n, store.all_chunks))
    return out


def main(sizes: tuple[int, ...] = (10_000, 100_000), lexical_only: tuple[int, ...] = (1_000_000,)) -> dict[str, float]:
    """Measure every size and print one ``key=value`` line per figure.

    Returns:
        The figures by key.
    """
    from rag.embeddings import embeddings_from_settings
    from rag.settings import Settings

    embeddings = embeddings_from_settings(Settings())
    out: dict[str, float] = {}
    for n in sizes:
        figures = store_figures(n, embeddings)
        for k, v in figures.items():
            print(f"{k}={v}", flush=True)
        out.update(figures)
    for n in lexical_only:
        figures = lexical_figures(n, lambda n=n: synthetic_chunks(n), prefix="made_")
        for k, v in figures.items():
            print(f"{k}={v}", flush=True)
        out.update(figures)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--lexical-only", type=int, nargs="*", default=[1_000_000])
    args = ap.parse_args()
    main(tuple(args.sizes), tuple(args.lexical_only))
