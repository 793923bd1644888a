"""Removing articles from the store (``rag.remove``): each one's record and all of its chunks.

The store's revision changes, so every index kept in step with it (such as BM25's) and readers in
other processes follow. Opening the store for a removal loads no embedding model and creates nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.embeddings import Embeddings

from rag.errors import StoreError
from rag.store import Removal, Store


class _NoEmbedder(Embeddings):
    """Stands in for the embedder where nothing is embedded (a removal loads no model)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise StoreError("this store was opened to remove articles, not to embed them")

    def embed_query(self, text: str) -> list[float]:
        raise StoreError("this store was opened to remove articles, not to embed them")


def remove(
    ids: Sequence[str],
    settings: Any = None,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> Removal:
    """Remove articles by id from the store the settings name.

    Args:
        ids: article ids (as ``newsrag articles`` lists them).
        settings: a ``rag.settings.Settings`` (default: from the environment).
        wait: when another writer holds the store, wait for it (True) or raise ``StoreBusy``.
        on_wait: called once with a message when the removal has to wait.

    Returns:
        A ``rag.store.Removal``: ids removed, ids the store does not hold, chunks deleted.

    Raises:
        StoreError: there is no store, or it could not be written.
        StoreBusy: another writer holds the store and ``wait`` is False.
    """
    if settings is None:
        from rag.settings import load_settings

        settings = load_settings()
    store = Store.for_reading(settings, embeddings=_NoEmbedder())
    return store.remove_articles(ids, wait=wait, on_wait=on_wait)
