"""Dense retrieval recall@k on rtqa-dev for several chunk sizes (and embedders).

For each chunk size the whole corpus is chunked as ``newsrag ingest`` does, every chunk embedded,
and each answerable question counts as a hit when a chunk of one of its gold articles is among
the k chunks most similar to the question (exact cosine search, as the store's ranking).

    python -m benchmarks.chunk_size_recall --sizes 400,600,800,1000 --models minilm-int8

Prints ``key=value`` lines, e.g. ``recall_at_5.minilm-int8.600=0.964``.

Measured (2 shared cores, ``--distractors 0``: the 88 gold articles of the 84 answerable
questions as the corpus, overlap 1 sentence):

    size  model        recall@5  MRR    chunks
    400   minilm-int8  0.940     0.888  2129
    600   minilm-int8  0.964     0.887  1288
    800   minilm-int8  0.940     0.883   851
    1000  minilm-int8  0.952     0.862   650
    600   minilm       0.964     0.883  1288

hence the defaults ``chunk_size=600`` and ``embedding_model="minilm-int8"``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ingest.chunking import chunk_article
from ingest.pipeline import iter_articles
from rag.embeddings import get_embeddings

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "rtqa-dev"


def recall_at_k(
    articles, questions, model: str, chunk_size: int, chunk_overlap: int, k: int, batch_size: int = 32
) -> dict[str, float]:
    """Recall@k, MRR of the first gold chunk, and embedding throughput for one configuration.

    Args:
        articles: the corpus (``Article`` records).
        questions: answerable question records with ``question`` and ``gold_article_ids``.
        model: embedder name (see ``rag.embeddings.get_embeddings``).
        chunk_size: chunk size in characters.
        chunk_overlap: overlap in sentences.
        k: cut-off.
        batch_size: embedding batch size.

    Returns:
        ``{"recall", "mrr", "chunks", "embed_s", "chunks_per_s"}``.
    """
    emb = get_embeddings(model, batch_size)
    chunks = [c for a in articles for c in chunk_article(a, chunk_size, chunk_overlap, emb.count_tokens,
                                                         emb.max_content_tokens)]
    t0 = time.perf_counter()
    vecs = np.asarray(emb.embed_documents([c.text for c in chunks]), dtype=np.float32)
    embed_s = time.perf_counter() - t0
    owners = np.array([c.article_id for c in chunks])
    qvecs = np.asarray(emb.embed_documents([q["question"] for q in questions]), dtype=np.float32)
    hits, rr = 0, 0.0
    for q, qv in zip(questions, qvecs):
        order = np.argsort(-(vecs @ qv))
        gold = set(q["gold_article_ids"])
        ranks = [i for i, idx in enumerate(order[:100]) if owners[idx] in gold]
        if ranks and ranks[0] < k:
            hits += 1
        if ranks:
            rr += 1.0 / (ranks[0] + 1)
    return {
        "recall": hits / len(questions),
        "mrr": rr / len(questions),
        "chunks": len(chunks),
        "embed_s": embed_s,
        "chunks_per_s": len(chunks) / embed_s if embed_s else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print ``key=value`` lines.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status.
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="rtqa-dev folder")
    ap.add_argument("--sizes", default="400,600,800,1000", help="chunk sizes in characters")
    ap.add_argument("--overlap", type=int, default=1, help="overlap in sentences")
    ap.add_argument("--models", default="minilm-int8", help="comma-separated embedder names")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--distractors", type=int, default=None,
                    help="corpus = gold articles + this many others (default: the whole corpus)")
    args = ap.parse_args(argv)
    articles = list(iter_articles([args.data / "articles.jsonl"], max_bytes=1 << 30))
    ids = {a.id for a in articles}
    questions = [json.loads(line) for line in (args.data / "questions.jsonl").read_text().splitlines() if line.strip()]
    questions = [q for q in questions if q.get("answerable") and ids & set(q["gold_article_ids"])]
    if args.distractors is not None:
        gold = {g for q in questions for g in q["gold_article_ids"]}
        others = sorted((a for a in articles if a.id not in gold), key=lambda a: a.id)[: args.distractors]
        articles = [a for a in articles if a.id in gold] + others
    print(f"articles={len(articles)}", flush=True)
    print(f"questions={len(questions)}", flush=True)
    for model in args.models.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            r = recall_at_k(articles, questions, model, size, args.overlap, args.k)
            key = f"{model}.{size}"
            print(f"recall_at_{args.k}.{key}={r['recall']:.3f}", flush=True)
            print(f"mrr.{key}={r['mrr']:.3f}", flush=True)
            print(f"chunks.{key}={r['chunks']}", flush=True)
            print(f"embed_chunks_per_s.{key}={r['chunks_per_s']:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
