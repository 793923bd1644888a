"""Per-stage timings of an answer: the LLM call's tokens and speeds, grounding time; answers unchanged."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.outputs import ChatGenerationChunk

from conftest import answer_params, retrieval_params
from fake_store import FakeStore, seed_article
from rag import llm
from rag.answerer import Answerer
from rag.retrieval import HybridRetriever

Q = "What did Rhodes say about Ukraine?"
DRAFT = "Rhodes said the provision of arms was a complete violation of the spirit of the ceasefire [1]."


class CountingChatModel(FakeListChatModel):
    """``FakeListChatModel`` whose stream ends with a chunk of token counts, as llama.cpp's does."""

    usage: dict = {}

    def _stream(self, *args, **kwargs):
        yield from super()._stream(*args, **kwargs)
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=self.usage))


@pytest.fixture
def retriever(fake_embeddings, tmp_path):
    return HybridRetriever(FakeStore([seed_article()], fake_embeddings), retrieval_params(), index_dir=tmp_path / "bm25")


def ask(retriever, model):
    return Answerer(retriever, model, answer_params(top_k=3, min_relevance=0.0)).ask(Q)


def test_the_llm_calls_tokens_and_speeds_are_timed_and_the_answer_is_unchanged(retriever):
    usage = {"input_tokens": 250, "output_tokens": 21, "total_tokens": 271, "input_token_details": {"cache_read": 130}}
    counted = ask(retriever, CountingChatModel(responses=[DRAFT], usage=usage))
    plain = ask(retriever, FakeListChatModel(responses=[DRAFT]))

    assert counted.answer == plain.answer and counted.citations == plain.citations and counted.answerable
    t = counted.timings
    assert (t["prompt_tokens"], t["prompt_eval_tokens"], t["completion_tokens"]) == (250, 120, 21)
    assert t["prompt_eval_tok_s"] > 0 and t["decode_tok_s"] > 0
    assert 0 <= t["llm_ttft_s"] <= t["llm_s"] and t["llm_ttft_s"] <= t["ttft_s"] <= t["total_s"]
    assert 0 <= t["verify_s"] <= t["total_s"]
    # a backend that counts no tokens: its timings say nothing of tokens rather than guess
    assert {"verify_s", "llm_ttft_s", "llm_s"} <= set(plain.timings)
    assert not {"prompt_tokens", "prompt_eval_tokens", "completion_tokens", "prompt_eval_tok_s",
                "decode_tok_s"} & set(plain.timings)


def test_without_cache_figures_the_uncached_prompt_is_not_guessed(retriever):
    usage = {"input_tokens": 250, "output_tokens": 1, "total_tokens": 251}
    t = ask(retriever, CountingChatModel(responses=[DRAFT], usage=usage)).timings
    assert t["prompt_tokens"] == 250 and t["completion_tokens"] == 1
    assert "prompt_eval_tokens" not in t and "prompt_eval_tok_s" not in t
    assert "decode_tok_s" not in t  # one token: nothing decoded after the first


class CountingLlama:
    """Stands in for ``llama_cpp.Llama`` with llama.cpp's counters: a 40-token prompt of which 25
    were in the prefix cache, then three tokens decoded one at a time."""

    def __init__(self) -> None:
        self._ctx = SimpleNamespace(ctx=object())
        self.n_tokens = 0

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(range(len(text.split())))

    def create_chat_completion(self, messages, stream=False, **kwargs):
        self.n_tokens = 40 + 3
        words = ["Rhodes ", "said ", "so."]
        parts = [{"choices": [{"delta": {"content": w}, "finish_reason": None}]} for w in words]
        return iter(parts + [{"choices": [{"delta": {}, "finish_reason": "stop"}]}])


def test_the_local_backend_reports_the_calls_token_counts(monkeypatch, tmp_path):
    import llama_cpp

    resets = []
    monkeypatch.setattr(llama_cpp, "llama_perf_context_reset", lambda ctx: resets.append(ctx))
    monkeypatch.setattr(llama_cpp, "llama_perf_context", lambda ctx: SimpleNamespace(n_p_eval=15, n_eval=3))
    shared = llm.SharedLlama(llama=CountingLlama(), lock=threading.Lock())
    monkeypatch.setattr(llm.LlamaCppChatModel, "shared", lambda self: shared)
    model = llm.LlamaCppChatModel(model_path=tmp_path / "m.gguf")

    chunks = list(model.stream([HumanMessage("What did Rhodes say?")]))
    assert "".join(c.content for c in chunks) == "Rhodes said so."
    assert len(resets) == 1
    merged = sum(chunks[1:], chunks[0])
    assert merged.usage_metadata == {
        "input_tokens": 40, "output_tokens": 3, "total_tokens": 43, "input_token_details": {"cache_read": 25},
    }


# --- in the evaluation's metrics and reports --------------------------------------------------------
def row(i: int, **timings) -> dict:
    return {"id": f"q{i}", "question": f"Question {i}?", "timings": timings, "error": None}


ROWS = [
    row(1, retrieve_s=0.02, prompt_tokens=200, prompt_eval_tokens=80, prompt_eval_tok_s=40.0,
        decode_tok_s=10.0, verify_s=0.01, total_s=3.0),
    row(2, retrieve_s=0.04, prompt_tokens=300, prompt_eval_tokens=180, prompt_eval_tok_s=60.0,
        decode_tok_s=20.0, verify_s=0.03, total_s=5.0),
    row(3, retrieve_s=0.03, total_s=0.5),  # refused before the model was called
    {"id": "q4", "question": "Broken?", "error": "RuntimeError: boom", "timings": {"total_s": 99.0}},
]


def test_each_stage_has_its_p50_and_p95_over_the_answers_that_have_it():
    from evals.metrics import stage_timings

    stages = stage_timings(ROWS)
    assert list(stages) == ["retrieve_s", "prompt_tokens", "prompt_eval_tokens", "prompt_eval_tok_s",
                            "decode_tok_s", "verify_s", "total_s"]  # no answer has completion_tokens
    assert stages["retrieve_s"] == {"p50": pytest.approx(0.03), "p95": pytest.approx(0.039), "n": 3}
    assert stages["prompt_eval_tok_s"] == {"p50": 50.0, "p95": 59.0, "n": 2}
    assert stages["total_s"]["n"] == 3 and stages["total_s"]["p50"] == 3.0  # the error row is not counted


def test_reports_show_a_table_of_the_stages(tmp_path):
    from eval_fakes import FIXTURE, fake_pipeline, load_articles
    from evals.metrics import aggregate
    from evals.questions import load_questions
    from evals.report import render_html, render_markdown
    from evals.runner import run_eval

    rows, _ = run_eval(load_questions(FIXTURE / "questions.jsonl"), fake_pipeline(), tmp_path, k=2,
                       get_article=load_articles().get, config={}, progress=False)
    rows = [dict(r, timings=t["timings"]) for r, t in zip(rows, ROWS[:3])]
    metrics = aggregate(rows, 2, {})
    md = render_markdown(rows, metrics, "run")
    assert "## Time per stage" in md
    assert "| retrieval (s) | 0.030 | 0.039 | 3 |" in md
    assert "| prompt tokens | 250 | 295 | 2 |" in md
    assert "| prompt eval (tokens/s) | 50.0 | 59.0 | 2 |" in md
    assert "| verification (s) | 0.020 | 0.029 | 2 |" in md
    assert "stages." not in md  # not repeated in the metric table
    html = render_html(rows, metrics, "run")
    assert "<h2>Time per stage</h2>" in html and "<td>decode (tokens/s)</td><td class='num'>15.0</td>" in html
    assert "Time per stage" not in render_markdown(rows, dict(metrics, stages={}), "old run")
