"""``newsrag eval`` and ``newsrag compare``: run a question set, or put two runs side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from rag.errors import NewsragError, SettingsError

RUN_CONFIG = "run.json"


class RunConfigError(NewsragError):
    """The output folder holds a run made with other settings."""


def _check_resume(out: Path, config: dict) -> None:
    """Refuse to mix two configurations in one results.jsonl; record the config otherwise."""
    path = out / RUN_CONFIG
    if path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        if before != config:
            changed = sorted(k for k in set(before) | set(config) if before.get(k) != config.get(k))
            raise RunConfigError(
                f"{out} holds a run with other settings ({', '.join(changed)}); "
                "use another --out or delete that folder."
            )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def run_command(
    questions: Path,
    corpus: Optional[Path],
    store: Optional[Path],
    llm: Optional[str],
    out: Path,
    limit: Optional[int],
    preset: str,
    progress: bool,
) -> dict:
    """Everything ``newsrag eval`` does for one run; returns the metrics."""
    from evals.presets import build_pipeline
    from evals.questions import load_questions
    from evals.report import format_value, metric_rows, write_reports
    from evals.runner import run_eval
    from rag.settings import load_settings

    settings = load_settings(store=store, llm=llm)
    qs = load_questions(questions, limit=limit)
    pipeline = build_pipeline(preset, settings, corpus, progress=progress)
    config = {**pipeline.config, "questions": str(questions)}
    _check_resume(out, config)
    rows, metrics = run_eval(
        qs, pipeline.answer, out, k=pipeline.k, get_article=pipeline.get_article,
        config=config, progress=progress,
    )
    write_reports(out, rows, metrics)
    for name, value in metric_rows(metrics):
        typer.echo(f"{name}={format_value(value)}")
    typer.echo(f"Wrote {out}/metrics.json, results.jsonl, report.md, report.html")
    return metrics


def report_command(questions: Path, out: Path, limit: Optional[int]) -> dict:
    """Recompute metrics.json, report.md and report.html from the rows already in ``out``.

    Nothing is answered: this scores a partial (interrupted) run on the questions it has done,
    or refreshes the reports; answer correctness and token F1 are recomputed from the stored
    answer texts (citation support as stored). ``limit`` keeps the first N questions of the set.
    """
    from evals.metrics import aggregate, rescore_answer
    from evals.questions import load_questions
    from evals.report import format_value, metric_rows, write_reports
    from evals.runner import METRICS, RESULTS, read_results

    path = out / RUN_CONFIG
    if not path.exists():
        raise RunConfigError(f"{out} holds no evaluation run ({RUN_CONFIG} missing).")
    config = json.loads(path.read_text(encoding="utf-8"))
    done = {i: r for i, r in read_results(out / RESULTS).items() if not r.get("error")}
    rows = [rescore_answer(done[q.id]) for q in load_questions(questions, limit=limit) if q.id in done]
    metrics = aggregate(rows, int(config.get("top_k") or 0), config)
    (out / METRICS).write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    write_reports(out, rows, metrics)
    for name, value in metric_rows(metrics):
        typer.echo(f"{name}={format_value(value)}")
    return metrics


def register(app: typer.Typer) -> None:
    """Add ``eval`` and ``compare`` to the ``newsrag`` command line.

    Args:
        app: the root typer application.
    """

    @app.command("eval")
    def eval_cmd(
        questions: Optional[Path] = typer.Argument(
            None, help="Question set (.jsonl, the rtqa-dev format). Omit with --compare to only compare."
        ),
        corpus: Optional[Path] = typer.Option(
            None, "--corpus", help="Articles to answer from (file or folder); cached by content hash."
        ),
        store: Optional[Path] = typer.Option(None, "--store", help="Store folder (without --corpus)."),
        llm: Optional[str] = typer.Option(None, "--llm", help="Answer backend: llamacpp, openai, extractive."),
        out: Path = typer.Option(Path("runs/eval"), "--out", help="Run folder; an unfinished run resumes."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
        preset: str = typer.Option("default", "--preset", help="default or langchain-tutorial."),
        compare: Optional[Path] = typer.Option(
            None, "--compare", help="Another run folder: show it beside --out with differences."
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars."),
        report_only: bool = typer.Option(
            False, "--report-only", help="Answer nothing: score the rows already in --out and rewrite the reports."
        ),
    ) -> None:
        """Evaluate a question set: metrics.json, results.jsonl, report.md and report.html in --out."""
        from evals.compare import compare_runs
        from rag.cli import bad_settings

        if questions is None and compare is None:
            typer.echo("Give a question set (QUESTIONS.jsonl) or --compare OTHER_RUN.", err=True)
            raise typer.Exit(2)
        try:
            if questions is not None and report_only:
                report_command(questions, out, limit)
            elif questions is not None:
                run_command(questions, corpus, store, llm, out, limit, preset, progress)
            if compare is not None:
                typer.echo(compare_runs(compare, out))
        except SettingsError as err:
            raise bad_settings(err) from None
        except NewsragError as err:
            typer.echo(f"Error: {err}", err=True)
            raise typer.Exit(1) from err

    @app.command("compare")
    def compare_cmd(
        a: Path = typer.Argument(..., help="Reference run folder."),
        b: Path = typer.Argument(..., help="Run folder judged against it."),
    ) -> None:
        """Two evaluation runs side by side, with the differences B − A."""
        from evals.compare import compare_runs

        try:
            typer.echo(compare_runs(a, b))
        except NewsragError as err:
            typer.echo(f"Error: {err}", err=True)
            raise typer.Exit(1) from err
