"""retrieval_p50_ms_10k / retrieval_p50_ms_100k: query embedding + hybrid retrieval latency.

Synthetic news-like chunks go into two stores under ``benchmarks/.cache/`` (built once, reused)
of 10,000 and 100,000 chunks. 2,000 synthetic texts are embedded for real; every further chunk
is one of them with three words replaced (so BM25 sees distinct documents) and its vector
jittered by Gaussian noise (sigma 0.02 per dimension, re-normalised), so no store needs more
than 2,000 texts embedded. Each query is timed end to end through
``rag.retrieval.HybridRetriever.retrieve`` (dense search, which embeds the query, plus BM25,
fused, top 5), after one warm-up query that loads the lexical index.

Run: ``python -m benchmarks.retrieval_latency [--sizes 10000 100000]``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from rag.types import Article, Chunk, content_hash

CACHE = Path(__file__).resolve().parent / ".cache"
CHUNKS_PER_ARTICLE = 50
BASE = 2_000

_PEOPLE = ["Rhodes", "Meehan", "Putin", "Obama", "Xi", "Merkel", "Modi", "Lula", "Macron", "Kishida",
           "Ramaphosa", "Albanese", "Trudeau", "Sanchez", "Meloni", "Erdogan", "Zelensky", "Biden"]
_PLACES = ["Beijing", "Kiev", "Moscow", "Sydney", "Brasilia", "Delhi", "Paris", "Tokyo", "Pretoria",
           "Ottawa", "Madrid", "Rome", "Ankara", "Washington", "Berlin", "Nairobi", "Lima", "Oslo"]
_TOPICS = ["sanctions", "trade", "the ceasefire", "energy prices", "the election", "flooding",
           "inflation", "the summit", "a nuclear deal", "wildfires", "vaccines", "the budget",
           "interest rates", "a heat wave", "the strike", "migration", "chip exports", "tariffs"]
_VERBS = ["said", "warned", "announced", "denied", "confirmed", "argued", "told reporters",
          "insisted", "suggested", "promised"]
_EXTRA = ["officials", "analysts", "lawmakers", "markets", "residents", "diplomats", "investors",
          "farmers", "students", "doctors", "engineers", "voters"]


def synthetic_text(rng: random.Random) -> str:
    """One news-like chunk of four to six sentences."""
    out = []
    for _ in range(rng.randint(4, 6)):
        p, q = rng.sample(_PEOPLE, 2)
        out.append(
            f"{p} {rng.choice(_VERBS)} in {rng.choice(_PLACES)} on {rng.choice(['Monday', 'Tuesday', 'Friday'])} "
            f"that {rng.choice(_TOPICS)} would {rng.choice(['come up', 'worsen', 'ease', 'dominate talks'])} "
            f"after {q} met {rng.randint(2, 90)} {rng.choice(_EXTRA)}."
        )
    return " ".join(out)


def queries(n: int = 20, seed: int = 7) -> list[str]:
    """Question-like queries over the same vocabulary."""
    rng = random.Random(seed)
    return [
        f"What did {rng.choice(_PEOPLE)} say about {rng.choice(_TOPICS)} in {rng.choice(_PLACES)}?"
        for _ in range(n)
    ]


def base_texts() -> list[str]:
    """The ``BASE`` synthetic texts every synthetic store is made of."""
    rng = random.Random(13)
    return [synthetic_text(rng) for _ in range(BASE)]


def variant_text(base: list[str], i: int) -> str:
    """The text of synthetic chunk ``i``: base text ``i % BASE``, with three words replaced from the
    ``BASE``-th chunk on (so BM25 sees distinct documents)."""
    if i < len(base):
        return base[i]
    words = base[i % len(base)].split()
    vrng = random.Random(i)
    for _ in range(3):
        words[vrng.randrange(len(words))] = vrng.choice(_PLACES + _EXTRA + _PEOPLE)
    return " ".join(words)


def _base_vectors(embeddings, texts: list[str]) -> np.ndarray:
    path = CACHE / f"base-vectors-{BASE}-{content_hash(''.join(texts[:50]), 8)}.npy"
    if path.exists():
        return np.load(path)
    vecs = np.asarray(embeddings.embed_documents(texts), dtype=np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def _outdated(store) -> bool:
    """Whether a cached store was built before chunks kept their quotations (retrieval would find
    them again in every chunk it reads, as for no store written today)."""
    hits = store.dense_search("officials said", 1)
    return bool(hits) and hits[0][0].quotes is None


def build_store(n: int, embeddings, progress: bool = True):
    """The synthetic store of ``n`` chunks (built on first use, then reused; rebuilt when it was
    cached by a version that did not keep quotations with chunks).

    Args:
        n: number of chunks (a multiple of 50).
        embeddings: the project's embedder (real vectors for the first 2,000 texts).
        progress: show a progress bar while building.

    Returns:
        ``(store, store_dir)``.
    """
    from tqdm import tqdm

    from evals.corpus import is_complete, mark_complete
    from rag.store import Store

    store_dir = CACHE / f"retrieval-{n}"
    if is_complete(store_dir):
        store = Store(store_dir, "bench", embeddings)
        if not _outdated(store):
            return store, store_dir
        shutil.rmtree(store_dir)
    store = Store(store_dir, "bench", embeddings)
    texts_of_base = base_texts()
    base = _base_vectors(embeddings, texts_of_base)
    noise = np.random.default_rng(5)
    for a in tqdm(range(n // CHUNKS_PER_ARTICLE), desc=f"synthetic store {n}", disable=not progress):
        article_id = f"syn-{a:06d}"
        texts, vectors = [], []
        for j in range(CHUNKS_PER_ARTICLE):
            i = a * CHUNKS_PER_ARTICLE + j
            b = i % BASE
            texts.append(variant_text(texts_of_base, i))
            if i < BASE:
                vectors.append(base[b])
            else:
                v = base[b] + noise.normal(0.0, 0.02, base.shape[1]).astype(np.float32)
                vectors.append(v / np.linalg.norm(v))
        full = "\n\n".join(texts)
        chunks, at = [], 0
        for pos, t in enumerate(texts):
            chunks.append(Chunk(id=content_hash(f"{article_id}\0{pos}\0{t}"), article_id=article_id,
                                text=t, start=at, end=at + len(t), position=pos,
                                title=f"Synthetic article {a}", published="2022-07-01", source="synthetic"))
            at += len(t) + 2
        article = Article(id=article_id, title=f"Synthetic article {a}", text=full,
                          published="2022-07-01", source="synthetic")
        store.put_article(article, chunks, [v.tolist() for v in vectors])
    mark_complete(store_dir)
    return store, store_dir


def measure(n: int, embeddings, n_queries: int = 20, k: int = 5, progress: bool = True) -> float:
    """Median milliseconds of one hybrid retrieval (query embedding included) on ``n`` chunks.

    Args:
        n: store size in chunks.
        embeddings: the project's embedder.
        n_queries: timed queries.
        k: chunks returned per query.
        progress: progress bar while building the store.

    Returns:
        The p50 in milliseconds.
    """
    from rag.retrieval import HybridRetriever
    from rag.settings import Settings

    store, store_dir = build_store(n, embeddings, progress=progress)
    retriever = HybridRetriever(store, Settings().retrieval_params, index_dir=store_dir / "bm25")
    retriever.retrieve("warm up the lexical index", k)
    times = []
    for q in queries(n_queries):
        t0 = time.perf_counter()
        got = retriever.retrieve(q, k)
        times.append((time.perf_counter() - t0) * 1000)
        assert len(got.chunks) == k
    return statistics.median(times)


def main(sizes: tuple[int, ...] = (10_000, 100_000), progress: bool = True) -> dict[str, float]:
    """Measure every size and print ``retrieval_p50_ms_<size>=`` lines.

    Returns:
        ``{"retrieval_p50_ms_10k": ..., ...}``.
    """
    from rag.embeddings import embeddings_from_settings
    from rag.settings import Settings

    embeddings = embeddings_from_settings(Settings())
    out = {}
    for n in sizes:
        key = f"retrieval_p50_ms_{n // 1000}k"
        out[key] = round(measure(n, embeddings, progress=progress), 1)
        print(f"{key}={out[key]}", flush=True)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    main(tuple(ap.parse_args().sizes))
