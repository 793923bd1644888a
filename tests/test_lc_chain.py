"""``rag.retriever()`` and ``rag.chain()``: newsrag as LangChain parts, over a real Chroma store
(fake embedding) with the extractive backend or ``FakeListChatModel``.

The retriever gives the chunks ``rag.ask`` reads, as ``Document``s, inside an LCEL pipeline too;
the chain answers as ``rag.ask`` does through ``invoke``, ``batch``, ``stream``, ``ainvoke`` and
``astream`` (the last two leave the event loop free), each stage a child callback run.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.tracers.base import BaseTracer

import rag
from conftest import FakeEmbeddings
from rag import pipeline
from rag.types import Answer, Filters, Stage
from test_chain import PUTIN

ROOT = Path(__file__).resolve().parents[1]
Q = "What did Rhodes say about Ukraine?"
DAY = "2014-11-12"
HISTORY = [{"role": "user", "content": "What did Rhodes say in Beijing?"}, {"role": "assistant", "content": "..."}]
OFF_TOPIC = "Who won the 1950 football World Cup final in Rio?"


class Library(NamedTuple):
    """Settings over a real Chroma store, and the store (opened with the fake embedding)."""

    settings: Any
    store: Any


@pytest.fixture
def library(tmp_path) -> Library:
    """The seed article and a Reuters one ingested into a real Chroma store (fake embedding); the
    pipeline of its settings is built by ``use_model`` (cached, as ``rag.ask`` finds it)."""
    from ingest.pipeline import ingest_paths
    from rag.settings import Settings
    from rag.store import Store

    s = Settings(store=str(tmp_path / "store"), llm="extractive")
    store = Store.from_settings(s, FakeEmbeddings())
    reuters = tmp_path / "putin.json"
    reuters.write_text(PUTIN.model_dump_json(include={"id", "title", "text", "published", "source"}), encoding="utf-8")
    report = ingest_paths([ROOT / "seeds", reuters], store, chunk_size=s.chunk_size, chunk_overlap=s.chunk_overlap, progress=False)
    assert report.ok and store.stats()["articles"] == 2
    pipeline._CACHE.clear()
    yield Library(s, store)
    pipeline._CACHE.clear()


def use_model(library: Library, model) -> Any:
    """Build the library's pipeline with ``model`` (None: extractive); returns its settings."""
    pipeline._CACHE[library.settings.model_dump_json()] = pipeline.build_answerer(
        library.settings, store=library.store, chat_model=model
    )
    return library.settings


@pytest.fixture
def extractive(library):
    return use_model(library, None)


def extractive_store(settings) -> Any:
    """The store the pipeline of ``settings`` reads."""
    return pipeline.get_answerer(settings).retriever.store


def cited_draft(settings) -> str:
    """A draft citing the passage with Rhodes's words, numbered as the model sees it."""
    answerer = pipeline.get_answerer(settings)
    passages = answerer.passages(Q, answerer.retrieve(Q, Filters(), None))
    n = next(p.n for p in passages if "complete violation" in p.text)
    return f"Rhodes said it was a complete violation of the spirit of the ceasefire [{n}]."


def same_answer(a: Answer, b: Answer) -> bool:
    """Equal but for the timings."""
    return a.model_dump(exclude={"timings"}) == b.model_dump(exclude={"timings"})


# --- the retriever ----------------------------------------------------------------------------------
def test_retriever_gives_the_chunks_ask_reads_as_documents_with_their_metadata(extractive):
    docs = rag.retriever(extractive, as_of=DAY).invoke(Q)
    answer = rag.ask(Q, as_of=DAY, settings=extractive)
    assert [d.id for d in docs] == [c.id for c in answer.retrieved] and docs  # same chunks, same order
    first, chunk = docs[0], answer.retrieved[0]
    assert isinstance(first, Document) and first.page_content == chunk.text
    assert first.metadata == {
        "article_id": chunk.article_id, "title": chunk.title, "url": chunk.url, "published": chunk.published,
        "source": chunk.source, "chunk_id": chunk.id, "position": chunk.position, "start": chunk.start,
        "end": chunk.end, "score": chunk.score,
    }
    text = extractive_store(extractive).get_article(first.metadata["article_id"]).text
    assert text[first.metadata["start"]:first.metadata["end"]] == first.page_content
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0


def test_retriever_filters_as_fields_config_or_keywords(extractive):
    reuters = {"sources": ["Reuters"]}
    fielded = rag.retriever(extractive, filters=reuters).invoke("Putin Ukraine troops")
    configured = rag.retriever(extractive).invoke("Putin Ukraine troops", config={"configurable": {"filters": reuters}})
    keyword = rag.retriever(extractive).invoke("Putin Ukraine troops", filters=reuters, k=1)
    unfiltered = rag.retriever(extractive).invoke("Putin Ukraine troops")
    assert {d.metadata["source"] for d in fielded} == {"Reuters"}
    assert [d.id for d in configured] == [d.id for d in fielded]
    assert [d.id for d in keyword] == [fielded[0].id]
    assert {d.metadata["source"] for d in unfiltered} == {"Reuters", None}  # the seed file names no source


def test_retriever_in_an_lcel_pipeline_with_a_chat_model(extractive):
    prompts: list[str] = []

    class Prompts(BaseCallbackHandler):
        def on_chat_model_start(self, serialized, messages, **kwargs):
            prompts.append(messages[0][0].content)

    passages = rag.retriever(extractive, as_of=DAY) | RunnableLambda(lambda docs: "\n\n".join(d.page_content for d in docs))
    prompt = ChatPromptTemplate.from_template("Passages:\n{passages}\n\nQuestion: {question}")
    model = FakeListChatModel(responses=["Rhodes called it a violation."])
    pipe = {"passages": passages, "question": RunnablePassthrough()} | prompt | model | StrOutputParser()
    assert pipe.invoke(Q, config={"callbacks": [Prompts()]}) == "Rhodes called it a violation."
    best = rag.ask(Q, as_of=DAY, settings=extractive).retrieved[0].text
    assert best in prompts[0] and prompts[0].endswith(f"Question: {Q}")


def test_retriever_ainvoke_equals_invoke(extractive):
    retriever = rag.retriever(extractive, as_of=DAY)
    assert [d.id for d in asyncio.run(retriever.ainvoke(Q))] == [d.id for d in retriever.invoke(Q)]


# --- the chain --------------------------------------------------------------------------------------
def test_chain_invoke_and_batch_answer_as_ask(extractive):
    chain = rag.chain(extractive)
    asked = rag.ask(Q, as_of=DAY, settings=extractive)
    assert asked.answerable and asked.citations
    assert same_answer(chain.invoke({"question": Q, "as_of": DAY}), asked)
    first, refused = chain.batch([{"question": Q, "as_of": DAY}, OFF_TOPIC])
    assert same_answer(first, asked)
    assert not refused.answerable and refused.refusal_detail and refused.question == OFF_TOPIC


def test_chain_stream_gives_the_events_of_rag_stream(library):
    settings = use_model(library, None)
    use_model(library, FakeListChatModel(responses=[Q, cited_draft(settings)] * 2))
    streamed = list(rag.stream("And about Ukraine?", history=HISTORY, settings=settings))
    chained = list(rag.chain(settings).stream({"question": "And about Ukraine?", "history": HISTORY}))
    kinds = [type(i).__name__ + (f":{i.name}" if isinstance(i, Stage) else "") for i in chained]
    assert kinds[:4] == ["Stage:rewriting", "Stage:searching", "Stage:reading", "Stage:writing"]
    assert kinds[-2:] == ["Stage:checking", "Answer"] and "str" in kinds
    assert [type(i) for i in streamed] == [type(i) for i in chained]
    assert "".join(i for i in chained if isinstance(i, str)) == "".join(i for i in streamed if isinstance(i, str))
    assert same_answer(streamed[-1], chained[-1]) and chained[-1].answerable


def test_chain_rejects_an_input_that_is_not_a_question(extractive):
    chain = rag.chain(extractive)
    with pytest.raises(ValueError, match="unknown input keys: asof"):
        chain.invoke({"question": Q, "asof": DAY})
    with pytest.raises(ValueError, match="no question"):
        chain.invoke({"history": HISTORY})


class GatedModel(FakeListChatModel):
    """A chat model that answers only once ``gate`` is set (by the event loop's ticker)."""

    gate: threading.Event

    def _stream(self, *args, **kwargs):
        assert self.gate.wait(10), "the event loop never ran while the model was answering"
        yield from super()._stream(*args, **kwargs)


@pytest.mark.parametrize("way", ["ainvoke", "astream"])
def test_async_answers_leave_the_event_loop_free(library, way):
    """The model waits for a ticker on the event loop to tick five times: were the answer made on
    the loop's thread, the ticker could not tick and the model would give up."""
    gate = threading.Event()
    settings = use_model(library, None)
    use_model(library, GatedModel(responses=[cited_draft(settings)], gate=gate))
    chain = rag.chain(settings)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1
                if ticks == 5:
                    gate.set()

        ticking = asyncio.create_task(ticker())
        try:
            if way == "ainvoke":
                return await chain.ainvoke(Q), ticks
            items = [item async for item in chain.astream(Q)]
            assert isinstance(items[0], Stage) and any(isinstance(i, str) for i in items)
            return items[-1], ticks
        finally:
            ticking.cancel()

    answer, ticks = asyncio.run(main())
    assert gate.is_set() and ticks >= 5
    assert answer.answerable and "complete violation" in answer.answer


class Runs(BaseTracer):
    """Keeps every finished root run (with its child runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.roots = []

    def _persist_run(self, run) -> None:
        self.roots.append(run)


def tree(run) -> list:
    """``[name, run_type, [children...]]`` of a run."""
    return [run.name, run.run_type, [tree(child) for child in run.child_runs]]


def test_each_stage_is_a_child_run_and_the_model_calls_nest_under_theirs(library):
    settings = use_model(library, None)
    use_model(library, FakeListChatModel(responses=[Q, cited_draft(settings)]))
    runs = Runs()
    answer = rag.chain(settings).invoke({"question": "And about Ukraine?", "history": HISTORY}, config={"callbacks": [runs]})
    assert answer.answerable
    (root,) = runs.roots
    model_call = ["RunnableSequence", "chain", [
        ["ChatPromptTemplate", "prompt", []], ["FakeListChatModel", "llm", []], ["StrOutputParser", "parser", []],
    ]]
    assert tree(root) == ["newsrag", "chain", [
        ["rewrite", "chain", [model_call]],
        ["retrieval", "chain", []],
        ["context", "chain", []],
        ["prompt", "chain", []],
        ["generation", "chain", [model_call]],
        ["grounding", "chain", []],
    ]]
    rewrite, retrieval, *_, generation, grounding = root.child_runs
    assert rewrite.outputs == {"query": Q}
    assert retrieval.outputs["chunk_ids"] == [c.id for c in answer.retrieved]
    assert generation.outputs["draft"] == answer.draft and grounding.outputs["citations"] == len(answer.citations)
    for run in [root, *root.child_runs]:
        assert run.end_time >= run.start_time and run.error is None
    assert root.outputs["output"] == answer


def test_a_refusal_s_reason_is_a_run_and_an_error_ends_the_run(extractive):
    runs = Runs()
    refused = rag.chain(extractive).invoke(OFF_TOPIC, config={"callbacks": [runs]})
    assert not refused.answerable
    names = [child.name for child in runs.roots[0].child_runs]
    assert names == ["rewrite", "retrieval", "context", "refusal"]
    assert runs.roots[0].child_runs[-1].outputs == {"refusal_detail": refused.refusal_detail}
    from rag.errors import QuestionTooLong

    with pytest.raises(QuestionTooLong):
        rag.chain(extractive).invoke("why? " * 1000, config={"callbacks": [runs]})
    assert "QuestionTooLong" in runs.roots[-1].error


@pytest.mark.slow
def test_the_readme_s_langchain_example_runs(tmp_path):
    """The five lines of the README's LangChain example, as written, over the seed article (the real
    embedder and store, the extractive backend)."""
    import ast
    import os
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = readme.split("<!-- example: langchain")[1].split("```python\n")[1].split("```")[0]
    assert len(code.strip().splitlines()) == 5
    env = dict(os.environ, NEWSRAG_STORE=str(tmp_path / "store"), NEWSRAG_LLM="extractive")
    newsrag = Path(sys.executable).with_name("newsrag")
    subprocess.run([str(newsrag), "ingest", str(ROOT / "seeds")], env=env, check=True, capture_output=True, cwd=tmp_path)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    printed = ast.literal_eval(run.stdout.strip())
    assert "complete violation of the spirit" in printed["answer"] and "[1]" in printed["answer"]
    assert [title for title, _ in printed["sources"]] == ["Obama, Putin discuss Syria, Iran and Ukraine"] * 2
