"""``make bench``: every benchmark figure of the project as ``key=value`` lines.

In one process, in order: ``llm_prompt_tok_s`` and ``llm_decode_tok_s`` of the default model and
their ratios to the Q4_K_M baseline (``benchmarks.llm_speed.bench``), ``ingest_vs_raw_ratio``
(``benchmarks.ingest_ratio``, on the first articles of rtqa-dev so it takes a few minutes), ``retrieval_p50_ms_10k`` and
``retrieval_p50_ms_100k`` (``benchmarks.retrieval_latency``), ``ttft_p50_s`` and ``answer_p50_s``
(``benchmarks.answer_latency``), then ``peak_rss_mb``: the peak resident memory of this process
over the whole run (embedder, 100k-chunk store and BM25 index, local LLM all loaded).
Definitions and last measured values: ``benchmarks/README.md``.
"""

from __future__ import annotations

import resource
import sys
import time

import rag  # noqa: F401  (the offline environment defaults)

INGEST_ARTICLES = 120


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _ingest_ratio() -> None:
    from benchmarks import ingest_ratio

    ingest_ratio.main(["--limit", str(INGEST_ARTICLES)])


def main() -> int:
    """Run every benchmark; a failing one prints ``<name>_error=`` and the others still run.

    Returns:
        Exit status: 0 when every benchmark ran, 1 otherwise.
    """
    from benchmarks import answer_latency, llm_speed, retrieval_latency

    steps = [
        ("llm_speed", llm_speed.bench),
        ("ingest_ratio", _ingest_ratio),
        ("retrieval_latency", lambda: retrieval_latency.main(progress=False)),
        ("answer_latency", lambda: answer_latency.main(progress=False)),
    ]
    failed = 0
    for name, step in steps:
        t0 = time.perf_counter()
        try:
            step()
        except Exception as err:  # report and go on: one broken figure must not hide the others
            failed += 1
            print(f"{name}_error={type(err).__name__}: {err}", flush=True)
        print(f"{name}_bench_s={time.perf_counter() - t0:.1f}", file=sys.stderr, flush=True)
    print(f"peak_rss_mb={peak_rss_mb()}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
