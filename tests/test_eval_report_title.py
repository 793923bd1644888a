"""An evaluation report says what it evaluated: the question set and the run folder."""

from __future__ import annotations

from evals.report import question_set_name, report_title, write_reports


def test_the_question_set_is_named_by_its_file_or_its_folder():
    assert question_set_name("../shared/datasets/rtqa-dev/questions.jsonl") == "rtqa-dev"
    assert question_set_name("evals/sets/who-said-what.jsonl") == "who-said-what"
    assert question_set_name("questions.jsonl") == "questions"
    assert question_set_name(None) is None


def test_the_report_of_an_eval_into_x_eval_is_titled_by_its_set_and_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "x" / "eval"
    out.mkdir(parents=True)
    metrics = {"n_questions": 0, "config": {"questions": "/data/rtqa-dev/questions.jsonl"}}
    write_reports(out, [], metrics)
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# Evaluation: rtqa-dev (run x/eval)\n")
    assert "<h1>Evaluation: rtqa-dev (run x/eval)</h1>" in (out / "report.html").read_text(encoding="utf-8")
    assert report_title(tmp_path.parent / "elsewhere", {}) == "elsewhere"  # outside the working folder: its name
