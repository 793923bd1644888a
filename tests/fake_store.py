"""An in-memory stand-in for ``rag.store.Store`` (same reading methods), for fast answer-path tests.

Chunks are runs of ``per_chunk`` sentences; dense search is exact cosine over a fake embedding;
filters apply ``Filters.keep`` (the real store's Chroma query is tested against it).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from rag.text import sentence_spans
from rag.types import Article, Chunk, Filters, content_hash

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_d8ed5a87b2fc358e.txt"


def seed_article() -> Article:
    """The shipped seed article (title = first line, text = the file)."""
    text = SEED.read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.strip())
    return Article(id=SEED.stem, title=title, text=text, published="2014-11-11", source="CNN")


def chunk_article(article: Article, per_chunk: int = 3) -> list[Chunk]:
    spans = sentence_spans(article.text)
    chunks = []
    for pos, i in enumerate(range(0, len(spans), per_chunk)):
        group = spans[i : i + per_chunk]
        start, end = group[0][0], group[-1][1]
        chunk_id = f"{article.id}-{content_hash(article.text[start:end], 8)}"
        chunks.append(Chunk.of_span(article, start, end, id=chunk_id, position=pos))
    return chunks


class FakeStore:
    """The reading side of ``Store`` over articles held in memory."""

    def __init__(self, articles: list[Article], embeddings, per_chunk: int = 3) -> None:
        self.embeddings = embeddings
        self.articles = {}
        self.chunks: list[Chunk] = []
        self.all_chunks_calls = 0
        self._rev = 0
        for a in articles:
            self.add(a, per_chunk)

    def add(self, article: Article, per_chunk: int = 3) -> None:
        self.articles[article.id] = article
        self.chunks = [c for c in self.chunks if c.article_id != article.id] + chunk_article(article, per_chunk)
        self.vectors = self.embeddings.embed_documents([f"{c.title}\n{c.text}" for c in self.chunks])
        self._rev += 1

    def dense_search(self, query: str, k: int, filters: Filters | None = None):
        q = self.embeddings.embed_query(query)
        scored = []
        for c, v in zip(self.chunks, self.vectors):
            if filters is None or filters.keep(c):
                scored.append((c, sum(a * b for a, b in zip(q, v)) / (math.sqrt(sum(a * a for a in q)) or 1.0)))
        scored.sort(key=lambda r: -r[1])
        return scored[:k]

    def all_chunks(self) -> list[Chunk]:
        self.all_chunks_calls += 1
        return list(self.chunks)

    def revision(self) -> str:
        return str(self._rev)

    def get_article(self, article_id: str):
        return self.articles.get(article_id)

    def stats(self) -> dict:
        return {"articles": len(self.articles), "chunks": len(self.chunks), "last_ingest": None, "sources": []}
