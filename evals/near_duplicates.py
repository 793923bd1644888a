"""Measure near-duplicate detection at ingest on a corpus in rtqa-dev's format.

Builds a duplicate set from the corpus and ingests it into a temporary store:

- *copies*: for each of ``--copies`` articles (a seeded sample), the article re-saved as a ``.txt``
  file with its title line first (no date, no address), the same with other whitespace (lines
  wrapped, blank lines and spaces doubled), a ``.jsonl`` record with a byline added, and a
  syndicated copy (another publisher and address, a dateline, the last paragraph left out, a
  copyright footer). Half of the originals are ingested before their copies, half after (then the
  syndicated copy, dated and linked, replaces the undated copy stored first, and the original
  ties with it).
- *distinct*: 20 articles that must all be stored: the 10 pairs of different articles most alike
  in the corpus (found with ``MinHashLSH`` then compared exactly), mostly the same story on
  different days.

Prints ``key=value`` lines: copies detected / total, stories stored once as a dated and linked
copy (the original, or the syndicated copy when it came first: a tie keeps the first), distinct
articles wrongly merged / total, and the evidence for the threshold (each kind of copy's
similarity to its original; the highest similarity between two different articles of the corpus).

Usage::

    python -m evals.near_duplicates [--corpus ARTICLES.jsonl] [--copies 30] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingest.near_duplicates import NearDuplicateIndex, shingles

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "rtqa-dev" / "articles.jsonl"
KINDS = ("title_line", "whitespace", "byline", "syndicated")
SUFFIX = {"title_line": "title", "whitespace": "ws", "byline": "byline", "syndicated": "wire"}
N_DISTINCT_PAIRS = 10


def _titled(record: dict[str, Any]) -> str:
    return f"{record['title']}\n\n{record['text']}\n"


def _rewhitespaced(record: dict[str, Any]) -> str:
    paragraphs = [p for p in record["text"].split("\n") if p.strip()]
    wrapped = "\n\n\n".join(textwrap.fill(p.replace(". ", ".  "), width=64) + "   " for p in paragraphs)
    return f"  {record['title']}\n\n\n{wrapped}\n"


def copies_of(record: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """The four copies of a corpus record: ``{kind: (file name or "jsonl", text or record)}``."""
    aid = record["id"]
    paragraphs = [p for p in record["text"].split("\n\n") if p.strip()]
    wire_text = "\n\n".join(paragraphs[:-1] if len(paragraphs) > 2 else paragraphs)
    return {
        "title_line": (f"{aid}-{SUFFIX['title_line']}.txt", _titled(record)),
        "whitespace": (f"{aid}-{SUFFIX['whitespace']}.txt", _rewhitespaced(record)),
        "byline": ("jsonl", {"id": f"{aid}-{SUFFIX['byline']}", "title": record["title"],
                             "text": f"By Jane Doe and Sam Roe, staff writers\n\n{record['text']}",
                             "source": record.get("source")}),
        "syndicated": ("jsonl", {
            "id": f"{aid}-{SUFFIX['syndicated']}", "title": record["title"],
            "text": f"NEW YORK (Newswire) — {wire_text}\n\n© 2022 Newswire. All rights reserved. "
                    "This material may not be published, broadcast, rewritten or redistributed.",
            "source": "Newswire", "url": f"https://newswire.example/{aid}", "published": record.get("published"),
        }),
    }


def _exact_jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def most_alike_pairs(records: Sequence[dict[str, Any]], n: int) -> list[tuple[float, str, str]]:
    """The ``n`` most alike pairs of different articles (texts not identical), no article twice.

    Candidates come from ``MinHashLSH`` at a low threshold (0.15); each is then compared exactly.

    Returns:
        ``(exact Jaccard similarity of their shingles, id, id)``, most alike first.
    """
    from datasketch import MinHashLSH

    index = NearDuplicateIndex()
    sets = {r["id"]: shingles(r["title"], r["text"]) for r in records}
    texts = {r["id"]: r["text"].strip() for r in records}
    lsh = MinHashLSH(threshold=0.15, num_perm=index.num_perm)
    signatures = {}
    for r in records:
        signatures[r["id"]] = index.signature(r["title"], r["text"])
        lsh.insert(r["id"], signatures[r["id"]])
    pairs = set()
    for aid, sig in signatures.items():
        for other in lsh.query(sig):
            if other != aid and texts[other] != texts[aid]:
                pairs.add(tuple(sorted((aid, other))))
    scored = sorted(((_exact_jaccard(sets[a], sets[b]), a, b) for a, b in pairs), reverse=True)
    chosen: list[tuple[float, str, str]] = []
    used: set[str] = set()
    for sim, a, b in scored:
        if a not in used and b not in used:
            chosen.append((sim, a, b))
            used |= {a, b}
        if len(chosen) == n:
            break
    return chosen


def _similarities(originals: Sequence[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Per kind of copy: ``(MinHash estimate, exact Jaccard)`` of each copy against its original."""
    from ingest.loaders import load_file

    index = NearDuplicateIndex()
    out: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        for record in originals:
            sig = index.signature(record["title"], record["text"])
            base = shingles(record["title"], record["text"])
            for kind, (name, content) in copies_of(record).items():
                if name == "jsonl":
                    title, text = content["title"], content["text"]
                else:  # as the .txt loader reads it: the first line is the title, the text keeps it
                    path = Path(tmp) / name
                    path.write_text(content, encoding="utf-8")
                    article = next(a for a in load_file(path) if hasattr(a, "text"))
                    title, text = article.title, article.text
                other = shingles(title, text)
                out[kind].append((float(sig.jaccard(index.signature(title, text))), _exact_jaccard(base, other)))
    return out


def _write_jsonl(path: Path, records: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def measure(corpus: Path, n_copies: int, seed: int, settings: Any = None) -> dict[str, Any]:
    """Build the duplicate set, ingest it into a temporary store and count what was merged.

    Args:
        corpus: a ``.jsonl`` corpus (rtqa-dev's format).
        n_copies: how many articles get the four copies.
        seed: the sample's seed.
        settings: a ``rag.settings.Settings`` for the embedder and chunking (default: environment).

    Returns:
        The figures and the lines to print.
    """
    from ingest.pipeline import ingest_paths
    from rag.settings import load_settings
    from rag.store import Store

    with corpus.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    text_count: dict[str, int] = {}
    for r in records:
        text_count[r["text"].strip()] = text_count.get(r["text"].strip(), 0) + 1
    unique = [r for r in records if text_count[r["text"].strip()] == 1]  # scraped boilerplate left out
    pairs = most_alike_pairs(unique, N_DISTINCT_PAIRS)
    distinct_ids = [aid for _, a, b in pairs for aid in (a, b)]
    by_id = {r["id"]: r for r in unique}
    rest = sorted(r["id"] for r in unique if r["id"] not in set(distinct_ids))
    originals = [by_id[aid] for aid in random.Random(seed).sample(rest, n_copies)]
    first, later = originals[: n_copies // 2], originals[n_copies // 2:]

    settings = settings or load_settings()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="near-duplicates-") as tmp:
        root = Path(tmp)
        (root / "copies").mkdir()
        wire = []
        for record in originals:
            for name, content in copies_of(record).values():
                if name == "jsonl":
                    wire.append(content)
                else:
                    (root / "copies" / name).write_text(content, encoding="utf-8")
        _write_jsonl(root / "copies" / "copies.jsonl", wire)
        runs = [
            ("originals (first half) + distinct", [_write_jsonl(root / "first.jsonl", first + [by_id[a] for a in distinct_ids])]),
            ("copies", [root / "copies"]),
            ("originals (second half)", [_write_jsonl(root / "later.jsonl", later)]),
        ]
        store = Store(root / "store", settings.collection, _embeddings(settings))
        notes: list[str] = []
        for name, paths in runs:
            report = ingest_paths(paths, store, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap,
                                  progress=False, on_event=lambda e: notes.append(e.message)
                                  if e.status == "near_duplicate" else None)
            lines.append(f"# {name}: {report.summary()}")
        listing = {a.id: a for a in store.list_articles(quoted=False).articles}

    group_of = {aid: aid for aid in distinct_ids}
    for r in originals:
        group_of.update({member: r["id"] for member in [r["id"], *(f"{r['id']}-{SUFFIX[k]}" for k in KINDS)]})
    recorded = {o.id for a in listing.values() for o in a.also_in}
    merged_wrongly = {group_of.get(o.id, o.id) for a in listing.values() for o in a.also_in
                      if group_of.get(o.id) != group_of.get(a.id)}
    merged_wrongly |= {group_of.get(a.id, a.id) for a in listing.values() for o in a.also_in
                       if group_of.get(o.id) != group_of.get(a.id)}
    original_ids = {r["id"] for r in originals}
    detected = sum(1 for m, g in group_of.items() if g in original_ids and m not in listing and m in recorded)
    kept = [a for a in listing.values() if group_of.get(a.id) in original_ids]
    primary = sum(1 for a in kept if a.published and a.url) if len(kept) == len(originals) else 0
    wrongly_merged = [aid for aid in distinct_ids if aid not in listing or aid in merged_wrongly]
    foreign = [r["id"] for r in originals if r["id"] in merged_wrongly]
    n_total = 4 * len(originals)
    sims = _similarities(originals)
    figures = {
        "copies_detected": detected, "copies_total": n_total,
        "stored_once_dated_and_linked": primary, "originals": len(originals),
        "distinct_wrongly_merged": len(wrongly_merged), "distinct_total": len(distinct_ids),
        "originals_with_foreign_copies": len(foreign),
    }
    for kind, values in sims.items():
        figures[f"similarity_{kind}_min"] = round(min(v[0] for v in values), 3)
        figures[f"similarity_{kind}_median"] = round(statistics.median(v[0] for v in values), 3)
        figures[f"exact_jaccard_{kind}_min"] = round(min(v[1] for v in values), 3)
    figures["distinct_pairs_max_exact_jaccard"] = round(pairs[0][0], 3) if pairs else 0.0
    figures["threshold"] = NearDuplicateIndex().threshold
    lines.append("# the 10 most alike pairs of different articles (exact Jaccard of word 5-grams):")
    lines += [f"#   {sim:.3f}  {by_id[a]['title'][:45]} ({by_id[a].get('published')})  |  "
              f"{by_id[b]['title'][:45]} ({by_id[b].get('published')})" for sim, a, b in pairs]
    lines += [f"# {n}" for n in notes[:3]]
    lines += [f"# wrongly merged: {aid}" for aid in wrongly_merged]
    return {"figures": figures, "lines": lines}


def _embeddings(settings: Any) -> Any:
    from rag.embeddings import embeddings_from_settings

    return embeddings_from_settings(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the measurement as comment lines and ``key=value`` lines."""
    parser = argparse.ArgumentParser(prog="python -m evals.near_duplicates", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="a .jsonl corpus (rtqa-dev's format)")
    parser.add_argument("--copies", type=int, default=30, help="articles that get the four copies")
    parser.add_argument("--seed", type=int, default=7, help="seed of the sample")
    args = parser.parse_args(argv)
    result = measure(args.corpus, args.copies, args.seed)
    for line in result["lines"]:
        print(line)
    for key, value in result["figures"].items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
