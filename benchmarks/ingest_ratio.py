"""Ingest throughput (chunks/s, end to end) against raw ``SentenceTransformer.encode`` on the
same chunk texts, measured in one run (interleaved in rounds, so both see the same load).

End to end means: read the .jsonl, normalise, chunk, embed (the configured embedder, by default
the int8 ONNX MiniLM), write chunks and articles into a fresh embedded Chroma store. The raw
figure encodes exactly the chunk texts that were stored with the fp32 sentence-transformers
model (batch 32). Models are loaded before either clock starts.

    python -m benchmarks.ingest_ratio [--limit 120] [--data articles.jsonl]

Prints ``key=value`` lines ending with ``ingest_vs_raw_ratio=`` (goal: 1.3 or more on an idle
machine), with the load average before and after and the process CPU time of each side: under load
from other jobs the two-threaded fp32 ``encode`` slows far more than the ingest, and the ratio with it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "rtqa-dev" / "articles.jsonl"


def measure(data: Path, limit: int | None, model: str, chunk_size: int, chunk_overlap: int,
            batch_size: int = 32, round_articles: int = 10) -> dict[str, float]:
    """Ingest ``data`` (first ``limit`` lines) into a fresh store and raw-encode its chunk texts.

    The two are interleaved in rounds of ``round_articles`` articles (ingest a round, then
    raw-encode that round's stored chunk texts), so that both see the same machine load.

    Args:
        data: a .jsonl corpus.
        limit: number of lines to use (None: all).
        model: embedder name for the ingest (see ``rag.embeddings.get_embeddings``).
        chunk_size: chunk size in characters.
        chunk_overlap: overlap in sentences.
        batch_size: embedding batch size for both.
        round_articles: articles per round.

    Returns:
        The figures (see ``main``).
    """
    from sentence_transformers import SentenceTransformer

    from ingest.pipeline import ingest_paths
    from rag.embeddings import get_embeddings, minilm_dir
    from rag.store import Store

    embeddings = get_embeddings(model, batch_size)
    embeddings.embed_documents(["warm up the embedder"])
    raw_model = SentenceTransformer(str(minilm_dir()), device="cpu")
    raw_model.encode(["warm up the raw model"], batch_size=batch_size)

    with data.open(encoding="utf-8") as src:
        lines = [line for line in itertools.islice(src, limit) if line.strip()]
    ingest_s = raw_s = ingest_cpu = raw_cpu = 0.0
    chunks = articles = 0
    load_before = os.getloadavg()[0]
    failed: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="newsrag-bench-") as tmp:
        store = Store(Path(tmp) / "store", "bench", embeddings)
        for r, i in enumerate(range(0, len(lines), round_articles)):
            corpus = Path(tmp) / f"round{r}.jsonl"
            corpus.write_text("".join(lines[i : i + round_articles]), encoding="utf-8")
            before = {c.id for c in store.all_chunks()}
            t0, c0 = time.perf_counter(), time.process_time()
            report = ingest_paths([corpus], store, chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                                  max_bytes=1 << 30, progress=False)
            ingest_s += time.perf_counter() - t0
            ingest_cpu += time.process_time() - c0
            failed += report.failed
            articles += report.added
            texts = [c.text for c in store.all_chunks() if c.id not in before]
            chunks += len(texts)
            t0, c0 = time.perf_counter(), time.process_time()
            raw_model.encode(texts, batch_size=batch_size)
            raw_s += time.perf_counter() - t0
            raw_cpu += time.process_time() - c0
    if failed:
        raise RuntimeError(f"ingest failed for {len(failed)} items: {failed[:3]}")
    return {
        "load_average_1m_before": load_before,
        "load_average_1m_after": os.getloadavg()[0],
        "articles": articles,
        "chunks": chunks,
        "ingest_s": ingest_s,
        "raw_encode_s": raw_s,
        "ingest_cpu_s": ingest_cpu,
        "raw_encode_cpu_s": raw_cpu,
        "ingest_chunks_per_s": chunks / ingest_s,
        "raw_encode_chunks_per_s": chunks / raw_s,
        "ingest_vs_raw_ratio": raw_s / ingest_s,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print ``key=value`` lines.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status 0.
    """
    from rag.settings import Settings

    settings = Settings()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a .jsonl corpus (default: rtqa-dev)")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N articles")
    ap.add_argument("--model", default=settings.embedding_model, help="embedder for the ingest")
    ap.add_argument("--chunk-size", type=int, default=settings.chunk_size)
    ap.add_argument("--chunk-overlap", type=int, default=settings.chunk_overlap)
    args = ap.parse_args(argv)
    figures = measure(args.data, args.limit, args.model, args.chunk_size, args.chunk_overlap,
                      settings.embedding_batch_size)
    print(f"ingest_model={args.model}")
    print(f"ingest_chunk_size={args.chunk_size}")
    for key, value in figures.items():
        print(f"{key}={value:.3f}" if isinstance(value, float) else f"{key}={value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
