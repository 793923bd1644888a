"""Inline SVG plots for the HTML report (no scripts, no external resources)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

OUTCOME_COLOURS = {
    "correct": "#2e7d32",
    "refused_ok": "#66bb6a",
    "wrong": "#c62828",
    "answered_unanswerable": "#ef6c00",
    "false_refusal": "#8e24aa",
    "unscored": "#9e9e9e",
    "error": "#212121",
}


def bar_chart(values: Sequence[tuple[str, float | None]], width: int = 640) -> str:
    """Horizontal bars for rates in [0, 1]; a missing value is drawn as 'n/a'.

    Args:
        values: (label, value) pairs.
        width: SVG width in pixels.

    Returns:
        An ``<svg>`` element as text.
    """
    row_h, label_w, pad = 26, 210, 8
    plot_w = width - label_w - 60
    height = row_h * len(values) + 2 * pad
    parts = [
        f'<svg class="plot" id="metric-bars" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="metrics">'
    ]
    for i, (label, value) in enumerate(values):
        y = pad + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="13">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{plot_w}" height="{row_h - 8}" fill="#eeeeee"/>'
        )
        if value is None:
            parts.append(f'<text x="{label_w + 6}" y="{y + 17}" font-size="12" fill="#666">n/a</text>')
            continue
        w = max(0.0, min(1.0, value)) * plot_w
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="#1565c0"><title>{escape(label)}: {value:.3f}</title></rect>'
        )
        parts.append(
            f'<text x="{label_w + plot_w + 6}" y="{y + 17}" font-size="12">{value:.3f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    values: Sequence[float], bins: int = 12, width: int = 640, height: int = 220, unit: str = "s"
) -> str:
    """A histogram of (latency) values with axis labels.

    Args:
        values: the sample; empty draws an empty frame saying 'no data'.
        bins: number of equal-width bins.
        width, height: SVG size in pixels.
        unit: unit printed on the x axis.

    Returns:
        An ``<svg>`` element as text.
    """
    left, bottom, top, right = 40, 30, 10, 10
    pw, ph = width - left - right, height - top - bottom
    parts = [
        f'<svg class="plot" id="latency-hist" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="latency histogram">',
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333"/>',
    ]
    if not values:
        parts.append(f'<text x="{left + 10}" y="{top + 20}" font-size="13">no data</text></svg>')
        return "".join(parts)
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    peak = max(counts)
    bw = pw / bins
    for i, c in enumerate(counts):
        h = ph * c / peak
        a, b = lo + span * i / bins, lo + span * (i + 1) / bins
        parts.append(
            f'<rect class="bar" x="{left + i * bw + 1:.1f}" y="{top + ph - h:.1f}" width="{bw - 2:.1f}" '
            f'height="{h:.1f}" fill="#00897b"><title>{a:.2f}–{b:.2f} {unit}: {c}</title></rect>'
        )
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        x = left + pw * frac
        parts.append(
            f'<text x="{x:.1f}" y="{height - 10}" font-size="11" text-anchor="{anchor}">'
            f"{lo + span * frac:.2f} {unit}</text>"
        )
    parts.append(f'<text x="{left - 6}" y="{top + 10}" font-size="11" text-anchor="end">{peak}</text>')
    parts.append("</svg>")
    return "".join(parts)


def outcome_grid(cells: Sequence[tuple[str, str, str]], cols: int = 25, size: int = 22) -> str:
    """One square per question, coloured by outcome, with the question as a tooltip.

    Args:
        cells: (question id, outcome label, tooltip text) in question order.
        cols: squares per row.
        size: square side in pixels.

    Returns:
        An ``<svg>`` element followed by a colour legend, as text.
    """
    rows = max(1, -(-len(cells) // cols))
    width, height = cols * size + 2, rows * size + 2
    parts = [
        f'<svg class="plot" id="outcome-grid" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="per-question outcomes">'
    ]
    for i, (qid, label, tip) in enumerate(cells):
        x, y = 1 + (i % cols) * size, 1 + (i // cols) * size
        colour = OUTCOME_COLOURS.get(label, "#9e9e9e")
        parts.append(
            f'<rect class="cell" data-id="{escape(qid)}" data-outcome="{label}" x="{x}" y="{y}" '
            f'width="{size - 2}" height="{size - 2}" fill="{colour}">'
            f"<title>{escape(qid)} — {escape(label)}: {escape(tip)}</title></rect>"
        )
    parts.append("</svg>")
    present = {label for _, label, _ in cells}
    legend = "".join(
        f'<span class="key"><span class="swatch" style="background:{c}"></span>{escape(k)}</span>'
        for k, c in OUTCOME_COLOURS.items()
        if k in present
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'
