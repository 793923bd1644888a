"""The Chroma store of chunks and articles (embedded PersistentClient, or a Chroma server).

INTERFACE STUB: signatures are the contract; bodies are being implemented.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from rag.types import Article, Chunk


class Store:
    """Chunks (embedded, searchable) and full article texts of one collection.

    Args:
        path: folder of the embedded store (ignored when ``chroma_host`` is set).
        collection: collection name; the articles live in ``<collection>_articles``.
        embeddings: our embedder; Chroma's own default embedding function is never used.
        chroma_host/chroma_port: use a Chroma server (``HttpClient``) instead.
    """

    def __init__(
        self,
        path: Path,
        collection: str,
        embeddings: Embeddings,
        chroma_host: str | None = None,
        chroma_port: int = 8000,
    ) -> None:
        raise NotImplementedError

    @classmethod
    def from_settings(cls, settings: Any, embeddings: Embeddings | None = None) -> "Store":
        """Open the store described by a ``Settings`` (embedder from settings when not given)."""
        raise NotImplementedError

    # --- writing (ingest) ----------------------------------------------------------------------
    def article_hash(self, article_id: str) -> str | None:
        """Text hash stored for an article, or None when the article is not in the store."""
        raise NotImplementedError

    def find_by_text_hash(self, text_hash: str) -> str | None:
        """Id of a stored article with exactly this text, if any (duplicate detection)."""
        raise NotImplementedError

    def put_article(self, article: Article, chunks: list[Chunk], vectors: list[list[float]] | None = None) -> int:
        """Store an article and its chunks, replacing all its old chunks. Returns chunks added."""
        raise NotImplementedError

    # --- reading (rag, ui, evals) --------------------------------------------------------------
    def get_article(self, article_id: str) -> Article | None:
        """The full stored article (text kept so quotes can be shown in context)."""
        raise NotImplementedError

    def dense_search(
        self, query: str, k: int, where: dict | None = None
    ) -> list[tuple[Chunk, float]]:
        """Top-k chunks by embedding similarity (cosine similarity in [−1, 1], best first).

        ``where`` is a Chroma metadata filter over chunk metadata keys ``article_id``, ``source``,
        ``published_ts`` (int days since epoch, for date ranges)."""
        raise NotImplementedError

    def embed_query(self, query: str) -> list[float]:
        """The query vector (so a caller can reuse it)."""
        raise NotImplementedError

    def all_chunks(self) -> list[Chunk]:
        """Every chunk (text and metadata), for the lexical index."""
        raise NotImplementedError

    def revision(self) -> str:
        """Changes whenever the store's content changes (keeps the BM25 index in step)."""
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        """``{"articles": int, "chunks": int, "last_ingest": iso str | None, "sources": [...]}``."""
        raise NotImplementedError
