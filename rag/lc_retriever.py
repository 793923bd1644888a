"""newsrag's hybrid retrieval as a LangChain ``BaseRetriever``, for use in LangChain code.

``NewsRetriever.invoke(question)`` gives the same chunks, in the same order, as the retrieval of
``rag.ask`` for that question (dense + BM25, fused, with the news priors): each a ``Document`` whose
text is the chunk's and whose metadata carries where it comes from. Filters, ``as_of`` and ``k``
are fields, and can be overridden per call through ``config["configurable"]`` or keyword
arguments; ``ainvoke`` runs the retrieval in a thread, so an event loop is never blocked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field

from rag.text import parse_date
from rag.types import Chunk, Filters

OPTIONS = ("filters", "as_of", "k")  # what a call may override, as a keyword or a configurable key


def chunk_document(chunk: Chunk) -> Document:
    """A retrieved chunk as a LangChain ``Document``.

    Args:
        chunk: a chunk with its fusion score (``HybridRetriever.retrieve``).

    Returns:
        The document: the chunk's text, its id, and metadata ``article_id``, ``title``, ``url``,
        ``published``, ``source``, ``chunk_id``, ``position``, ``start``, ``end`` (the chunk's
        offsets in the article's text) and ``score`` (the fusion score).
    """
    return Document(
        id=chunk.id,
        page_content=chunk.text,
        metadata={
            "article_id": chunk.article_id,
            "title": chunk.title,
            "url": chunk.url,
            "published": chunk.published,
            "source": chunk.source,
            "chunk_id": chunk.id,
            "position": chunk.position,
            "start": chunk.start,
            "end": chunk.end,
            "score": chunk.score,
        },
    )


class NewsRetriever(BaseRetriever):
    """The hybrid retrieval of newsrag as a LangChain retriever (build it with ``rag.retriever()``).

    Args:
        hybrid: the ``rag.retrieval.HybridRetriever`` (the answerer's, so models load once).
        k: how many chunks a query gives (``Settings.top_k``).
        filters: ``{"sources", "date_from", "date_to", "article_ids"}`` restrictions (None: none).
        as_of: the day "this week" refers to (date or ``YYYY-MM-DD``; None: today, as ``rag.ask``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    hybrid: Any = Field(description="The rag.retrieval.HybridRetriever searched.")
    k: int = Field(description="How many chunks a query gives.")
    filters: dict[str, Any] | None = Field(default=None, description="Metadata restrictions (None: none).")
    as_of: dt.date | str | None = Field(default=None, description="The day 'this week' refers to (None: today).")

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        filters: dict[str, Any] | None = None,
        as_of: dt.date | str | None = None,
        k: int | None = None,
    ) -> list[Document]:
        """The ``k`` best chunks for ``query``, best first, as documents.

        Args:
            query: the (standalone) question.
            run_manager: the retriever run (LangChain's).
            filters, as_of, k: this call's values (None: the retriever's).

        Returns:
            The documents (``chunk_document``).

        Raises:
            ValueError: a filter or date that is not valid.
            rag.errors.StoreError: the store holds no chunks.
        """
        restrict = Filters.from_dict(self.filters if filters is None else filters)
        day = parse_date(self.as_of if as_of is None else as_of) or dt.date.today()
        retrieval = self.hybrid.retrieve(query, self.k if k is None else k, restrict, day)
        return [chunk_document(chunk) for chunk in retrieval.chunks]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **options: Any
    ) -> list[Document]:
        """As ``_get_relevant_documents``, in a thread of the default executor: the store and
        the embedder are synchronous, and the event loop must go on meanwhile."""
        return await run_in_executor(
            None, self._get_relevant_documents, query, run_manager=run_manager.get_sync(), **options
        )

    def invoke(self, input: str, config: RunnableConfig | None = None, **kwargs: Any) -> list[Document]:
        """Retrieve for ``input``; ``filters``, ``as_of`` and ``k`` from keyword arguments, else from
        ``config["configurable"]``, else the retriever's own."""
        return super().invoke(input, config, **_options(config, kwargs))

    async def ainvoke(self, input: str, config: RunnableConfig | None = None, **kwargs: Any) -> list[Document]:
        """As ``invoke``, the retrieval run in a thread (the event loop goes on meanwhile)."""
        return await super().ainvoke(input, config, **_options(config, kwargs))


def _options(config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A call's keyword arguments with the ``OPTIONS`` that ``config["configurable"]`` sets added."""
    configurable = ensure_config(config).get("configurable") or {}
    return {**{name: configurable[name] for name in OPTIONS if name in configurable}, **kwargs}
