"""What the chat calls: ``rag`` for answers, the store for articles and figures, ``ingest`` for uploads.

``ChatBackend`` only adapts those packages to the UI (one loaded pipeline for every session); tests
give the app a fake with the same seven methods.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
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


class ChatBackend:
    """The real backend over a ``Settings``: one store and one ``rag`` answerer, loaded on first use.

    Args:
        settings: a ``rag.settings.Settings`` (store, LLM backend, chunking).
    """

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._store: Any = None
        self._answerer: Any = None

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

    def warm_up(self) -> None:
        """Load the store and the answerer now, so the first question does not wait for them."""
        _ = self.answerer

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
        yield from self.answerer.stream(question, history=history or None, filters=filters, as_of=as_of)

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
