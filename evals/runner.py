"""Run a question set through an answer function, one results.jsonl line per question.

The run is resumable: each question's row is appended and flushed as soon as it is scored, and
a restart with the same output folder skips ids already answered (rows with an error are retried).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evals.metrics import aggregate, score_question
from evals.questions import Question
from rag.errors import NewsragError
from rag.types import Answer, Article

AnswerFn = Callable[[Question], Answer]
"""Answers one question (the question's ``asked_on`` is its ``as_of``)."""

RESULTS = "results.jsonl"
METRICS = "metrics.json"


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """Rows of a results.jsonl by question id (the last row of an id wins).

    A truncated last line (a run killed mid-write) is ignored.

    Args:
        path: the results.jsonl file; a missing file gives no rows.

    Returns:
        ``{question_id: row}``.
    """
    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "id" in row:
            rows[row["id"]] = row
    return rows


def answer_row(
    question: Question,
    answer_fn: AnswerFn,
    k: int,
    get_article: Callable[[str], Article | None],
) -> dict[str, Any]:
    """Answer and score one question.

    Args:
        question: the question.
        answer_fn: the pipeline under test.
        k: retrieval cut-off.
        get_article: article lookup for citation support.

    Returns:
        The results.jsonl row. An unexpected exception becomes a row with ``error`` set;
        a ``NewsragError`` (configuration, missing model) propagates and stops the run.
    """
    row: dict[str, Any] = {
        "id": question.id,
        "question": question.question,
        "asked_on": question.asked_on,
        "gold": {
            "answers": question.answers,
            "gold_article_ids": question.gold_article_ids,
            "answerable": question.answerable,
            "choices": question.choices,
        },
    }
    t0 = time.perf_counter()
    try:
        answer = answer_fn(question)
    except NewsragError:
        raise
    except Exception as err:  # one failing question must not lose the run
        row.update(error=f"{type(err).__name__}: {err}", latency_s=None, ttft_s=None)
        return row
    wall = time.perf_counter() - t0
    scored = score_question(question, answer, k, get_article)
    row.update(
        answer=answer.answer,
        answerable=answer.answerable,
        citations=scored["citations"],
        retrieved=scored["retrieved"],
        outcomes=scored["outcomes"],
        latency_s=round(wall, 4),
        ttft_s=answer.timings.get("ttft_s"),
        timings=answer.timings,
        draft=answer.draft,
        dropped=answer.dropped,
        drop_reasons=answer.drop_reasons,
        refusal_reason=answer.refusal_reason,
        error=None,
    )
    return row


def run_eval(
    questions: Sequence[Question],
    answer_fn: AnswerFn,
    out_dir: Path,
    *,
    k: int,
    get_article: Callable[[str], Article | None],
    config: dict[str, Any],
    progress: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Answer every question not yet in ``out_dir/results.jsonl``, then write ``metrics.json``.

    Args:
        questions: the question set (order kept in the outputs).
        answer_fn: the pipeline under test.
        out_dir: run folder (created); an existing results.jsonl is resumed.
        k: retrieval cut-off for recall@k.
        get_article: article lookup for citation support.
        config: every setting used (stored in metrics.json).
        progress: show a progress bar with the running answer accuracy.

    Returns:
        (rows in question order, metrics dict).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / RESULTS
    done = {i: r for i, r in read_results(results_path).items() if not r.get("error")}
    todo = [q for q in questions if q.id not in done]
    correct = [r["outcomes"]["correct"] for r in done.values() if r["outcomes"]["correct"] is not None]
    bar = tqdm(
        total=len(questions),
        initial=len(questions) - len(todo),
        desc="eval",
        unit="q",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        with results_path.open("a", encoding="utf-8") as fh:
            for q in todo:
                row = answer_row(q, answer_fn, k, get_article)
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()
                done[q.id] = row
                if not row.get("error") and row["outcomes"]["correct"] is not None:
                    correct.append(row["outcomes"]["correct"])
                if correct:
                    bar.set_postfix(acc=f"{sum(correct) / len(correct):.2f}", refresh=False)
                bar.update(1)
    finally:
        bar.close()
    rows = [done[q.id] for q in questions if q.id in done]
    metrics = aggregate(rows, k, config)
    (out_dir / METRICS).write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    return rows, metrics
