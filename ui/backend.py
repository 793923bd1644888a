"""What the chat calls: ``rag`` for answers, the store for articles and figures, ``ingest`` for uploads.

``ChatBackend`` only adapts those packages to the UI (one loaded pipeline for every session); tests
give the app a fake with the same seven methods. A backend that loads before it is ready also has
``loading_status()`` (what is loading, None once ready), which the page shows while it loads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from rag.types import Answer, Article, Stage


class Backend(Protocol):
    """The seven things the chat needs."""

    def stream(
        self, question: str, history: list[dict], filters: dict | None, as_of: str | None = None
    ) -> Iterator[str | Stage | Answer]: ...

    def get_article(self, article_id: str) -> Article | None: ...

    def also_in(self, article_id: str) -> list[Any]: ...

    def stats(self) -> dict[str, Any]: ...

    def list_articles(self, search: str | None = None, limit: int | None = None) -> Any: ...

    def ingest(self, paths: list[Path], on_event: Callable[..., None] | None = None) -> Any: ...

    def remove_articles(self, ids: list[str], on_wait: Callable[[str], None] | None = None) -> Any: ...


Part = tuple[str, Callable[[], "str | None"]]
"""A part of the chat to load: what it is, and the function that loads it (returning a detail)."""

LoadReport = Callable[[str, "float | None", "str | None"], None]
"""Told of each part as it loads: ``(what, None, None)`` as it starts, ``(what, seconds, detail)``
once loaded (``detail``: e.g. "8 chunks", or None)."""


class ChatBackend:
    """The real backend over a ``Settings``: one store and one ``rag`` answerer.

    ``newsrag serve`` loads every part before the chat is ready (``load``, inside ``loading``:
    answers wait for it, and ``loading_status`` says what is loading); otherwise each part loads
    on first use.

    Args:
        settings: a ``rag.settings.Settings`` (store, LLM backend, chunking).
    """

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._store: Any = None
        self._answerer: Any = None
        self._ready = threading.Event()
        self._ready.set()  # nothing loading: parts load on first use
        self._status: str | None = None

    @property
    def store(self) -> Any:
        """The open store (opened once)."""
        with self._lock:
            if self._store is None:
                from rag.store import Store

                self._store = Store.from_settings(self.settings)
            return self._store

    @property
    def answerer(self) -> Any:
        """The ``rag`` answerer sharing this store (models loaded once)."""
        store = self.store
        with self._lock:
            if self._answerer is None:
                from rag.pipeline import build_answerer

                self._answerer = build_answerer(self.settings, store=store)
            return self._answerer

    def loading_status(self) -> str | None:
        """What is loading now ("the model"), or None when the chat is ready."""
        return self._status

    @contextmanager
    def loading(self) -> Iterator[None]:
        """While inside, answers wait (``stream`` starts once the block ends, however it ends)."""
        self._ready.clear()
        self._status = "the chat"
        try:
            yield
        finally:
            self._status = None
            self._ready.set()

    def load(self, parts: list[Part], report: LoadReport | None = None) -> None:
        """Load ``parts`` in order (``startup_parts`` and any of the caller's), timing each.

        Args:
            parts: ``(what, load)``; ``load()`` returns a detail to show, or None.
            report: told of each part as it starts and once loaded.

        Raises:
            NewsragError: a part could not load (the model file missing, a bad store).
        """
        for what, step in parts:
            self._status = what
            if report:
                report(what, None, None)
            started = time.perf_counter()
            detail = step()
            if report:
                report(what, time.perf_counter() - started, detail)

    def startup_parts(self) -> tuple[list[Part], list[Part]]:
        """What answering needs, as ``load`` takes it: the parts before the store is first read
        (the embedder, the store) and those after (the model, the keyword index, and the model's
        prompt cache filled with the fixed answer instructions, which every prompt starts with)."""
        s = self.settings
        store_parts = [(f"the embedder ({s.embedding_model})", self._load_embedder),
                       (f"the store ({s.chroma_host or s.store})", self._load_store)]
        answer_parts = [(f"the answer pipeline ({s.llm})", self._load_answerer),
                        ("the keyword index", self._load_index)]
        if s.llm == "llamacpp":
            answer_parts.append(("the answer instructions into the model's cache", self._fill_prompt_cache))
        return store_parts, answer_parts

    def _load_embedder(self) -> str | None:
        from rag.embeddings import embeddings_from_settings

        embeddings_from_settings(self.settings).embed_query("warm up")
        return None

    def _load_store(self) -> str:
        stats = self.store.stats()
        articles, chunks = stats.get("articles", 0), stats.get("chunks", 0)
        return f"{articles} article{'s' * (articles != 1)}, {chunks} chunk{'s' * (chunks != 1)}"

    def _load_answerer(self) -> str | None:
        path = getattr(self.answerer.chat_model, "model_path", None)
        return Path(path).name if path else None

    def _load_index(self) -> str:
        return f"{len(self.answerer.retriever.lexical().chunks)} chunks"

    def _fill_prompt_cache(self) -> None:
        """Run the answer prompt's fixed instructions through the model once (one token out): every
        weight is read from disk now (the file is memory-mapped, so otherwise the first question
        reads it), and llama.cpp's prefix cache holds the instructions every prompt starts with."""
        from langchain_core.messages import SystemMessage

        from rag.prompt import ANSWER_SYSTEM

        self.answerer.chat_model.invoke([SystemMessage(ANSWER_SYSTEM)], max_tokens=1)
        return None

    def stream(
        self, question: str, history: list[dict], filters: dict | None, as_of: str | None = None
    ) -> Iterator[str | Stage | Answer]:
        """Stage events, answer text pieces as generated, then the final ``Answer`` (``rag``'s ``stream``).

        Args:
            question: the user's question.
            history: earlier messages ``{"role", "content"}`` in plain text.
            filters: ``{"sources", "date_from", "date_to"}`` or None.
            as_of: the day "this week" refers to, ``YYYY-MM-DD`` (None: today).

        Yields:
            ``Stage`` events, ``str`` pieces, then one ``Answer``.
        """
        self._ready.wait()  # while the chat loads (``loading``), answers wait for it
        yield from self.answerer.stream(question, history=history or None, filters=filters, as_of=as_of)

    def search(self, query: str, k: int) -> list[dict[str, Any]]:
        """The ``k`` passages that best match ``query``, best first, as ``rag.retriever()`` finds them
        (the MCP tool ``search``; waits while the chat loads).

        Args:
            query: what to look for.
            k: how many passages.

        Returns:
            ``{"text", "article_id", "title", "url", "published", "source", "chunk_id", "position",
            "start", "end", "score"}`` per passage.
        """
        from rag.lc_retriever import NewsRetriever

        self._ready.wait()
        documents = NewsRetriever(hybrid=self.answerer.retriever, k=k).invoke(query)
        return [{"text": doc.page_content, **doc.metadata} for doc in documents]

    def get_article(self, article_id: str) -> Article | None:
        """The stored article, for showing a quote in its paragraph (None when missing)."""
        return self.store.get_article(article_id)

    def also_in(self, article_id: str) -> list[Any]:
        """The other copies of a stored article found at ingest, as ``rag.store.Origin`` (``Store.also_in``)."""
        return self.store.also_in(article_id)

    def stats(self) -> dict[str, Any]:
        """``{"articles", "chunks", "last_ingest", "sources"}`` of the collection."""
        return self.store.stats()

    def list_articles(self, search: str | None = None, limit: int | None = None) -> Any:
        """The library's articles, newest first, with who is quoted (``Store.list_articles``).

        Args:
            search: keep articles whose title or source holds every word of it (None: all).
            limit: at most this many articles (None: all).

        Returns:
            A ``rag.store.ArticleListing`` (the articles kept and how many there are).
        """
        return self.store.list_articles(search, limit=limit)

    def ingest(self, paths: list[Path], on_event: Callable[..., None] | None = None) -> Any:
        """Ingest files into the store (``ingest.pipeline.ingest_paths``).

        Args:
            paths: files to ingest.
            on_event: progress callback passed to the pipeline.

        Returns:
            The pipeline's ``IngestReport``.
        """
        from ingest.pipeline import ingest_paths

        extra: dict[str, Any] = {}
        if getattr(self.settings, "max_file_mb", None):
            extra["max_bytes"] = int(self.settings.max_file_mb * 1024 * 1024)
        return ingest_paths(
            [str(p) for p in paths],
            self.store,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            progress=False,
            on_event=on_event,
            **extra,
        )

    def remove_articles(self, ids: list[str], on_wait: Callable[[str], None] | None = None) -> Any:
        """Remove articles and all their chunks (``Store.remove_articles``, as ``rag.remove`` does),
        under the store's write lock; the answerer shares this store and follows its revision.

        Args:
            ids: article ids.
            on_wait: called once with a message when another writer holds the store.

        Returns:
            A ``rag.store.Removal``.
        """
        return self.store.remove_articles(ids, wait=True, on_wait=on_wait)
