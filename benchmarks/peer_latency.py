"""Answer latency against the peer, measured in one run so both see the same machine.

``newsrag eval … --preset langchain-tutorial --limit 20`` and the default, one after the other,
compare latencies only when the machine stays equally busy through both runs. Here both pipelines
are built in one process (the same local model, the same settings, each preset's own cached store
of the corpus) and answer the same questions in alternating blocks: ``--block`` questions by one,
the same questions by the other, the order flipped each block, so load that comes and goes falls on
both alike. Blocks rather than single questions keep what each run would have on its own: the
model's prompt cache holding that pipeline's fixed instructions (lost once per block).

    python -m benchmarks.peer_latency [--limit 20] [--block 5]

Prints ``peer_answer_p50_s``, ``peer_ttft_p50_s``, ``ours_answer_p50_s``, ``ours_ttft_p50_s`` and
``answer_p50_ratio`` / ``ttft_p50_ratio`` (ours divided by the peer's: lower is better), with the
load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import rag  # noqa: F401  (offline environment defaults)

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "datasets" / "rtqa-dev"
PRESETS = {"peer": "langchain-tutorial", "ours": "default"}


def timed(pipeline, question) -> tuple[float, float | None]:
    """Wall seconds of one answer and the pipeline's own time to its first token."""
    t0 = time.perf_counter()
    answer = pipeline.answer(question)
    return time.perf_counter() - t0, answer.timings.get("ttft_s")


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20, help="first N questions of the set")
    parser.add_argument("--block", type=int, default=5, help="questions a pipeline answers in a row")
    parser.add_argument("--set", type=Path, default=DEV / "questions.jsonl")
    parser.add_argument("--corpus", type=Path, default=DEV / "articles.jsonl")
    args = parser.parse_args(argv)

    from evals.presets import build_pipeline
    from evals.questions import load_questions
    from rag.settings import load_settings

    settings = load_settings()
    pipelines = {name: build_pipeline(preset, settings, args.corpus, progress=False)
                 for name, preset in PRESETS.items()}
    questions = load_questions(args.set, limit=args.limit + 1)
    warm, questions = questions[0], questions[1:]
    for pipeline in pipelines.values():  # model pages and each pipeline's prompt prefix
        pipeline.answer(warm)
    print(f"peer_load_before={os.getloadavg()[0]:.2f}", flush=True)
    walls: dict[str, list[float]] = {name: [] for name in pipelines}
    ttfts: dict[str, list[float]] = {name: [] for name in pipelines}
    for b, start in enumerate(range(0, len(questions), args.block)):
        order = list(pipelines) if b % 2 == 0 else list(reversed(pipelines))
        for name in order:
            for question in questions[start:start + args.block]:
                wall, ttft = timed(pipelines[name], question)
                walls[name].append(wall)
                if ttft is not None:
                    ttfts[name].append(ttft)
    figures = {}
    for name in pipelines:
        figures[f"{name}_answer_p50_s"] = statistics.median(walls[name])
        figures[f"{name}_ttft_p50_s"] = statistics.median(ttfts[name]) if ttfts[name] else float("nan")
    figures["answer_p50_ratio"] = figures["ours_answer_p50_s"] / figures["peer_answer_p50_s"]
    figures["ttft_p50_ratio"] = figures["ours_ttft_p50_s"] / figures["peer_ttft_p50_s"]
    for key, value in figures.items():
        print(f"{key}={value:.3f}")
    print(f"peer_questions={len(questions)} peer_load_after={os.getloadavg()[0]:.2f}", flush=True)
    return figures


if __name__ == "__main__":
    main()
