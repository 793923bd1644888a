"""Records describing an ingest run: its events (for progress displays) and its final report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ArticleStatus = Literal["added", "updated", "unchanged", "duplicate", "near_duplicate"]


class IngestEvent(BaseModel):
    """Something that happened during an ingest, passed to the ``on_event`` callback."""

    kind: Literal["article", "problem", "progress", "waiting"] = Field(
        description="'article': one article handled; 'problem': an error or warning line; "
        "'progress': a batch of chunks was embedded and written; 'waiting': another writer holds "
        "the store, this run waits for it."
    )
    path: str | None = Field(default=None, description="File concerned, if any.")
    article_id: str | None = Field(default=None, description="Article concerned, if any.")
    status: ArticleStatus | None = Field(default=None, description="For 'article' events.")
    message: str = Field(default="", description="Human-readable line.")
    fatal: bool = Field(default=False, description="For 'problem' events: True when not ingested.")
    articles_done: int = Field(default=0, description="Articles handled so far.")
    articles_total: int | None = Field(default=None, description="Articles expected, when known.")
    chunks_done: int = Field(default=0, description="Chunks written so far.")


class IngestReport(BaseModel):
    """Summary of one ingest run."""

    added: int = Field(default=0, description="Articles new to the store.")
    updated: int = Field(default=0, description="Articles whose stored version was replaced.")
    unchanged: int = Field(default=0, description="Articles already stored as they are.")
    duplicate: int = Field(default=0, description="Articles whose text is stored under another id.")
    near_duplicate: int = Field(
        default=0,
        description="Articles found to be a near-duplicate of one stored or met earlier in the run "
        "(the same story with a title line, other whitespace, a byline, a syndicated copy): stored "
        "once, the other copy recorded as 'also in'.",
    )
    failed: list[tuple[str, str]] = Field(
        default_factory=list, description="(file or file:line, reason) for everything not ingested."
    )
    warnings: list[tuple[str, str]] = Field(
        default_factory=list, description="(file, caveat) for things ingested with a caveat."
    )
    duplicates: list[tuple[str, str]] = Field(
        default_factory=list, description="(article id, id of the stored article with the same text)."
    )
    near_duplicates: list[tuple[str, str, float]] = Field(
        default_factory=list,
        description="(id of the copy recorded as 'also in', id of the copy kept, estimated "
        "similarity) per near-duplicate.",
    )
    chunks_added: int = Field(default=0, description="Chunk ids new to the store.")
    chunks_embedded: int = Field(default=0, description="Chunk texts sent to the embedder.")
    seconds: float = Field(default=0.0, description="Wall-clock duration of the run.")

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed

    def summary(self) -> str:
        """One line: articles by status, chunks added, seconds."""
        return (
            f"articles: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.duplicate} duplicate, {self.near_duplicate} near-duplicate, {len(self.failed)} failed; "
            f"chunks added: {self.chunks_added} ({self.chunks_embedded} embedded); "
            f"{self.seconds:.1f} s"
        )
