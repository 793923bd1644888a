"""``Answerer.stream``'s stage events (order and content), the refusal sentences, and ``newsrag ask``
showing the stages on a terminal and the answer once. Fakes only: FakeStore, fake embeddings,
FakeListChatModel."""

from __future__ import annotations

import io

import pytest
from langchain_core.language_models import FakeListChatModel
from typer.testing import CliRunner

from conftest import answer_params, retrieval_params
from fake_store import FakeStore, seed_article
from rag import pipeline
from rag.answerer import Answerer
from rag.cli import StageLine
from rag.retrieval import HybridRetriever
from rag.types import REFUSAL_SENTENCES, Answer, Filters, Stage, refusal_sentence
from test_chain import PUTIN  # the seed article and one more, from Reuters

Q = "What did Rhodes say about Ukraine?"
HISTORY = [{"role": "user", "content": "What did Rhodes say in Beijing?"}, {"role": "assistant", "content": "..."}]


@pytest.fixture
def retriever(fake_embeddings, tmp_path):
    return HybridRetriever(FakeStore([seed_article(), PUTIN], fake_embeddings), retrieval_params(), index_dir=tmp_path / "bm25")


def kinds(items: list) -> list[str]:
    """Each item as its stage name, ``str`` or ``Answer``; runs of text pieces as one ``str``."""
    out: list[str] = []
    for item in items:
        kind = item.name if isinstance(item, Stage) else "str" if isinstance(item, str) else type(item).__name__
        if not (kind == "str" and out and out[-1] == "str"):
            out.append(kind)
    return out


def extractive(retriever) -> Answerer:
    return Answerer(retriever, None, answer_params())


def cited_draft(retriever) -> str:
    """A draft citing the passage that holds Rhodes's words (numbered as the model would see it)."""
    passages = extractive(retriever).passages(Q, extractive(retriever).retrieve(Q, Filters(), None))
    n = next(p.n for p in passages if "complete violation" in p.text)
    return f"Rhodes said it was a complete violation of the spirit of the ceasefire [{n}]."


def test_stages_come_in_order_before_the_text_and_reading_carries_the_sources(retriever):
    items = list(extractive(retriever).stream(Q))
    assert kinds(items) == ["searching", "reading", "writing", "str", "Answer"]
    searching, reading = items[0], items[1]
    final = items[-1]
    assert searching.query == Q and searching.message == "Searching the articles…"
    assert reading.sources == final.retrieved and reading.sources  # the passages found, best first
    n = len(reading.articles)
    assert reading.message == f"Reading {n} article{'s' * (n != 1)}…"
    assert final.answerable and final.refusal_detail is None


def test_a_follow_up_is_rewritten_first_and_the_model_s_citations_are_checked_after_the_text(retriever):
    model = FakeListChatModel(responses=[Q, cited_draft(retriever)])
    items = list(Answerer(retriever, model, answer_params()).stream("And about Ukraine?", history=HISTORY))
    assert kinds(items) == ["rewriting", "searching", "reading", "writing", "str", "checking", "Answer"]
    assert items[1].query == Q  # what was searched is the rewritten question
    final = items[-1]
    assert final.answerable and final.standalone_question == Q


def test_the_stages_change_no_answer(retriever):
    """What callers that only take ``str`` and ``Answer`` see is what they saw before: ``ask`` and
    the text pieces are the same, the stages are skipped by ``isinstance``."""
    answerer = extractive(retriever)
    items = list(answerer.stream(Q, as_of="2014-11-12"))
    pieces = [i for i in items if isinstance(i, str)]
    asked = answerer.ask(Q, as_of="2014-11-12")
    assert "".join(pieces) == asked.answer == items[-1].answer
    assert asked.citations == items[-1].citations
    assert asked.as_of == "2014-11-12" and asked.filters is None


def test_a_refusal_at_the_gate_never_reads_or_writes(retriever):
    items = list(Answerer(retriever, None, answer_params(min_relevance=0.5)).stream("What is the recipe for lasagna?"))
    assert kinds(items) == ["searching", "str", "Answer"]
    final = items[-1]
    assert final.refusal_reason == "no_relevant_articles"
    assert final.refusal_detail == REFUSAL_SENTENCES["no_relevant_articles"]


@pytest.mark.parametrize(
    "filters, sentence",
    [
        ({"date_from": "2020-01-01"},
         "No article published since 2020-01-01 matches the question; without that filter the library has some that do."),
        ({"sources": ["Nobody"], "date_from": "2014-11-01"},  # only the source keeps the articles out
         "No article from Nobody matches the question; without that filter the library has some that do."),
        ({"sources": ["Nobody"], "date_to": "2000-01-01"},  # both do, each alone
         "No article from Nobody published up to 2000-01-01 matches the question; without these filters the "
         "library has some that do."),
    ],
)
def test_a_refusal_names_the_filter_that_kept_the_articles_out(retriever, filters, sentence):
    final = extractive(retriever).ask(Q, filters=filters)
    assert final.refusal_reason == "no_relevant_articles"  # the reason code is unchanged
    assert final.refusal_detail == sentence
    assert final.filters == filters


def test_a_this_week_question_says_only_recent_articles_were_searched(retriever):
    final = extractive(retriever).ask("What did Obama and Putin discuss this week?", as_of="2015-06-01")
    assert final.refusal_detail == refusal_sentence("recent_window", days=10, as_of=final_day(final))
    assert "10 days before 2015-06-01" in final.refusal_detail


def final_day(answer: Answer):
    import datetime as dt

    return dt.date.fromisoformat(answer.as_of)


def test_a_who_said_what_refusal_names_the_person_not_quoted(retriever):
    final = extractive(retriever).ask("What did John Kerry say about Ukraine?")
    assert final.refusal_reason == "speaker_not_quoted"
    assert final.refusal_detail == "John Kerry is not quoted on this in the articles found; the answer names who is."


@pytest.mark.parametrize(
    "draft, reason",
    [("NOT IN ARTICLES", "not_in_articles"), ("Bananas are yellow and tasty [1].", "unsupported")],
)
def test_a_model_answer_that_fails_says_so(retriever, draft, reason):
    items = list(Answerer(retriever, FakeListChatModel(responses=[draft]), answer_params()).stream(Q))
    final = items[-1]
    assert final.refusal_reason == reason and final.refusal_detail == REFUSAL_SENTENCES[reason]
    assert ("checking" in kinds(items)) is (reason == "unsupported")  # "not in articles" needs no check


def test_every_refusal_reason_has_a_sentence():
    from rag.types import REFUSAL_REASONS

    assert set(REFUSAL_REASONS) <= set(REFUSAL_SENTENCES)
    for case in REFUSAL_SENTENCES:
        assert "{" not in refusal_sentence(case, filters=Filters(sources=("CNN",)), days=3, speaker="Ann")


# --- newsrag ask ----------------------------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_stage_line_is_shown_on_a_terminal_only():
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        line = StageLine(stream)
        line.show("Searching the articles…")
        line.clear()
    assert tty.getvalue() == "\r\x1b[KSearching the articles…\r\x1b[K"
    assert pipe.getvalue() == ""


@pytest.fixture
def cli(monkeypatch, retriever):
    from newsrag.cli import app

    model = FakeListChatModel(responses=["Rhodes said it was a complete violation [1]."])
    monkeypatch.setattr(pipeline, "build_answerer", lambda settings, **kw: Answerer(retriever, model, answer_params()))
    pipeline._CACHE.clear()
    yield app
    pipeline._CACHE.clear()


def test_ask_prints_the_verified_answer_once(cli, retriever, monkeypatch):
    draft = cited_draft(retriever).replace(" [", "  [")  # the draft differs from what is verified
    model = FakeListChatModel(responses=[draft])
    monkeypatch.setattr(pipeline, "build_answerer", lambda settings, **kw: Answerer(retriever, model, answer_params()))
    result = CliRunner().invoke(cli, ["ask", "--llm", "extractive", Q])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("complete violation of the spirit of the ceasefire") == 1
    assert "Verified answer" not in result.stdout and result.stderr == ""  # not a terminal: no stages


def test_ask_says_which_filter_kept_the_articles_out(cli):
    result = CliRunner().invoke(cli, ["ask", "--llm", "extractive", "--source", "Nobody", "--from", "2014-11-01", Q])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "The articles don't say. I couldn't find this in the news articles I have.",
        "No article from Nobody matches the question; without that filter the library has some that do.",
    ]
    bad = CliRunner().invoke(cli, ["ask", "--llm", "extractive", "--to", "soon", Q])
    assert bad.exit_code == 2 and bad.stderr == "Error: --to soon: must be a date, YYYY-MM-DD\n"
