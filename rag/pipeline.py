"""The default ``Answerer`` for a ``Settings``, loaded once and reused, and the Python API: ``ask``
and ``stream``, thin wrappers over ``chain`` (the answer path as a LangChain ``Runnable``), and
``retriever`` (its retrieval as a LangChain ``BaseRetriever``).

Loading the embedder, the store, the BM25 index and the LLM takes seconds; the UI and the evals
ask many questions, so the pipeline is cached per settings.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any, Iterator

from rag.answerer import Answerer
from rag.lc_retriever import NewsRetriever
from rag.retrieval import HybridRetriever
from rag.runnables import AnswerChain
from rag.types import Answer, Stage

_CACHE: dict[str, Answerer] = {}
_LOCK = threading.Lock()


def lexical_index_dir(settings: Any) -> Path:
    """Where the BM25 index of a store is kept: beside the embedded store, or in the cache folder
    (per server and collection) when a Chroma server holds the chunks."""
    if settings.chroma_host:
        return Path(settings.cache_dir) / "bm25" / f"{settings.chroma_host}_{settings.chroma_port}_{settings.collection}"
    return Path(settings.store) / "bm25" / settings.collection


def embedding_similarity(embeddings: Any):
    """``(question, sentences) -> cosine similarities`` with a LangChain ``Embeddings``
    (the project's embedders return unit vectors, so a dot product is the cosine)."""
    import numpy as np

    def similarity(question: str, sentences: list[str]) -> list[float]:
        q = np.asarray(embeddings.embed_query(question), dtype=np.float32)
        s = np.asarray(embeddings.embed_documents(sentences), dtype=np.float32)
        return (s @ q).tolist()

    return similarity


def build_answerer(settings: Any, store: Any = None, chat_model: Any = None) -> Answerer:
    """A new ``Answerer`` from settings (store and chat model built from them unless given).

    Args:
        settings: a ``rag.settings.Settings``.
        store: an open ``rag.store.Store`` to reuse (e.g. the UI's).
        chat_model: a chat model to use instead of the one the settings name.

    Returns:
        The ready ``Answerer``.
    """
    if store is None:
        from rag.embeddings import embeddings_from_settings
        from rag.store import Store

        # Answering reads a store: a missing folder (a mistyped --store) is an error, not a new store.
        store = Store.from_settings(
            settings, embeddings_from_settings(settings), create=False
        )
    if chat_model is None and settings.llm != "extractive":
        from rag.llm import chat_model_from_settings

        chat_model = chat_model_from_settings(settings)
    retriever = HybridRetriever(store, settings.retrieval_params, index_dir=lexical_index_dir(settings))
    embeddings = getattr(store, "embeddings", None)
    return Answerer(
        retriever,
        chat_model,
        params=settings.answer_params,
        similarity=embedding_similarity(embeddings) if embeddings is not None else None,
    )


def get_answerer(settings: Any = None) -> Answerer:
    """The cached ``Answerer`` for ``settings`` (default: from the environment), built on first use.

    Raises:
        rag.errors.SettingsError: ``settings`` is None and an environment variable has a bad value.
    """
    if settings is None:
        from rag.settings import load_settings

        settings = load_settings()
    key = settings.model_dump_json()
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = build_answerer(settings)
        return _CACHE[key]


def chain(settings: Any = None) -> AnswerChain:
    """The answer path as a LangChain ``Runnable``: a question (or ``{"question", "history",
    "filters", "as_of"}``) in, the ``Answer`` out; ``invoke``, ``batch``, ``stream``, ``ainvoke``,
    ``astream``, each stage a callback run (``rag.runnables.AnswerChain``).

    Args:
        settings: a ``rag.settings.Settings`` (default: from the environment); the models load once
            per settings, shared with ``ask`` and ``retriever``.

    Returns:
        The chain.
    """
    return AnswerChain(answerer=get_answerer(settings))


def retriever(
    settings: Any = None, *, filters: dict | None = None, as_of: dt.date | str | None = None
) -> NewsRetriever:
    """newsrag's hybrid retrieval as a LangChain ``BaseRetriever``: a question in, the ``top_k``
    chunks ``ask`` would read out, as ``Document``s with their article's metadata, offsets and
    fusion score (``rag.lc_retriever.NewsRetriever``).

    Args:
        settings: a ``rag.settings.Settings`` (default: from the environment).
        filters: ``{"sources", "date_from", "date_to", "article_ids"}`` for every call (None: none).
        as_of: the day "this week" refers to (None: the day of each call).

    Returns:
        The retriever; a call may set ``filters``, ``as_of`` and ``k`` itself (keyword arguments
        or ``config["configurable"]``).
    """
    answerer = get_answerer(settings)
    return NewsRetriever(hybrid=answerer.retriever, k=answerer.params.top_k, filters=filters, as_of=as_of)


def ask(
    question: str,
    *,
    history: list[dict] | None = None,
    filters: dict | None = None,
    as_of: dt.date | str | None = None,
    settings: Any = None,
) -> Answer:
    """Answer a question from the news articles in the store, every claim cited.

    Args:
        question: the question.
        history: earlier chat messages ``{"role": "user"|"assistant", "content": str}``; a
            follow-up is rewritten into a standalone question first.
        filters: ``{"sources": [...], "date_from": "YYYY-MM-DD", "date_to": ..., "article_ids": [...]}``.
        as_of: the day "this week" refers to (date or ``YYYY-MM-DD``; default today).
        settings: a ``rag.settings.Settings`` (default: from the environment).

    Returns:
        The ``Answer`` (``answerable`` False and the fixed refusal when the articles don't say).
    """
    return chain(settings).invoke(dict(question=question, history=history, filters=filters, as_of=as_of))


def stream(
    question: str,
    *,
    history: list[dict] | None = None,
    filters: dict | None = None,
    as_of: dt.date | str | None = None,
    settings: Any = None,
) -> Iterator[str | Stage | Answer]:
    """Like ``ask``, but yields progress and the answer text as it is generated, then the ``Answer``.

    Args:
        question, history, filters, as_of, settings: as for ``ask``.

    Yields:
        ``rag.types.Stage`` events as each stage begins: ``rewriting`` (only with history),
        ``searching``, ``reading`` (with the retrieved passages, before the first answer token),
        ``writing``; then ``str`` pieces; ``checking`` once the model's draft is complete; then one
        ``Answer`` (authoritative: it may differ from the streamed draft; a refusal says which case
        it is in ``refusal_detail``). A caller that only handles ``str`` and ``Answer`` (with
        ``isinstance``) skips the stages.
    """
    yield from chain(settings).stream(dict(question=question, history=history, filters=filters, as_of=as_of))
