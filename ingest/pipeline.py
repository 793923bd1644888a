"""The ingest pipeline: load → normalise → chunk → embed (batched across articles) → store.

Unchanged articles are recognised by a fingerprint before anything is embedded, and chunks
already in the store keep their vectors, so re-ingesting the same files embeds nothing.

Embedding overlaps the rest: a batch is embedded on a background thread while the next articles
are loaded and chunked and the batch before it is written (the embedder's forward passes do not
hold the interpreter lock). Writes stay on the thread that holds the store's write lock, in the
order of the batches, so what is stored and the report are those of a run without overlap.

With a Chroma server, ``workers`` processes can embed and write side by side: this process still
loads, chunks and decides (unchanged, duplicate, near-duplicate) for every article, in order, and
hands each batch of new or changed articles to a worker, which embeds it and writes it to the
server (chunks first, article record last, as always). At most ``workers`` batches are out at once;
the report follows the batches in order. Workers write disjoint articles, so the write order and
the resume guarantee are those of one process: an article counts as stored once its record is in.

An article with the same text as a stored one is a duplicate; one with nearly the same text
(``ingest.near_duplicates``) is a near-duplicate. Either way the story is stored once and the other
copy's origin (id, file, address, publisher) is recorded on it as "also in". Of two near-duplicates
the primary is the copy with more of a publication date and an address (the first one on a tie):
when the new copy has more, it replaces the stored one as a whole (text, id and metadata, so quotes
and offsets stay those of one copy), and the stored one becomes "also in".
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunking import TokenCounter, chunk_article
from ingest.loaders import (
    DEFAULT_MAX_BYTES, JSONL_SUFFIXES, Loaded, iter_files, load_file, load_paths, read_bounded,
)
from ingest.near_duplicates import NearDuplicateIndex, article_key, index_folder
from ingest.problems import Problem
from ingest.report import ArticleStatus, IngestEvent, IngestReport
from rag.store import Origin, Store, StoredArticle, resolved_path
from rag.types import Article, Chunk, content_hash

__all__ = [
    "ingest_paths", "ingest_articles", "iter_articles", "load_paths", "load_file", "fingerprint",
    "IngestReport", "IngestEvent",
]

CHUNKER_VERSION = "3"  # 2: chunks carry their quotations and speakers; 3: speaker attribution rules revised
DEFAULT_BATCH_CHUNKS = 128

EventCallback = Callable[[IngestEvent], None]


def fingerprint(article: Article, chunk_size: int, chunk_overlap: int) -> str:
    """What makes a stored article 'unchanged': its text, metadata and the chunking used.

    Args:
        article: the article.
        chunk_size: chunk size in characters.
        chunk_overlap: overlap in sentences.

    Returns:
        A hex digest.
    """
    key = [
        article.text_hash, article.title, article.url, article.published, article.authors,
        article.source, chunk_size, chunk_overlap, CHUNKER_VERSION,
    ]
    return content_hash(json.dumps(key, ensure_ascii=False))


def id_from_path(path: str, derived_id: str) -> str:
    """An article id built from its file's path relative to the current folder.

    ``a/news.txt`` gives ``a/news``; a ``.jsonl`` line's ``-N`` suffix is kept
    (``b/feed.jsonl`` line 3: ``b/feed-3``). Paths outside the current folder use their absolute
    form without the leading ``/``.

    Args:
        path: the file the article was loaded from.
        derived_id: the id derived from the file's stem (``stem`` or ``stem-N``).

    Returns:
        The path-based id, ``/``-separated.
    """
    full = Path(resolved_path(path))
    try:
        rel = full.relative_to(Path.cwd().resolve())
    except ValueError:
        rel = full.relative_to(full.anchor)
    stem = Path(path).stem
    suffix = derived_id[len(stem):] if derived_id.startswith(stem) else ""
    return (rel.parent / rel.stem).as_posix() + suffix


def token_counter_for(embeddings: object) -> tuple[TokenCounter, int]:
    """The content-token counter and per-chunk token budget of an embedder.

    Embedders from ``rag.embeddings`` carry their own; any other embedder is assumed to share
    MiniLM's tokenizer and 256-token window.

    Args:
        embeddings: the embedder.

    Returns:
        ``(count_tokens, max_content_tokens)``.
    """
    count = getattr(embeddings, "count_tokens", None)
    budget = getattr(embeddings, "max_content_tokens", None)
    if callable(count) and isinstance(budget, int):
        return count, budget
    from rag.embeddings import minilm_tokenizer

    tok = minilm_tokenizer()
    return tok.count_tokens, tok.max_content_tokens


def _estimate_total(paths: Iterable[str | os.PathLike[str]], max_bytes: int) -> int | None:
    """Rough number of articles (a .jsonl counts its non-empty lines) for the progress bar."""
    total = 0
    for item in iter_files(paths):
        if isinstance(item, Problem):
            continue
        if item.suffix.lower() in JSONL_SUFFIXES:
            try:
                data = read_bounded(item, max_bytes)
            except ValueError:  # the loader names the problem when it reaches the file
                continue
            total += sum(1 for line in data.split(b"\n") if line.strip())
        else:
            total += 1
    return total


def _rank(published: str | None, url: str | None) -> int:
    """How well a copy is dated and linked: the primary of near-duplicates has the most."""
    return int(bool(published)) + int(bool(url))


# --- worker processes (ingest --workers N against a Chroma server) ---------------------------------
_worker_store: Store | None = None

WorkItem = tuple[Article, list[Chunk], dict[str, list[float]], str, list[Origin]]


def _open_worker_store(settings: Any) -> None:
    """Worker start-up: open the store (a Chroma server) and the embedder the settings name."""
    global _worker_store
    _worker_store = Store.from_settings(settings)


def _embed_and_write(items: list[WorkItem]) -> tuple[list[int], int]:
    """In a worker: embed the chunks of a batch that have no vector yet and store its articles.

    Args:
        items: ``(article, chunks, vectors known by chunk id, fingerprint, also in)`` per article.

    Returns:
        Chunks added per article, and the number of chunks embedded.
    """
    store = _worker_store
    assert store is not None, "worker store not opened"
    missing = [c for _, chunks, known, _, _ in items for c in chunks if c.id not in known]
    vectors = store.embeddings.embed_documents([c.text for c in missing]) if missing else []
    made = dict(zip((c.id for c in missing), vectors))
    added = store.put_articles(
        [(a, cs, [known.get(c.id) or list(made[c.id]) for c in cs], fp) for a, cs, known, fp, _ in items],
        also_in={a.id: also for a, _, _, _, also in items if also},
    )
    return added, len(missing)


def _worker_pool(workers: int, settings: Any) -> ProcessPoolExecutor:
    """``workers`` processes, each with its own client to the Chroma server ("spawn": no process is
    forked with the threads of this one's embedder and client)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_open_worker_store, initargs=(settings,))


@dataclass(eq=False)  # compared by identity: the same article is pending once
class _Pending:
    article: Article
    chunks: list[Chunk]
    status: ArticleStatus
    fingerprint: str
    vectors: dict[str, list[float]] = field(default_factory=dict)
    also_in: list[Origin] = field(default_factory=list)  # other copies, recorded on it when stored
    note: str = ""  # the line its 'article' event carries ("" for the default)
    submitted: bool = False  # its missing chunks are being embedded (it is written with that batch)

    @property
    def missing(self) -> list[Chunk]:
        return [c for c in self.chunks if c.id not in self.vectors]


class _Run:
    """State of one ingest run."""

    def __init__(self, store: Store, chunk_size: int, chunk_overlap: int, batch_chunks: int,
                 progress: bool, on_event: EventCallback | None, total: int | None,
                 ids_from_path: bool = False, workers: int = 1, settings: Any = None) -> None:
        self.store = store
        self.workers = workers
        self.pool = _worker_pool(workers, settings) if workers > 1 else None
        self.in_flight: deque[tuple[list[_Pending], Future]] = deque()  # batches out to workers, in order
        self.ids_from_path = ids_from_path
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.batch_chunks = batch_chunks
        self.on_event = on_event
        self.total = total
        self.report = IngestReport()
        self.count, self.budget = token_counter_for(store.embeddings)
        self.pending: list[_Pending] = []  # not yet written, in order (batches being embedded included)
        self.pending_missing = 0  # missing chunks of the pending articles not yet submitted
        self.embedding: tuple[list[_Pending], Future] | None = None  # the batch being embedded
        self._embedder: ThreadPoolExecutor | None = None
        self.ids_seen: dict[str, str] = {}  # article id -> text hash, within this run
        self.hashes_seen: dict[str, str] = {}  # text hash -> article id, within this run
        self.done = 0
        self.near: NearDuplicateIndex | None = None  # built on the first article that needs it
        self.also_in_stored: dict[str, list[Origin]] = {}  # copies of stored articles, written at flush
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="article", desc="ingest", dynamic_ncols=True)

    def emit(self, **kwargs) -> None:
        if self.on_event is not None:
            self.on_event(IngestEvent(articles_done=self.done, articles_total=self.total,
                                      chunks_done=self.report.chunks_added, **kwargs))

    def problem(self, p: Problem) -> None:
        if p.fatal:
            self.report.failed.append((p.where, p.reason))
            if self.bar is not None and p.line is not None:
                self.bar.update(1)  # a failed .jsonl line was counted in the total
        else:
            self.report.warnings.append((p.where, p.reason))
        self.emit(kind="problem", path=p.path, message=str(p), fatal=p.fatal)

    def finish_article(self, article: Article, status: ArticleStatus, note: str = "") -> None:
        setattr(self.report, status, getattr(self.report, status) + 1)
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(chunks=self.report.chunks_added, refresh=False)
        self.emit(kind="article", path=article.path, article_id=article.id, status=status,
                  message=note or f"{status}: {article.id}")

    def clash(self, article: Article, stored: StoredArticle | None) -> str | None:
        """Why ``article`` may not replace ``stored``, the stored article of its id (None: it may).

        An id names the same article when both came from the same file, or when both carry an id
        of their own (a record's or front matter's ``id``). A file-name id that matches an article
        from another file is a clash: replacing it would silently lose that article.
        """
        if stored is None or not article.path:
            return None
        if not stored.resolved_path or stored.resolved_path == resolved_path(article.path):
            return None
        if not article.id_from_path and not stored.id_from_path:
            return None
        return (
            f"article id {article.id!r} is already used by {stored.resolved_path}; nothing replaced. "
            "Give this file an id of its own (front matter 'id: ...', or an 'id' field), or ingest "
            "with --ids-from-path to name articles by their path"
        )

    def add(self, article: Article) -> None:
        if self.ids_from_path and article.id_from_path and article.path:
            article = article.model_copy(update={"id": id_from_path(article.path, article.id)})
        h = article.text_hash
        if article.id in self.ids_seen:
            if self.ids_seen[article.id] == h:
                self.report.duplicates.append((article.id, article.id))
                self.finish_article(article, "duplicate", f"duplicate: {article.id} appears twice")
            else:
                self.problem(Problem(path=article.path or "?", reason=f"article id {article.id!r} "
                                     "is used by another article in this run; give it its own id"))
            return
        self.ids_seen[article.id] = h
        fp = fingerprint(article, self.chunk_size, self.chunk_overlap)
        stored = self.store.stored_article(article.id)
        if stored is not None and stored.fingerprint == fp:  # the same article, wherever it lies now
            self.hashes_seen.setdefault(h, article.id)
            self.finish_article(article, "unchanged")
            return
        reason = self.clash(article, stored)
        if reason is not None:
            self.problem(Problem(path=article.path or "?", reason=reason))
            return
        other = self.hashes_seen.get(h) or self.store.find_by_text_hash(h)
        if other is not None and other != article.id:
            self.report.duplicates.append((article.id, other))
            self.note_copy(other, article)
            self.finish_article(article, "duplicate", f"duplicate: {article.id} has the same text as {other}")
            return
        status: ArticleStatus = "updated" if stored is not None else "added"
        minhash = self.index().signature_of(article)
        kept = self.near_duplicate(article, status, minhash)
        if kept is None:
            return
        status, also_in, note = kept
        self.hashes_seen[h] = article.id
        self.index().add(article.id, article_key(article.title, h), minhash)
        chunks = chunk_article(article, self.chunk_size, self.chunk_overlap, self.count, self.budget)
        item = _Pending(article, chunks, status, fp, self.store.existing_vectors([c.id for c in chunks]),
                        also_in, note)
        self.pending.append(item)
        self.pending_missing += len(item.missing)
        if self.pending_missing >= self.batch_chunks:
            self.flush()

    def index(self) -> NearDuplicateIndex:
        """The near-duplicate index of the store (loaded or brought up to date on first use)."""
        if self.near is None:
            self.near = NearDuplicateIndex.for_store(self.store, index_folder(self.store))
        return self.near

    def pending_item(self, article_id: str) -> _Pending | None:
        return next((p for p in self.pending if p.article.id == article_id), None)

    def note_copy(self, kept_id: str, article: Article) -> None:
        """Record ``article``'s origin as "also in" on the copy kept (pending, or stored: at flush)."""
        item = self.pending_item(kept_id)
        copies = item.also_in if item is not None else self.also_in_stored.setdefault(kept_id, [])
        copies.append(Origin.of(article))

    def near_duplicate(
        self, article: Article, status: ArticleStatus, minhash: object
    ) -> tuple[ArticleStatus, list[Origin], str] | None:
        """Handle ``article`` as a near-duplicate of an article stored or pending, if it is one.

        Returns:
            None when the copy already kept stays the primary (``article`` is recorded on it);
            else the status, "also in" and note with which to store ``article``.
        """
        match = self.index().match(minhash, exclude=article.id)
        if match is None:
            return status, [], ""
        kept_id, similarity = match
        item = self.pending_item(kept_id)
        if item is not None and item.submitted and self.pool is not None:
            self.drain()  # a worker is writing it: once written it is a stored article like any other
            item = None
        stored = None if item is not None else self.store.stored_article(kept_id)
        if item is not None:
            kept, kept_also = Origin.of(item.article), item.also_in
            kept_rank = _rank(item.article.published, item.article.url)
        elif stored is not None and stored.origin is not None:
            kept, kept_also = stored.origin, list(stored.also_in)
            kept_rank = _rank(stored.published, stored.origin.url)
        else:  # the index is ahead of the store (not expected): treat the article as new
            return status, [], ""
        where = Origin.of(article).label()
        if _rank(article.published, article.url) <= kept_rank:
            self.note_copy(kept_id, article)
            self.report.near_duplicates.append((article.id, kept_id, similarity))
            self.finish_article(article, "near_duplicate", f"near-duplicate: {article.id} ({where}) is "
                                f"{kept_id} (similarity {similarity:.2f}); {kept_id} kept, this copy recorded as also in")
            return None
        # The new copy has more of a date and an address: it becomes the primary, in place of the kept one.
        self.index().remove(kept_id)
        for text_hash, aid in list(self.hashes_seen.items()):
            if aid == kept_id:
                self.hashes_seen[text_hash] = article.id
        also_in = [kept, *kept_also, *self.also_in_stored.pop(kept_id, [])]
        self.store.remove_articles([kept_id])  # its stored version, if any (also one this run updates)
        note = (f"near-duplicate: {article.id} ({where}) is {kept_id} (similarity {similarity:.2f}); "
                f"{article.id} kept (better dated or linked), {kept_id} recorded as also in")
        self.report.near_duplicates.append((kept_id, article.id, similarity))
        if item is None:
            return "near_duplicate", also_in, note
        self.pending.remove(item)  # never written, even when its batch is being embedded
        if not item.submitted:
            self.pending_missing -= len(item.missing)
        self.finish_article(item.article, "near_duplicate", note)
        return status, also_in, ""

    def flush(self, last: bool = False) -> None:
        """Start embedding the pending articles not yet submitted, and write the batch before them.

        Args:
            last: also wait for this batch and write it (the end of the run).
        """
        if self.also_in_stored:
            self.store.add_also_in(self.also_in_stored)
            self.also_in_stored = {}
        batch = [item for item in self.pending if not item.submitted]
        if self.pool is not None:
            self.hand_out(batch, last)
            return
        previous, self.embedding = self.embedding, None
        if batch:
            for item in batch:
                item.submitted = True
            self.pending_missing = 0
            self.embedding = (batch, self.embed_async([c for item in batch for c in item.missing]))
        if previous is not None:
            self.write(*previous)
        if last and self.embedding is not None:
            self.write(*self.embedding)
            self.embedding = None

    def hand_out(self, batch: list[_Pending], last: bool) -> None:
        """Give a batch to the worker processes; take in the oldest ones beyond ``workers`` (all at the end)."""
        if batch:
            for item in batch:
                item.submitted = True
            self.pending_missing = 0
            work = [(i.article, i.chunks, i.vectors, i.fingerprint, i.also_in) for i in batch]
            self.in_flight.append((batch, self.pool.submit(_embed_and_write, work)))
        while self.in_flight and (last or len(self.in_flight) > self.workers):
            self.written(*self.in_flight.popleft())

    def drain(self) -> None:
        """Wait for every batch the workers hold and take in what they wrote."""
        while self.in_flight:
            self.written(*self.in_flight.popleft())

    def written(self, batch: list[_Pending], done: Future) -> None:
        """A worker's batch is stored: count it, in order."""
        added, embedded = done.result()
        self.report.chunks_embedded += embedded
        for item, n in zip(batch, added):
            self.report.chunks_added += n
            self.finish_article(item.article, item.status, item.note)
        self.emit(kind="progress", message=f"{self.report.chunks_added} chunks written")
        self.pending = [item for item in self.pending if item not in batch]

    def embed_async(self, missing: list[Chunk]) -> Future:
        """Embed the chunks' texts on the background thread: a future of ``{chunk id: vector}``."""
        if self._embedder is None:
            self._embedder = ThreadPoolExecutor(1, thread_name_prefix="ingest-embed")
        embeddings = self.store.embeddings

        def vectors() -> dict[str, list[float]]:
            if not missing:
                return {}
            return dict(zip((c.id for c in missing), embeddings.embed_documents([c.text for c in missing])))

        return self._embedder.submit(vectors)

    def write(self, batch: list[_Pending], vectors: Future) -> None:
        """Wait for a batch's vectors and store the articles of it still pending, in order."""
        by_id = vectors.result()
        items = [item for item in batch if item in self.pending]  # a better copy may have replaced one
        for item in items:
            self.report.chunks_embedded += len(item.missing)
            for c in item.missing:
                item.vectors[c.id] = list(by_id[c.id])
        if items:
            added = self.store.put_articles(
                [(i.article, i.chunks, [i.vectors[c.id] for c in i.chunks], i.fingerprint) for i in items],
                also_in={i.article.id: i.also_in for i in items if i.also_in},
            )
            for item, n in zip(items, added):
                self.report.chunks_added += n
                self.finish_article(item.article, item.status, item.note)
            self.emit(kind="progress", message=f"{self.report.chunks_added} chunks written")
        self.pending = [item for item in self.pending if item not in items]

    def save_index(self) -> None:
        """Save the near-duplicate index, tagged with the store's revision (still under the write lock)."""
        if self.near is not None:
            self.near.try_save(index_folder(self.store), self.store.revision())

    def close(self) -> None:
        if self._embedder is not None:  # a failed run: no embedding goes on once the lock is released
            self._embedder.shutdown(wait=True, cancel_futures=True)
        if self.pool is not None:  # nor any worker's write
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.bar is not None:
            self.bar.close()


def ingest_articles(
    items: Iterable[Loaded],
    store: Store,
    *,
    chunk_size: int,
    chunk_overlap: int,
    batch_chunks: int = DEFAULT_BATCH_CHUNKS,
    progress: bool = True,
    on_event: EventCallback | None = None,
    total: int | None = None,
    wait: bool = True,
    ids_from_path: bool = False,
    workers: int = 1,
    settings: Any = None,
) -> IngestReport:
    """Ingest already loaded articles (and pass their load problems through to the report).

    The whole run holds the store's write lock: a second writer (another ingest, an upload in
    the chat) waits for it, with a ``waiting`` event, or fails at once when ``wait`` is False.

    Args:
        items: ``Article`` records and ``Problem`` lines, e.g. from ``load_paths``.
        store: the store to write to.
        chunk_size: target chunk size in characters.
        chunk_overlap: overlap between chunks in whole sentences.
        batch_chunks: chunks gathered across articles before one embedding call.
        progress: show a tqdm progress bar (stderr).
        on_event: called with an ``IngestEvent`` for every article, problem and batch.
        total: expected number of articles, for the progress bar.
        wait: wait for another writer to finish (True) or raise ``StoreBusy`` at once.
        ids_from_path: articles without an id of their own are named by their path relative to
            the current folder (``a/news``) instead of their file name (``news``).
        workers: processes that embed and write batches side by side (more than 1 needs a store on
            a Chroma server).
        settings: the ``rag.settings.Settings`` the workers open the store and embedder from
            (needed when ``workers`` > 1).

    Returns:
        The run's ``IngestReport``.

    Raises:
        StoreBusy: another writer holds the store and ``wait`` is False.
        ValueError: ``workers`` > 1 without a Chroma server or without ``settings``.
    """
    if workers > 1 and (store.local or settings is None):
        raise ValueError("ingest workers write to a Chroma server: give settings with chroma_host")
    started = time.perf_counter()

    def waiting(message: str) -> None:
        if on_event is not None:
            on_event(IngestEvent(kind="waiting", message=message, articles_total=total))

    with store.writing(wait=wait, on_wait=waiting):
        run = _Run(store, chunk_size, chunk_overlap, batch_chunks, progress, on_event, total, ids_from_path,
                   workers, settings)
        try:
            for item in items:
                if isinstance(item, Problem):
                    run.problem(item)
                else:
                    run.add(item)
            run.flush(last=True)
            run.save_index()
        finally:
            run.close()
    run.report.seconds = time.perf_counter() - started
    return run.report


def ingest_paths(
    paths: Iterable[str | os.PathLike[str]],
    store: Store,
    *,
    chunk_size: int,
    chunk_overlap: int,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: bool = True,
    on_event: EventCallback | None = None,
    batch_chunks: int = DEFAULT_BATCH_CHUNKS,
    wait: bool = True,
    ids_from_path: bool = False,
    workers: int = 1,
    settings: Any = None,
) -> IngestReport:
    """Ingest files and folders into the store (one writer at a time: see ``ingest_articles``).

    Args:
        paths: files and folders (recursively) to ingest.
        store: the store to write to.
        chunk_size: target chunk size in characters.
        chunk_overlap: overlap between chunks in whole sentences.
        max_bytes: files larger than this are refused (reported as failed).
        progress: show a tqdm progress bar (stderr).
        on_event: called with an ``IngestEvent`` for every article, problem and batch.
        batch_chunks: chunks gathered across articles before one embedding call.
        wait: wait for another writer to finish (True) or raise ``StoreBusy`` at once.
        ids_from_path: name articles without an id of their own by their relative path.
        workers: processes that embed and write side by side (Chroma server only).
        settings: the settings the workers open the store from (when ``workers`` > 1).

    Returns:
        The run's ``IngestReport`` (failures listed with their reasons; the rest went in).
    """
    paths = [Path(p) for p in paths]
    total = _estimate_total(paths, max_bytes) if progress else None
    return ingest_articles(
        load_paths(paths, max_bytes=max_bytes), store, chunk_size=chunk_size, chunk_overlap=chunk_overlap,
        batch_chunks=batch_chunks, progress=progress, on_event=on_event, total=total,
        wait=wait, ids_from_path=ids_from_path, workers=workers, settings=settings,
    )


def iter_articles(paths: Iterable[str | os.PathLike[str]], max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Article]:
    """Only the articles under ``paths`` (problems skipped), e.g. for evaluation corpora.

    Args:
        paths: files and folders.
        max_bytes: per-file size limit.

    Returns:
        An iterator of ``Article`` records.
    """
    for item in load_paths(paths, max_bytes=max_bytes):
        if isinstance(item, Article):
            yield item

