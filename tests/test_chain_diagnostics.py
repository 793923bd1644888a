"""The answer path's diagnostics: which rule dropped each claim, and what a follow-up's rewrite may add."""

from __future__ import annotations

from langchain_core.language_models import FakeListChatModel

from conftest import answer_params, retrieval_params
from fake_store import FakeStore, seed_article
from rag.answerer import Answerer
from rag.retrieval import HybridRetriever

ARTICLE = seed_article()


def test_the_answer_records_the_rule_of_each_dropped_claim(fake_embeddings, tmp_path):
    retriever = HybridRetriever(FakeStore([ARTICLE], fake_embeddings), retrieval_params(), index_dir=tmp_path / "x")
    model = FakeListChatModel(responses=["Kiev is located on the planet Mars [1]."])
    a = Answerer(retriever, model, answer_params(top_k=3, min_relevance=0.0)).ask("What did Rhodes say about Ukraine?")
    assert not a.answerable and a.refusal_reason == "unsupported"
    assert a.dropped == ["Kiev is located on the planet Mars."] and a.drop_reasons == ["no_support"]
    assert "drop_reasons" not in a.contract()


# --- follow-ups: the rewrite may not put words in the user's mouth ----------------------------------
HISTORY = [
    {"role": "user", "content": "What did Rhodes say about the ceasefire?"},
    {"role": "assistant", "content": "Ben Rhodes said the provision of arms was a complete violation of the ceasefire [1]."},
]


def _rewrite(fake_embeddings, tmp_path, rewritten: str, question: str) -> str:
    retriever = HybridRetriever(FakeStore([ARTICLE], fake_embeddings), retrieval_params(), index_dir=tmp_path / "x")
    model = FakeListChatModel(responses=[rewritten])
    return Answerer(retriever, model, answer_params(top_k=3, min_relevance=0.0)).standalone(question, HISTORY)


def test_a_rewrite_that_is_a_statement_giving_words_to_someone_is_discarded(fake_embeddings, tmp_path):
    question = "What did Meehan say about it?"
    got = _rewrite(fake_embeddings, tmp_path, "Ben Rhodes said the ceasefire was violated.", question)
    assert got == question


def test_a_rewrite_that_swaps_the_person_asked_about_is_discarded(fake_embeddings, tmp_path):
    question = "What did Meehan say about it?"
    got = _rewrite(fake_embeddings, tmp_path, "What did Ben Rhodes say about the ceasefire?", question)
    assert got == question


def test_a_rewrite_that_adds_a_person_nobody_wrote_is_discarded(fake_embeddings, tmp_path):
    question = "What did he say about it?"
    got = _rewrite(fake_embeddings, tmp_path, "What did John Kerry say about the ceasefire?", question)
    assert got == question


def test_a_faithful_rewrite_is_used(fake_embeddings, tmp_path):
    question = "What did Meehan say about it?"
    got = _rewrite(fake_embeddings, tmp_path, "What did Meehan say about the ceasefire?", question)
    assert got == "What did Meehan say about the ceasefire?"
