"""ttft_p50_s / answer_p50_s: the default answer backend on the seed question set.

The seed article (``seeds/``) is ingested into ``benchmarks/.cache/seed-store`` (once); the
default pipeline (``rag.pipeline.build_answerer`` with default ``Settings``: hybrid retrieval, the
local llama.cpp model) answers one warm-up question (model load and prompt cache), then each
answerable question of ``evals/sets/seed.jsonl`` (unanswerable ones can be refused without
calling the LLM, which would flatter the figure). ``answer_p50_s`` is the median wall time of
``Answerer.ask``; ``ttft_p50_s`` the median of the pipeline's own time to first answer token.

Run: ``python -m benchmarks.answer_latency``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"


def main(progress: bool = True) -> dict[str, float]:
    """Measure and print ``ttft_p50_s=`` and ``answer_p50_s=``.

    Returns:
        The figures, plus ``answer_backend`` and ``answer_questions``.
    """
    from evals.corpus import is_complete, mark_complete
    from evals.questions import load_questions
    from ingest.pipeline import ingest_paths
    from rag.embeddings import embeddings_from_settings
    from rag.pipeline import build_answerer
    from rag.settings import Settings
    from rag.store import Store

    store_dir = CACHE / "seed-store"
    settings = Settings(store=store_dir, chroma_host=None)
    store = Store.from_settings(settings, embeddings_from_settings(settings))
    if not is_complete(store_dir):
        ingest_paths([ROOT / "seeds"], store, chunk_size=settings.chunk_size,
                     chunk_overlap=settings.chunk_overlap, progress=progress)
        mark_complete(store_dir)
    answerer = build_answerer(settings, store=store)
    answerer.ask("What did Obama and Putin discuss?", as_of="2014-11-11")  # warm-up
    questions = [q for q in load_questions(ROOT / "evals" / "sets" / "seed.jsonl") if q.answerable]
    totals, ttfts = [], []
    for q in questions:
        t0 = time.perf_counter()
        answer = answerer.ask(q.question, as_of=q.asked_on)
        totals.append(time.perf_counter() - t0)
        if "ttft_s" in answer.timings:
            ttfts.append(answer.timings["ttft_s"])
    out = {
        "ttft_p50_s": round(statistics.median(ttfts), 2) if ttfts else float("nan"),
        "answer_p50_s": round(statistics.median(totals), 2),
    }
    print(f"answer_backend={settings.llm}", flush=True)
    print(f"answer_questions={len(questions)}", flush=True)
    for key, value in out.items():
        print(f"{key}={value}", flush=True)
    return out


if __name__ == "__main__":
    main()
