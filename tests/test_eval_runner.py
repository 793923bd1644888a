"""The runner: resume after an interruption, error rows retried, reports and comparison."""

from __future__ import annotations

import json

import pytest

from eval_fakes import FIXTURE, FakeClock, fake_pipeline, load_articles
from evals import runner
from evals.compare import RunMissingError, compare_runs
from evals.questions import load_questions
from evals.report import render_html, render_markdown, worst_failures, write_reports


def _run(out, answer_fn, **kw):
    return runner.run_eval(
        load_questions(FIXTURE / "questions.jsonl"), answer_fn, out, k=2,
        get_article=load_articles().get, config={"preset": "fake"}, progress=False, **kw,
    )


def test_interrupted_run_resumes_without_repeating(tmp_path):
    out = tmp_path / "out"
    inner = fake_pipeline()
    calls: list[str] = []

    def dies_after_three(q):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(q.id)
        return inner(q)

    with pytest.raises(KeyboardInterrupt):
        _run(out, dies_after_three)
    assert len((out / "results.jsonl").read_text().splitlines()) == 3
    assert not (out / "metrics.json").exists()
    # a run killed mid-write leaves a truncated line: it must be ignored
    with (out / "results.jsonl").open("a") as fh:
        fh.write('{"id": "q4", "quest')
    second: list[str] = []
    rows, metrics = _run(out, fake_pipeline(calls=second))
    assert calls == ["q1", "q2", "q3"]
    assert second == ["q4", "q5", "q6"]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert metrics["n_questions"] == 6 and metrics["answer_accuracy"] == pytest.approx(0.5)


def test_failed_question_is_recorded_then_retried(tmp_path):
    out = tmp_path / "out"
    inner = fake_pipeline()

    def breaks_on_q2(q):
        if q.id == "q2":
            raise RuntimeError("model crashed")
        return inner(q)

    rows, metrics = _run(out, breaks_on_q2)
    err = next(r for r in rows if r["id"] == "q2")
    assert err["error"] == "RuntimeError: model crashed"
    assert metrics["n_errors"] == 1 and metrics["n_questions"] == 6
    retried: list[str] = []
    _, metrics = _run(out, fake_pipeline(calls=retried))
    assert retried == ["q2"]
    assert metrics["n_errors"] == 0


def test_reports_show_table_and_worst_failures(tmp_path, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(runner.time, "perf_counter", clock)
    out = tmp_path / "run-a"
    rows, metrics = _run(out, fake_pipeline(clock))
    write_reports(out, rows, metrics)
    md = (out / "report.md").read_text()
    assert "| answer_accuracy | 0.500 |" in md
    assert "| citation_support | 0.800 |" in md
    worst = [r["id"] for r in worst_failures(rows)]
    assert set(worst) == {"q2", "q3", "q5"}
    assert "### q2 (wrong)" in md and "Shanghai" in md and "1. Sydney weather" in md
    assert "unanswerable: should refuse" in md  # q5
    assert "- model draft (before verification): They met in Shanghai [1]. They shook hands" in md
    assert "- claims dropped as unsupported: They shook hands in Beijing." in md
    assert next(r for r in rows if r["id"] == "q2")["dropped"] == ["They shook hands in Beijing."]
    html = render_html(rows, metrics, "run-a")
    assert html.count('class="cell"') == 6
    assert 'data-outcome="answered_unanswerable"' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in html and "https://" not in html
    assert "<b>Q:</b> Where did Obama meet Putin?" in html
    assert render_markdown(rows, metrics, "x").startswith("# Evaluation: x")


def test_compare_shows_differences(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _run(a, fake_pipeline())
    spec = json.loads((FIXTURE / "answers.json").read_text())
    inner = fake_pipeline()

    def better(q):
        ans = inner(q)
        if q.id == "q2":
            return ans.model_copy(update={"answer": "In Beijing."})
        return ans

    _run(b, better)
    assert spec["q2"]["answer"] != "In Beijing."
    text = compare_runs(a, b)
    assert "| answer_accuracy | 0.500 | 0.750 | +0.250 |" in text
    assert "| n_questions | 6 | 6 | +0 |" in text
    assert "q2: wrong → correct" in text
    with pytest.raises(RunMissingError):
        compare_runs(a, tmp_path / "nothing")
