"""Nothing overflows the model's context window: long questions are refused up front, long
history and long context are shrunk to fit, and any model failure is one ``BackendError`` line."""

from __future__ import annotations

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import Field

from fake_store import FakeStore, seed_article
from conftest import answer_params, retrieval_params
from rag.answerer import Answerer
from rag.errors import BackendError, QuestionTooLong
from rag.prompt import estimate_tokens
from rag.retrieval import HybridRetriever

Q = "What did Rhodes say about Ukraine?"
LONG_Q = "What did Rhodes say about Ukraine? " * 572  # 20,020 characters


def words(messages) -> int:
    """The fakes' token count: a token per word, plus 8 per message and 8 for the reply."""
    return sum(len(str(m.content).split()) + 8 for m in messages) + 8


class EstimatedChatModel(FakeListChatModel):
    """A fake with a context window, failing like llama.cpp when a prompt does not fit, and
    recording prompt sizes; it has no tokenizer to offer, so the chain has to estimate."""

    n_ctx: int = 2048
    sizes: list = Field(default_factory=list)
    prompts: list = Field(default_factory=list)

    def _check(self, messages):
        used = words(messages)
        self.sizes.append(used)
        self.prompts.append(messages)
        if used >= self.n_ctx:
            raise ValueError(f"Requested tokens ({used}) exceed context window of {self.n_ctx}")

    def _call(self, messages, *args, **kwargs):
        self._check(messages)
        return super()._call(messages, *args, **kwargs)

    def _stream(self, messages, *args, **kwargs):
        self._check(messages)
        yield from super()._stream(messages, *args, **kwargs)


class WindowedChatModel(EstimatedChatModel):
    """The same fake offering its own count (as ``rag.llm.LlamaCppChatModel`` does)."""

    def count_tokens(self, messages) -> int:
        return words(messages)


class NoRetriever:
    def retrieve(self, *args, **kwargs):
        raise AssertionError("nothing may be retrieved for a refused question")


@pytest.fixture
def retriever(fake_embeddings, tmp_path):
    return HybridRetriever(FakeStore([seed_article()], fake_embeddings), retrieval_params(), index_dir=tmp_path / "bm25")


def test_a_20000_character_question_is_refused_before_anything_runs():
    answerer = Answerer(NoRetriever(), WindowedChatModel(responses=["x"]), answer_params(min_relevance=0.0, max_question_chars=2000))
    with pytest.raises(QuestionTooLong, match=r"20,020 characters long; questions can be at most 2,000"):
        answerer.ask(LONG_Q)
    with pytest.raises(QuestionTooLong):
        list(answerer.stream(LONG_Q))
    assert "\n" not in str(QuestionTooLong) and QuestionTooLong.code == "question_too_long"


def test_a_question_within_the_character_limit_but_not_the_window_is_refused(retriever):
    model = WindowedChatModel(responses=["x"], n_ctx=400)
    answerer = Answerer(retriever, model, answer_params(min_relevance=0.0, max_question_chars=100_000, n_ctx=400, max_tokens=60))
    with pytest.raises(QuestionTooLong, match="context window"):
        answerer.ask("Rhodes Ukraine " + "word " * 500)
    assert model.sizes == []  # the model was not called


def test_a_large_context_is_shrunk_to_fit_the_window(retriever):
    model = WindowedChatModel(responses=["Rhodes said it was a complete violation of the spirit of the ceasefire [1]."],
                              n_ctx=300)
    answerer = Answerer(retriever, model, answer_params(top_k=5, min_relevance=0.0, context_chars=0, n_ctx=300, max_tokens=60))
    a = answerer.ask(Q)
    (size,) = model.sizes
    assert size + 60 <= 300
    assert a.answerable and "complete violation of the spirit" in a.citations[0].quote


def test_without_a_tokenizer_the_estimate_shrinks_the_context_safely(retriever):
    model = EstimatedChatModel(responses=["Rhodes said it was a complete violation of the spirit of the ceasefire [1]."],
                               n_ctx=700)
    assert not hasattr(model, "count_tokens")
    whole = Answerer(retriever, None, answer_params(top_k=5, min_relevance=0.0, context_chars=0))
    full = sum(len(p.text) for p in whole.passages(Q, retriever.retrieve(Q, 5, None, None)))
    a = Answerer(retriever, model, answer_params(top_k=5, min_relevance=0.0, context_chars=0, n_ctx=700, max_tokens=60)).ask(Q)
    (prompt,) = model.prompts
    assert estimate_tokens(prompt) + 60 <= 700 and words(prompt) + 60 <= 700
    assert len(prompt[-1].content) < full  # whole chunks would not fit: the context was cut
    assert a.answerable


def test_estimate_is_an_upper_bound_of_plain_and_wide_text():
    english = [SystemMessage("The quick brown fox jumps over the lazy dog. " * 20)]
    assert estimate_tokens(english) >= 900 / 3
    chinese = [HumanMessage("新闻" * 100)]  # 600 bytes, about 200 tokens in BPE vocabularies
    assert estimate_tokens(chinese) >= 200


def test_long_chat_history_is_shrunk_for_the_rewrite(retriever):
    history = [
        {"role": "user", "content": "What did Obama say? " * 300},
        {"role": "assistant", "content": "Obama said many things. " * 400},
        {"role": "user", "content": Q},
        {"role": "assistant", "content": "Rhodes spoke about the ceasefire. " * 400},
    ]
    model = WindowedChatModel(
        responses=["What did Rhodes say about Ukraine?",
                   "Rhodes said it was a complete violation of the spirit of the ceasefire [1]."],
        n_ctx=400,
    )
    answerer = Answerer(retriever, model, answer_params(top_k=3, min_relevance=0.0, n_ctx=400, max_tokens=60))
    a = answerer.ask("and what else?", history=history)
    assert len(model.sizes) == 2 and all(s + 60 <= 400 for s in model.sizes)
    assert a.standalone_question == Q and a.answerable


def test_any_model_failure_is_one_backend_error_line(retriever):
    class Broken(FakeListChatModel):
        def _stream(self, *args, **kwargs):
            raise RuntimeError("GGML_ASSERT failed\nbacktrace:\n  frame 1\n  frame 2")
            yield  # pragma: no cover

    with pytest.raises(BackendError) as err:
        Answerer(retriever, Broken(responses=["x"]), answer_params(top_k=3, min_relevance=0.0)).ask(Q)
    assert str(err.value) == "The language model failed: RuntimeError: GGML_ASSERT failed"


def test_a_setting_that_leaves_no_room_for_the_prompt_is_named(retriever):
    answerer = Answerer(retriever, WindowedChatModel(responses=["x"]), answer_params(min_relevance=0.0, n_ctx=512, max_tokens=500))
    with pytest.raises(BackendError, match=r"max_tokens \(500\) leaves too little"):
        answerer.ask(Q)
