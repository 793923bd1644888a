"""Run reports: ``report.md`` (table + worst failures) and a self-contained ``report.html``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from evals.metrics import METRIC_KEYS, outcome_label
from evals.plots import bar_chart, histogram, outcome_grid

RATE_METRICS = (
    "retrieval_recall_at_k",
    "mrr",
    "answer_accuracy",
    "choice_accuracy",
    "token_f1",
    "refusal_accuracy",
    "false_refusal_rate",
    "citation_precision",
    "citation_support",
    "misattribution_rate",
    "right_quotation_rate",
)
FAILURES = ("wrong", "false_refusal", "answered_unanswerable", "error")
STAGE_LABELS = {
    "retrieve_s": "retrieval (s)",
    "prompt_tokens": "prompt tokens",
    "prompt_eval_tokens": "prompt tokens not cached",
    "llm_ttft_s": "LLM first token (s)",
    "prompt_eval_tok_s": "prompt eval (tokens/s)",
    "completion_tokens": "completion tokens",
    "decode_tok_s": "decode (tokens/s)",
    "llm_s": "LLM call (s)",
    "verify_s": "verification (s)",
    "total_s": "total (s)",
}
"""How each figure of ``metrics.json``'s ``stages`` is named in the reports."""


def format_value(value: Any) -> str:
    """A metric value as table text: 3 decimals for floats, 'n/a' for None."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def flat_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` without ``config``, nested counts flattened into dotted names
    (``drops_by_rule.no_support.claims``), in a stable order: the keys of ``METRIC_KEYS`` first."""
    names = [k for k in METRIC_KEYS if k != "config"]
    names += [k for k in metrics if k not in names and k != "config"]
    out: dict[str, Any] = {}

    def add(name: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                add(f"{name}.{key}", sub)
        else:
            out[name] = value

    for n in names:
        add(n, metrics.get(n))
    return out


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, value) for every reported figure except ``config``, in a stable order (see
    ``flat_metrics``)."""
    return list(flat_metrics(metrics).items())


def _table_rows(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """The metric table's rows: every figure but the stages, which have a table of their own."""
    return [(n, v) for n, v in metric_rows(metrics) if not n.startswith("stages.")]


def stage_rows(metrics: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The rows of the per-stage table: (stage, p50, p95, answers), as text.

    Args:
        metrics: the metrics.json object (runs without ``stages`` give no rows).

    Returns:
        One row per figure of ``stages``, in its order.
    """
    def shown(name: str, value: Any) -> str:  # tokens whole, speeds to 0.1, seconds to 0.001
        if value is None or name.endswith("_s") and not name.endswith("_tok_s"):
            return format_value(value)
        return f"{value:.0f}" if name.endswith("_tokens") else f"{value:.1f}"

    return [
        (STAGE_LABELS.get(name, name), shown(name, fig.get("p50")), shown(name, fig.get("p95")), str(fig.get("n")))
        for name, fig in (metrics.get("stages") or {}).items()
    ]


def worst_failures(rows: Sequence[dict[str, Any]], n: int = 15) -> list[dict[str, Any]]:
    """Failed questions, worst first (errors, then lowest token F1, then retrieval misses).

    Args:
        rows: results rows.
        n: how many to keep.

    Returns:
        Up to ``n`` rows.
    """
    failed = [r for r in rows if outcome_label(r) in FAILURES]

    def key(r: dict[str, Any]) -> tuple:
        o = r.get("outcomes") or {}
        return (
            0 if r.get("error") else 1,
            o.get("token_f1") or 0.0,
            0 if o.get("retrieval_hit") is False else 1,
        )

    return sorted(failed, key=key)[:n]


def _retrieved_titles(row: dict[str, Any], n: int = 3) -> list[str]:
    return [f"{x['rank']}. {x['title'] or x['article_id']}" for x in (row.get("retrieved") or [])[:n]]


def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render_markdown(rows: Sequence[dict[str, Any]], metrics: dict[str, Any], title: str) -> str:
    """The report.md text.

    Args:
        rows: results rows in question order.
        metrics: the metrics.json object.
        title: heading (e.g. the run folder name).

    Returns:
        Markdown text.
    """
    lines = [f"# Evaluation: {title}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {format_value(v)} |" for name, v in _table_rows(metrics)]
    stages = stage_rows(metrics)
    if stages:
        lines += ["", "## Time per stage", "", "| stage | p50 | p95 | answers |", "|---|---|---|---|"]
        lines += [f"| {' | '.join(row)} |" for row in stages]
    cfg = metrics.get("config") or {}
    lines += ["", "Configuration: " + ", ".join(f"`{k}={v}`" for k, v in cfg.items()), ""]
    counts: dict[str, int] = {}
    for r in rows:
        counts[outcome_label(r)] = counts.get(outcome_label(r), 0) + 1
    lines += ["Outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), ""]
    failures = worst_failures(rows)
    lines += [f"## Worst failures ({len(failures)} shown)", ""]
    for r in failures:
        gold = "; ".join(r["gold"]["answers"]) or "(none)"
        if not r["gold"]["answerable"]:
            gold += " (unanswerable: should refuse)"
        lines += [
            f"### {r['id']} ({outcome_label(r)})",
            f"- question: {_md_cell(r['question'])}",
            f"- gold: {_md_cell(gold)}; gold articles: {', '.join(r['gold']['gold_article_ids']) or '-'}",
            f"- answer: {_md_cell(r.get('answer') or r.get('error') or '')}",
        ]
        if r.get("draft") is not None and r["draft"] != r.get("answer"):
            lines.append(f"- model draft (before verification): {_md_cell(r['draft'])}")
        if r.get("dropped"):
            lines.append(f"- claims dropped as unsupported: {_md_cell(' | '.join(r['dropped']))}")
            if r.get("drop_reasons"):
                lines.append(f"- rules that dropped them: {', '.join(r['drop_reasons'])}")
        if r.get("refusal_reason"):
            lines.append(f"- refusal reason: {r['refusal_reason']}")
        lines += [
            f"- retrieved: {_md_cell(' | '.join(_retrieved_titles(r)) or '-')}",
            "",
        ]
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:960px;
color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.legend{font-size:12px;margin:6px 0}.key{margin-right:12px;white-space:nowrap}
.swatch{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:middle}
.fail{border-left:4px solid #c62828;padding:4px 10px;margin:10px 0;background:#fafafa;font-size:13px}
code{font-size:12px}
"""


def render_html(rows: Sequence[dict[str, Any]], metrics: dict[str, Any], title: str) -> str:
    """The report.html text: one file, inline CSS and SVG, no scripts, no external requests.

    Args:
        rows: results rows in question order.
        metrics: the metrics.json object.
        title: heading.

    Returns:
        HTML text.
    """
    bars = bar_chart([(n, metrics.get(n)) for n in RATE_METRICS])
    latencies = [r["latency_s"] for r in rows if r.get("latency_s") is not None]
    hist = histogram(latencies)
    cells = [(r["id"], outcome_label(r), r["question"]) for r in rows]
    grid = outcome_grid(cells)
    table = "".join(
        f"<tr><td>{escape(n)}</td><td class='num'>{escape(format_value(v))}</td></tr>"
        for n, v in _table_rows(metrics)
    )
    stages = "".join(
        f"<tr><td>{escape(label)}</td>" + "".join(f"<td class='num'>{escape(x)}</td>" for x in figures) + "</tr>"
        for label, *figures in stage_rows(metrics)
    )
    stage_table = (
        "<h2>Time per stage</h2><table><tr><th>stage</th><th>p50</th><th>p95</th><th>answers</th></tr>"
        f"{stages}</table>" if stages else ""
    )
    cfg = escape(json.dumps(metrics.get("config") or {}, indent=1, ensure_ascii=False))
    fails = []
    for r in worst_failures(rows):
        gold = "; ".join(r["gold"]["answers"]) or "(none)"
        if not r["gold"]["answerable"]:
            gold += " (unanswerable: should refuse)"
        fails.append(
            f"<div class='fail'><b>{escape(r['id'])}</b> ({escape(outcome_label(r))})<br>"
            f"<b>Q:</b> {escape(r['question'])}<br><b>Gold:</b> {escape(gold)}<br>"
            f"<b>Answer:</b> {escape(r.get('answer') or r.get('error') or '')}<br>"
            + (f"<b>Model draft:</b> {escape(r['draft'])}<br>"
               if r.get("draft") is not None and r["draft"] != r.get("answer") else "")
            + f"<b>Retrieved:</b> {escape(' | '.join(_retrieved_titles(r)) or '-')}</div>"
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>Evaluation: {escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Evaluation: {escape(title)}</h1>"
        f"<h2>Metrics</h2>{bars}<table><tr><th>metric</th><th>value</th></tr>{table}</table>{stage_table}"
        f"<h2>Latency per question ({len(latencies)} answers)</h2>{hist}"
        f"<h2>Outcome per question</h2>{grid}"
        f"<h2>Worst failures</h2>{''.join(fails) or '<p>None.</p>'}"
        f"<h2>Configuration</h2><pre><code>{cfg}</code></pre></body></html>"
    )


def question_set_name(questions: str | None) -> str | None:
    """The name of a question set from its file: the file's stem, or its folder's name for a file
    called ``questions`` (``datasets/rtqa-dev/questions.jsonl`` -> ``rtqa-dev``)."""
    if not questions:
        return None
    path = Path(questions)
    return path.parent.name if path.stem == "questions" and path.parent.name else path.stem


def report_title(out_dir: Path, config: dict[str, Any] | None) -> str:
    """What a report is about: the question set and the run folder (``rtqa-dev (run x/eval)``), the
    folder relative to the working directory when it is inside it, else by its name.

    Args:
        out_dir: the run folder.
        config: the run's configuration (its ``questions`` is the question set's file).

    Returns:
        The title, without "Evaluation:".
    """
    folder = Path(out_dir).resolve()
    try:
        shown = folder.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        shown = folder.name
    name = question_set_name((config or {}).get("questions"))
    return f"{name} (run {shown})" if name else shown


def write_reports(out_dir: Path, rows: Sequence[dict[str, Any]], metrics: dict[str, Any]) -> None:
    """Write ``report.md`` and ``report.html`` into ``out_dir``.

    Args:
        out_dir: the run folder.
        rows: results rows.
        metrics: the metrics.json object.
    """
    out_dir = Path(out_dir)
    title = report_title(out_dir, metrics.get("config"))
    (out_dir / "report.md").write_text(render_markdown(rows, metrics, title), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(rows, metrics, title), encoding="utf-8")
