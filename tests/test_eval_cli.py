"""`newsrag eval` / `newsrag compare` end to end with a fake pipeline (no model, no store)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from eval_fakes import FIXTURE, fake_pipeline, load_articles
from evals import cli as eval_cli
from evals import presets
from evals.presets import EvalPipeline


def make_app() -> typer.Typer:
    app = typer.Typer()
    eval_cli.register(app)
    return app


def fake_build(calls):
    def build(preset, settings, corpus=None, progress=True):
        if preset not in presets.PRESETS:
            raise presets.PresetError(f"Unknown preset {preset!r}.")
        config = {"preset": preset, "llm": settings.llm, "top_k": 2, "corpus": str(corpus) if corpus else None}
        return EvalPipeline(preset, fake_pipeline(calls=calls), 2, load_articles().get, config)

    return build


def test_eval_writes_four_files_and_resumes(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(presets, "build_pipeline", fake_build(calls))
    app, runner = make_app(), CliRunner()
    q = str(FIXTURE / "questions.jsonl")
    res = runner.invoke(app, ["eval", q, "--llm", "extractive", "--out", "runs/a", "--limit", "4", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "answer_accuracy=0.333" in res.output  # q1 right, q2 wrong, q3 refused
    for name in ("metrics.json", "results.jsonl", "report.md", "report.html"):
        assert (tmp_path / "runs" / "a" / name).exists()
    assert calls == ["q1", "q2", "q3", "q4"]
    res = runner.invoke(app, ["eval", q, "--llm", "extractive", "--out", "runs/a", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert calls[4:] == ["q5", "q6"]
    metrics = json.loads((tmp_path / "runs" / "a" / "metrics.json").read_text())
    assert metrics["n_questions"] == 6
    assert metrics["config"]["llm"] == "extractive"
    assert metrics["config"]["questions"] == q


def test_eval_refuses_to_mix_settings_in_one_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "build_pipeline", fake_build([]))
    app, runner = make_app(), CliRunner()
    q = str(FIXTURE / "questions.jsonl")
    assert runner.invoke(app, ["eval", q, "--llm", "extractive", "--out", "r", "--no-progress"]).exit_code == 0
    res = runner.invoke(app, ["eval", q, "--llm", "llamacpp", "--out", "r", "--no-progress"])
    assert res.exit_code == 1
    assert "other settings (llm)" in res.output


def test_compare_command_and_flag(tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "build_pipeline", fake_build([]))
    app, runner = make_app(), CliRunner()
    q = str(FIXTURE / "questions.jsonl")
    runner.invoke(app, ["eval", q, "--out", "a", "--no-progress", "--limit", "3"])
    runner.invoke(app, ["eval", q, "--out", "b", "--no-progress"])
    res = runner.invoke(app, ["compare", "a", "b"])
    assert res.exit_code == 0, res.output
    assert "| n_questions | 3 | 6 | +3 |" in res.output
    res = runner.invoke(app, ["eval", "--compare", "a", "--out", "b"])
    assert res.exit_code == 0 and "| n_questions | 3 | 6 | +3 |" in res.output
    res = runner.invoke(app, ["compare", "a", "missing"])
    assert res.exit_code == 1 and "No finished evaluation run" in res.output
    assert runner.invoke(app, ["eval"]).exit_code == 2


def test_unknown_preset_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "build_pipeline", fake_build([]))
    res = CliRunner().invoke(make_app(), ["eval", str(FIXTURE / "questions.jsonl"), "--preset", "x"])
    assert res.exit_code == 1
    assert "Unknown preset 'x'" in res.output


def test_report_only_scores_a_partial_run(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(presets, "build_pipeline", fake_build(calls))
    app, runner = make_app(), CliRunner()
    q = str(FIXTURE / "questions.jsonl")
    assert runner.invoke(app, ["eval", q, "--out", "p", "--limit", "3", "--no-progress"]).exit_code == 0
    (tmp_path / "p" / "metrics.json").unlink()
    res = runner.invoke(app, ["eval", q, "--out", "p", "--report-only"])
    assert res.exit_code == 0, res.output
    assert calls == ["q1", "q2", "q3"]  # nothing answered again
    assert "n_questions=3" in res.output and "k=2" in res.output
    assert json.loads((tmp_path / "p" / "metrics.json").read_text())["answer_accuracy"] == 1 / 3
    res = runner.invoke(app, ["eval", q, "--out", "nothing", "--report-only"])
    assert res.exit_code == 1 and "holds no evaluation run" in res.output
