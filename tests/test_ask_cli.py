"""``newsrag ask``: the JSON contract, streamed text with sources, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fake_store import FakeStore, seed_article
from rag import pipeline
from conftest import answer_params, retrieval_params
from rag.answerer import Answerer
from rag.retrieval import HybridRetriever

ROOT = Path(__file__).resolve().parents[1]
Q = "What did Rhodes say about Ukraine?"


@pytest.fixture
def app(monkeypatch, fake_embeddings, tmp_path):
    """The CLI with the store replaced by an in-memory one (extractive answers)."""
    from newsrag.cli import app

    def build(settings, store=None, chat_model=None):
        assert settings.llm == "extractive"
        return Answerer(HybridRetriever(FakeStore([seed_article()], fake_embeddings), retrieval_params(), index_dir=tmp_path / "i"), None, answer_params(min_relevance=0.0))

    monkeypatch.setattr(pipeline, "build_answerer", build)
    pipeline._CACHE.clear()
    yield app
    pipeline._CACHE.clear()


def check_contract(obj: dict, text: str | None = None) -> None:
    assert set(obj) == {"question", "answer", "answerable", "citations", "timings", "refusal_reason"}
    text = text or seed_article().text
    for c in obj["citations"]:
        assert set(c) == {"n", "article_id", "title", "url", "published", "quote", "start", "end", "speaker"}
        assert text[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}]" in obj["answer"]


def test_ask_json_prints_the_contract(app):
    result = CliRunner().invoke(app, ["ask", "--json", "--llm", "extractive", Q])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    check_contract(obj)
    assert obj["answerable"] is True
    assert any("complete violation of the spirit" in c["quote"] for c in obj["citations"])


def test_ask_streams_text_then_sources(app):
    result = CliRunner().invoke(app, ["ask", "--llm", "extractive", Q])
    assert result.exit_code == 0, result.output
    assert "complete violation of the spirit" in result.stdout
    assert "Sources:" in result.stdout and "[1]" in result.stdout


def test_bad_options_exit_2_with_one_line(app):
    result = CliRunner().invoke(app, ["ask", "--llm", "nonsense", Q])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["ask", "--llm", "extractive", "--as-of", "yesterday", Q])
    assert result.exit_code == 2 and "Error:" in result.stderr


def test_empty_store_is_one_clear_line(monkeypatch, fake_embeddings, tmp_path):
    from newsrag.cli import app

    monkeypatch.setattr(
        pipeline,
        "build_answerer",
        lambda settings, **kw: Answerer(HybridRetriever(FakeStore([], fake_embeddings), retrieval_params(), index_dir=tmp_path / "e"), None, answer_params(min_relevance=0.0)),
    )
    pipeline._CACHE.clear()
    result = CliRunner().invoke(app, ["ask", "--llm", "extractive", Q])
    pipeline._CACHE.clear()
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "newsrag ingest" in result.stderr


@pytest.mark.slow
def test_real_store_extractive_answer_quotes_rhodes(tmp_path):
    """Ingest the seed with the real embedder and Chroma, then ask on the command line."""
    exe = [sys.executable, "-m", "newsrag"]
    env = dict(os.environ, NEWSRAG_STORE=str(tmp_path / "store"))
    ingest = subprocess.run([*exe, "ingest", str(ROOT / "seeds")], env=env, capture_output=True, text=True, cwd=ROOT)
    assert ingest.returncode == 0, ingest.stderr
    ask = subprocess.run(
        [*exe, "ask", "--json", "--llm", "extractive", Q], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert ask.returncode == 0, ask.stderr
    obj = json.loads(ask.stdout)
    from ingest.pipeline import iter_articles

    (stored,) = list(iter_articles([ROOT / "seeds"]))  # the text as ingest normalised it
    check_contract(obj, stored.text)
    assert obj["answerable"]
    assert any("complete violation of the spirit" in c["quote"] for c in obj["citations"])


def test_a_20000_character_question_is_one_line_and_exit_1(monkeypatch, app):
    def no_models(*args, **kwargs):
        raise AssertionError("no model may load for a question that is refused")

    monkeypatch.setattr(pipeline, "build_answerer", no_models)
    result = CliRunner().invoke(app, ["ask", "--llm", "extractive", "What did Rhodes say? " * 1000])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (
        "Error: The question is 21,000 characters long; questions can be at most 2,000 characters. "
        "Please ask a shorter question.\n"
    )


def test_the_question_limit_comes_from_settings(monkeypatch, app):
    monkeypatch.setenv("NEWSRAG_MAX_QUESTION_CHARS", "10")
    result = CliRunner().invoke(app, ["ask", "--json", "--llm", "extractive", Q])
    assert result.exit_code == 1 and "at most 10 characters" in result.stderr
    monkeypatch.setenv("NEWSRAG_MAX_QUESTION_CHARS", "0")
    result = CliRunner().invoke(app, ["ask", "--llm", "extractive", Q])
    assert result.exit_code == 2 and "NEWSRAG_MAX_QUESTION_CHARS=0" in result.stderr


def test_a_failing_model_is_one_line_and_exit_1(monkeypatch, fake_embeddings, tmp_path):
    from langchain_core.language_models import FakeListChatModel

    from newsrag.cli import app

    class Broken(FakeListChatModel):
        def _stream(self, *args, **kwargs):
            raise ValueError("Requested tokens (4183) exceed context window of 2048")
            yield  # pragma: no cover

    store = FakeStore([seed_article()], fake_embeddings)
    monkeypatch.setattr(
        pipeline, "build_answerer",
        lambda settings, **kw: Answerer(HybridRetriever(store, retrieval_params(), index_dir=tmp_path / "b"), Broken(responses=["x"]), answer_params(min_relevance=0.0)),
    )
    pipeline._CACHE.clear()
    result = CliRunner().invoke(app, ["ask", "--llm", "extractive", Q])
    pipeline._CACHE.clear()
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "exceed context window of 2048" in result.stderr
    assert "Traceback" not in result.output


# --- several questions in one process ---------------------------------------------------------------
G20 = "Where is the G-20 meeting being held?"


@pytest.fixture
def builds(monkeypatch, app):
    """How many times the answer pipeline was built (the models loaded)."""
    made: list[int] = []
    build = pipeline.build_answerer

    def counting(settings, **kw):
        made.append(1)
        return build(settings, **kw)

    monkeypatch.setattr(pipeline, "build_answerer", counting)
    return made


def test_a_file_of_questions_is_answered_in_turn_by_one_pipeline(app, builds, tmp_path):
    questions = tmp_path / "questions.txt"
    questions.write_text(f"# the seed article\n{Q}\n\n   \n{G20}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ask", "--llm", "extractive", "--file", str(questions)])
    assert result.exit_code == 0, result.output
    assert builds == [1]
    blocks = result.stdout.split("\n\nQ: ")
    assert len(blocks) == 2 and blocks[0].startswith(f"Q: {Q}\n") and blocks[1].startswith(f"{G20}\n")
    assert "complete violation of the spirit" in blocks[0] and "Sources:" in blocks[1]


@pytest.mark.parametrize("args", [[], ["-"]])
def test_questions_from_stdin_give_one_json_object_a_line(app, builds, args):
    result = CliRunner().invoke(app, ["ask", "--json", "--llm", "extractive", *args], input=f"{Q}\n#\n{G20}\n")
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["question"] for o in objects] == [Q, G20] and builds == [1]
    for obj in objects:
        check_contract(obj)
    assert objects[0]["timings"]["total_s"] >= 0


def test_a_question_too_long_is_one_line_and_the_others_are_answered(app, monkeypatch):
    monkeypatch.setenv("NEWSRAG_MAX_QUESTION_CHARS", "40")
    long = "What did Rhodes say about Ukraine and about Syria?"
    result = CliRunner().invoke(app, ["ask", "--json", "--llm", "extractive"], input=f"{Q}\n{long}\n{G20}\n")
    assert result.exit_code == 1
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["question"] for o in objects] == [Q, long, G20]
    assert "answer" in objects[0] and "answer" in objects[2]
    assert objects[1] == {"question": long, "error": {"message": objects[1]["error"]["message"]}}
    assert "at most 40 characters" in objects[1]["error"]["message"]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: question 2: The question is 50")


def test_bad_question_sources_are_one_line_and_exit_2(app, builds, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n", encoding="utf-8")
    for args, message in [
        (["--file", str(tmp_path / "missing.txt")], f"Error: --file {tmp_path / 'missing.txt'}: No such file or directory\n"),
        (["--file", str(empty), Q], "Error: give a question or --file, not both\n"),
        (["--file", str(empty)], "Error: no questions to answer (one a line; blank lines and # lines are skipped)\n"),
    ]:
        result = CliRunner().invoke(app, ["ask", "--llm", "extractive", *args])
        assert (result.exit_code, result.stderr, result.stdout) == (2, message, "")
    assert builds == []  # nothing loaded for nothing to answer
