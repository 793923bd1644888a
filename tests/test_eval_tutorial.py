"""The langchain-tutorial baseline: its chunks, its prompt, its refusal rule (fake LLM, fake store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.language_models import FakeListChatModel

from evals.presets import PresetError, build_pipeline
from evals.tutorial import PROMPT, TutorialPipeline, says_dont_know, split_article
from rag.settings import Settings
from rag.types import Article

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_d8ed5a87b2fc358e.txt"


def seed_article() -> Article:
    return Article(id="000_d8ed5a87b2fc358e", title="Obama, Putin", text=SEED.read_text())


def test_tutorial_chunks_have_exact_offsets_and_overlap():
    article = seed_article()
    chunks = split_article(article)
    assert len(chunks) >= 3
    for c in chunks:
        assert article.text[c.start : c.end] == c.text
        assert len(c.text) <= 1000
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)
    # one long paragraph: words are merged up to 1000 characters, with up to 200 shared
    long = Article(id="x", text=" ".join(f"word{i}" for i in range(600)))
    parts = split_article(long)
    assert len(parts) >= 4
    for a, b in zip(parts, parts[1:]):
        assert 0 < a.end - b.start <= 200
        assert long.text[a.start : a.end] == a.text


@pytest.mark.parametrize(
    "text,refused",
    [
        ("I don't know.", True),
        ("I do not know the answer based on the context.", True),
        ("The context does not mention it; I cannot determine the answer.", True),
        ("Rhodes said it was a complete violation of the spirit of the ceasefire.", False),
        ("Europe will require a common charger.", False),
    ],
)
def test_refusal_only_when_it_says_it_does_not_know(text, refused):
    assert says_dont_know(text) is refused


class FakeStore:
    def __init__(self, chunks):
        self.chunks = chunks
        self.queries: list[tuple[str, int]] = []

    def dense_search(self, query, k, filters=None):
        self.queries.append((query, k))
        return [(c, 0.5) for c in self.chunks[:k]]


def test_pipeline_prompt_retrieval_and_answer():
    chunks = split_article(seed_article())
    store = FakeStore(chunks)
    llm = FakeListChatModel(responses=["He called it a complete violation of the spirit.", "I don't know."])
    pipe = TutorialPipeline(store, llm)
    prompt = pipe.prompt("What did Rhodes say?", chunks[:2])
    assert prompt.startswith("You are an assistant for question-answering tasks.")
    assert f"{chunks[0].text}\n\n{chunks[1].text}" in prompt
    assert PROMPT.endswith("Answer:")

    first = pipe.ask("What did Rhodes say about Ukraine?")
    assert store.queries == [("What did Rhodes say about Ukraine?", 4)]
    assert first.answerable and first.citations == []
    assert first.answer == "He called it a complete violation of the spirit."
    assert [c.id for c in first.retrieved] == [c.id for c in chunks[:4]]
    assert first.timings["ttft_s"] <= first.timings["total_s"]

    second = pipe.ask("What did Merkel say?")
    assert second.answerable is False


def test_tutorial_preset_refuses_extractive_backend():
    with pytest.raises(PresetError, match="needs an LLM backend"):
        build_pipeline("langchain-tutorial", Settings(llm="extractive"))
    with pytest.raises(PresetError, match="Unknown preset"):
        build_pipeline("nope", Settings())
