"""The real answer path: real embedder and Chroma store, the local 1.5B model, seed questions."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def answerer(tmp_path_factory):
    from typer.testing import CliRunner

    from newsrag.cli import app
    from rag.pipeline import build_answerer
    from rag.settings import Settings

    store = tmp_path_factory.mktemp("llm-store")
    result = CliRunner().invoke(app, ["ingest", "--store", str(store), str(ROOT / "seeds")])
    assert result.exit_code == 0, result.output
    return build_answerer(Settings(store=store, llm="llamacpp"))


@pytest.mark.parametrize(
    "question, expected",
    [
        ("What did Rhodes say about Ukraine?", "violation"),
        ("What did Iran reportedly agree to ship to Russia?", "uranium"),
    ],
)
def test_local_llm_answers_with_verbatim_quotes(answerer, question, expected):
    answer = answerer.ask(question, as_of="2014-11-11")
    assert answer.answerable, answer.answer
    assert expected in answer.answer.lower()
    assert answer.citations
    for c in answer.citations:
        assert f"[{c.n}]" in answer.answer
        stored = answerer.retriever.store.get_article(c.article_id)
        assert stored.text[c.start : c.end] == c.quote


def test_local_llm_refuses_what_the_articles_do_not_say(answerer):
    answer = answerer.ask("Who won the football World Cup final?", as_of="2014-11-11")
    assert not answer.answerable
    assert answer.citations == []


def test_local_llm_streams_text_before_the_answer(answerer):
    from rag.types import Answer, Stage

    items = [i for i in answerer.stream("What did Rhodes say about Ukraine?", as_of="2014-11-11") if not isinstance(i, Stage)]
    assert isinstance(items[-1], Answer)
    assert len(items) > 2 and all(isinstance(i, str) for i in items[:-1])
