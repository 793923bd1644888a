"""Two runs side by side: every metric of A and B with the difference B − A."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.metrics import outcome_label
from evals.report import flat_metrics, format_value, metric_rows
from evals.runner import METRICS, RESULTS, read_results
from rag.errors import NewsragError


class RunMissingError(NewsragError):
    """A folder given for comparison holds no finished run."""


def load_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The metrics and results rows of a run folder.

    Raises:
        RunMissingError: ``metrics.json`` is missing or unreadable.
    """
    path = Path(run_dir) / METRICS
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise RunMissingError(f"No finished evaluation run in {run_dir} ({METRICS} missing or unreadable).") from err
    return metrics, read_results(Path(run_dir) / RESULTS)


def compare_runs(a_dir: Path, b_dir: Path) -> str:
    """A markdown comparison of two runs.

    Args:
        a_dir: the reference run folder.
        b_dir: the run judged against it.

    Returns:
        Markdown: metric table (A, B, B − A), differing settings, and the questions whose outcome
        changed between the runs (only ids present in both).
    """
    ma, ra = load_run(a_dir)
    mb, rb = load_run(b_dir)
    lines = [f"| metric | A: {Path(a_dir).name} | B: {Path(b_dir).name} | B − A |", "|---|---|---|---|"]
    fa, fb = flat_metrics(ma), flat_metrics(mb)
    names = [n for n, _ in metric_rows(ma)] + [n for n in fb if n not in fa]
    for name in names:
        va, vb = fa.get(name), fb.get(name)
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            d = vb - va
            diff = f"{d:+.3f}" if isinstance(d, float) else f"{d:+d}"
        else:
            diff = ""
        lines.append(f"| {name} | {format_value(va)} | {format_value(vb)} | {diff} |")
    ca, cb = ma.get("config") or {}, mb.get("config") or {}
    changed = [k for k in sorted(set(ca) | set(cb)) if ca.get(k) != cb.get(k)]
    if changed:
        lines += ["", "Settings that differ:", ""]
        lines += [f"- `{k}`: A `{ca.get(k)}` → B `{cb.get(k)}`" for k in changed]
    flips = []
    for qid in ra:
        if qid in rb:
            la, lb = outcome_label(ra[qid]), outcome_label(rb[qid])
            if la != lb:
                flips.append(f"- {qid}: {la} → {lb} — {ra[qid]['question']}")
    if flips:
        lines += ["", f"Questions whose outcome changed ({len(flips)}):", ""] + flips
    return "\n".join(lines) + "\n"
