"""`newsrag eval` for real: real embedder, real Chroma, the seed set; the tutorial preset on the
local LLM (two questions). Slow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from evals import cli as eval_cli

ROOT = Path(__file__).resolve().parents[1]
SEED_SET = ROOT / "evals" / "sets" / "seed.jsonl"
SEEDS = ROOT / "seeds"


def make_app() -> typer.Typer:
    app = typer.Typer()
    eval_cli.register(app)
    return app


@pytest.fixture
def cache(tmp_path, monkeypatch):
    from rag.model_files import resolve_model_path
    from rag.settings import default_cache_dir

    try:
        model = resolve_model_path(None, default_cache_dir())
    except Exception:
        model = None
    monkeypatch.setenv("NEWSRAG_CACHE_DIR", str(tmp_path / "cache"))
    if model is not None:
        monkeypatch.setenv("NEWSRAG_MODEL_PATH", str(model))
    return tmp_path / "cache", model


@pytest.mark.slow
def test_eval_seed_set_extractive_end_to_end(cache, tmp_path):
    runner, app = CliRunner(), make_app()
    args = ["eval", str(SEED_SET), "--corpus", str(SEEDS), "--llm", "extractive", "--out", "runs/x", "--no-progress"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    out = tmp_path / "runs" / "x"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_questions"] == 19 and metrics["n_unanswerable"] == 5
    assert metrics["retrieval_recall_at_k"] == 1.0  # one article: every hit is gold
    assert metrics["citation_support"] == 1.0  # quotes are verbatim from the stored article
    rows = {json.loads(x)["id"]: json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()}
    assert rows["seed-a01"]["outcomes"]["correct"] is True  # "complete violation of the spirit"
    assert (out / "report.html").stat().st_size > 2000
    # the corpus store is cached by content hash: a second run ingests nothing
    stores = list((cache[0] / "eval-stores").iterdir())
    assert len(stores) == 1 and (stores[0] / ".complete").exists()
    res = runner.invoke(app, args[:-3] + ["--out", "runs/y", "--no-progress", "--limit", "1"])
    assert res.exit_code == 0, res.output
    assert list((cache[0] / "eval-stores").iterdir()) == stores


@pytest.mark.slow
def test_tutorial_preset_on_local_llm(cache, tmp_path):
    if cache[1] is None:
        pytest.fail("the local model is missing: run `newsrag model pull`")
    res = CliRunner().invoke(
        make_app(),
        ["eval", str(SEED_SET), "--corpus", str(SEEDS), "--preset", "langchain-tutorial",
         "--out", "runs/t", "--limit", "2", "--no-progress"],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "runs" / "t" / "metrics.json").read_text())
    assert metrics["config"]["preset"] == "langchain-tutorial"
    assert metrics["k"] == 4 and metrics["config"]["chunk_size"] == 1000
    assert metrics["citation_support"] is None  # the tutorial makes no citations
    assert metrics["ttft_p50_s"] is not None and metrics["ttft_p50_s"] > 0
    rows = [json.loads(x) for x in (tmp_path / "runs" / "t" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["retrieved"] for r in rows)
