"""The Chroma store of chunks and articles (embedded PersistentClient, or a Chroma server).

Three collections per store: ``<collection>`` holds the chunks (our vectors, cosine space),
``<collection>_articles`` the full article texts (so quotes can be shown in context) and
``<collection>_meta`` one bookkeeping record (revision, time of the last write).

Write order makes an interrupted ingest safe: an article's chunks are written first, its stale
chunks deleted next, and its article record (carrying the hashes that mark it "unchanged")
last, so an article only counts as stored once all of its chunks are in.

One writer at a time, across processes. The embedded Chroma keeps each collection's vector index
in the memory of the process that opened it and writes it back to disk: two processes writing at
once overwrite each other's index (chunks silently missing from dense search, later crashes), and
a process that opened the store before another one wrote reads a stale index. So every write runs
inside ``Store.writing()``, which holds a file lock on ``<store>/write.lock`` (released by the
operating system if the process dies) and reopens the client when another process has written
since; reads reopen it too when they see another writer's revision. A Chroma server keeps one
index for all its clients and needs neither.

Vectors of one embedder only: the chunk collection's metadata records the embedder that made its
vectors (its name; for a remote one the model and base URL) and their dimension, written with the
first chunks. Opening the store with another embedder is a ``EmbedderMismatch`` naming both and
the command that re-embeds (``Store.reembed``: every chunk embedded again into a new collection,
which then takes the old one's name; the articles are not touched, and an interrupted run loses
nothing and resumes where it stopped).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from rag.errors import StoreBusy, StoreError
from rag.embeddings import embedder_identity
from rag.quotes import quotes_from_json, quotes_json, speakers_field
from rag.text import parse_date
from rag.types import Article, Chunk, Filters, Quote

_EPOCH = dt.date(1970, 1, 1)
_STATE_ID = "state"
_PLACEHOLDER_VECTOR = [1.0]  # articles and state are looked up by id/metadata, never by vector
_PAGE = 2000
LOCK_NAME = "write.lock"
REEMBED_SUFFIX = "_reembed"  # the collection a re-embed fills before it replaces the chunks
REPLACED_SUFFIX = "_replaced"  # the old chunks while a re-embed swaps the collections


def published_ts(published: str | None) -> int:
    """Days since 1970-01-01 of a ``YYYY-MM-DD`` date, or -1 when unknown.

    Args:
        published: the date string or None.

    Returns:
        An int usable in Chroma range filters (``{"published_ts": {"$gte": ...}}``).
    """
    try:
        day = parse_date(published)
    except ValueError:
        return -1
    return -1 if day is None else (day - _EPOCH).days


def chroma_where(filters: Filters | None) -> dict | None:
    """The Chroma ``where`` clause over chunk metadata equivalent to ``filters`` (None: no filter).

    This is the only place that speaks Chroma's filter language; ``Filters.keep`` is the same
    test applied to a chunk in memory.

    Args:
        filters: the restrictions, or None.

    Returns:
        A ``where`` dict, or None when nothing is restricted.
    """
    if filters is None:
        return None
    clauses: list[dict] = []
    if filters.sources:
        clauses.append({"source": {"$in": list(filters.sources)}})
    if filters.article_ids:
        clauses.append({"article_id": {"$in": list(filters.article_ids)}})
    if filters.date_from:
        clauses.append({"published_ts": {"$gte": (filters.date_from - _EPOCH).days}})
    if filters.date_to:
        clauses.append({"published_ts": {"$lte": (filters.date_to - _EPOCH).days}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def resolved_path(path: str | None) -> str:
    """The absolute, symlink-free form of a file path ("" when there is none).

    Args:
        path: a path as given, or None.

    Returns:
        The resolved path, or "".
    """
    if not path:
        return ""
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return str(Path(path).absolute())


@dataclass(frozen=True)
class Origin:
    """Where one copy of an article came from: its id there, file, address and publisher."""

    id: str
    path: str | None = None
    url: str | None = None
    source: str | None = None

    @classmethod
    def of(cls, article: Article) -> "Origin":
        """The origin of a loaded article."""
        return cls(id=article.id, path=article.path, url=article.url, source=article.source)

    def label(self) -> str:
        """For people: the address, else the file, else the id, then the publisher in brackets."""
        where = self.url or self.path or self.id
        return f"{where} ({self.source})" if self.source else where


def _origins_json(origins: Sequence[Origin]) -> str:
    return json.dumps([{k: v for k, v in vars(o).items() if v} for o in origins], ensure_ascii=False) if origins else ""


def _origins_from_json(value: Any) -> tuple[Origin, ...]:
    try:
        items = json.loads(value) if value else []
        return tuple(Origin(**item) for item in items)
    except (TypeError, ValueError):
        return ()


def _merged_origins(*groups: Iterable[Origin]) -> list[Origin]:
    """The origins of all groups, each once (first occurrence kept), in order."""
    return list(dict.fromkeys(o for group in groups for o in group))


@dataclass(frozen=True)
class StoredArticle:
    """The stored facts about an article that decide what a new ingest of it does."""

    text_hash: str  # digest of the stored text
    fingerprint: str | None  # text, metadata and chunking: equal means "unchanged"
    resolved_path: str  # the file it came from, resolved ("" when none)
    id_from_path: bool  # its id was derived from that file's name
    origin: Origin | None = None  # its id, file, address and publisher
    published: str | None = None  # YYYY-MM-DD, None when undated
    also_in: tuple[Origin, ...] = ()  # the other copies found at ingest (near-duplicates)


@dataclass(frozen=True)
class Removal:
    """What ``Store.remove_articles`` did."""

    removed: list[str]  # ids removed, in the order asked
    unknown: list[str]  # ids asked for that the store does not hold
    chunks_removed: int
    location: str = ""  # the store's folder or server

    def summary(self) -> str:
        """One line: ``removed 2 articles (14 chunks)``."""
        n = len(self.removed)
        return f"removed {n} article{'' if n == 1 else 's'} ({self.chunks_removed} chunks)"


@dataclass(frozen=True)
class ArticleSummary:
    """One stored article as the library lists it (no text)."""

    id: str
    title: str
    source: str | None
    url: str | None
    published: str | None  # YYYY-MM-DD, None when undated
    n_chunks: int
    quoted: tuple[tuple[str, int], ...] = ()  # (speaker, quotations), most quoted first, then by name
    also_in: tuple[Origin, ...] = ()  # other copies of the article found at ingest (near-duplicates)

    def quoted_line(self) -> str:
        """Who is quoted, for people: ``"Ben Rhodes (2), Bernadette Meehan (2)"`` ("" for nobody)."""
        return ", ".join(f"{name} ({n})" for name, n in self.quoted)


@dataclass(frozen=True)
class ArticleListing:
    """A page of the library: the articles kept (newest first) and how many matched in all."""

    articles: list[ArticleSummary]
    total: int


def _no_store(path: Path) -> StoreError:
    return StoreError(f"no store at {path}: ingest articles first (newsrag ingest PATH --store {path})")


def _matches(meta: dict[str, Any], words: list[str]) -> bool:
    """Whether every search word is in the article's title or source (case aside)."""
    haystack = f"{meta.get('title') or ''} {meta.get('source') or ''}".casefold()
    return all(w in haystack for w in words)


def _sort_newest_first(records: list[tuple[str, dict[str, Any]]]) -> None:
    """Sort ``(article_id, metadata)`` pairs in place: newest publication day first, undated last,
    then by title and id (days compared as their ``YYYY-MM-DD`` text, so years before 1970 too)."""
    records.sort(key=lambda r: ((r[1].get("title") or "").casefold(), r[0]))
    records.sort(key=lambda r: r[1].get("published") or "", reverse=True)  # stable; "" (undated) last


def _unique_quotes(metadatas: Sequence[dict[str, Any] | None]) -> dict[tuple[int, int, str], Quote]:
    """The quotations kept in chunk metadata, each once (neighbouring chunks share some)."""
    unique: dict[tuple[int, int, str], Quote] = {}
    for meta in metadatas:
        for q in quotes_from_json((meta or {}).get("quotes")):
            unique[(q.start, q.end, q.speaker)] = q
    return unique


def _none_if_empty(value: Any) -> Any:
    return None if value in ("", None) else value


def _chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    return {
        "article_id": chunk.article_id,
        "title": chunk.title or "",
        "url": chunk.url or "",
        "published": chunk.published or "",
        "published_ts": published_ts(chunk.published),
        "source": chunk.source or "",
        "position": chunk.position,
        "start": chunk.start,
        "end": chunk.end,
        # Who is quoted in the chunk: full names and surnames ("Ben Rhodes; Rhodes"), and the
        # quotations themselves as compact JSON (Chroma metadata values are scalars).
        "speakers": speakers_field(chunk.quotes or []),
        "quotes": quotes_json(chunk.quotes or []),
    }


def _article_metadata(
    article: Article, n_chunks: int, fingerprint: str | None, now: str, also_in: Sequence[Origin] = ()
) -> dict[str, Any]:
    return {
        "title": article.title or "",
        "url": article.url or "",
        "published": article.published or "",
        "published_ts": published_ts(article.published),
        "authors": "; ".join(article.authors),
        "source": article.source or "",
        "path": article.path or "",
        "resolved_path": resolved_path(article.path),
        "id_from_path": article.id_from_path,
        "text_hash": article.text_hash,
        "fingerprint": fingerprint or "",
        "n_chunks": n_chunks,
        "ingested_at": now,
        # Other copies of the article found at ingest (JSON list of {id, path, url, source}).
        "also_in": _origins_json(also_in),
    }


def _article_from(article_id: str, text: str | None, meta: dict[str, Any] | None) -> Article:
    meta = meta or {}
    return Article(
        id=article_id,
        title=meta.get("title") or "",
        text=text or "",
        url=_none_if_empty(meta.get("url")),
        published=_none_if_empty(meta.get("published")),
        authors=[a for a in (meta.get("authors") or "").split("; ") if a],
        source=_none_if_empty(meta.get("source")),
        path=_none_if_empty(meta.get("path")),
    )


def _chunk_from(cid: str, text: str, meta: dict[str, Any], score: float | None = None) -> Chunk:
    return Chunk(
        id=cid,
        article_id=meta["article_id"],
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        position=int(meta["position"]),
        title=meta.get("title") or "",
        url=_none_if_empty(meta.get("url")),
        published=_none_if_empty(meta.get("published")),
        source=_none_if_empty(meta.get("source")),
        score=score,
        quotes=quotes_from_json(meta["quotes"]) if "quotes" in meta else None,
    )


class EmbedderMismatch(StoreError):
    """The store's vectors were made by another embedder than the one this run uses."""


def _embedder_label(record: Mapping[str, Any]) -> str:
    """``openai:bge (http://127.0.0.1:8080/v1), 1024-d`` for people (parts left out when unknown)."""
    label = str(record.get("embedder") or "an unnamed embedder")
    if record.get("base_url"):
        label += f" ({record['base_url']})"
    return label + (f", {record['dimension']}-d" if record.get("dimension") else "")


@dataclass(frozen=True)
class Reembedding:
    """What ``Store.reembed`` did."""

    chunks: int  # chunks in the store
    embedded: int  # embedded by this run (the others were done by an interrupted run before)
    embedder: str  # the embedder that made the vectors now
    dimension: int
    seconds: float

    def summary(self) -> str:
        """One line: ``re-embedded 2130 chunks with openai:qwen (896-d) in 41.2 s``."""
        resumed = f" ({self.chunks - self.embedded} done by an earlier, interrupted run)" if self.embedded < self.chunks else ""
        return f"re-embedded {self.chunks} chunks with {self.embedder} ({self.dimension}-d) in {self.seconds:.1f} s{resumed}"


def _slices(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


class Store:
    """Chunks (embedded, searchable) and full article texts of one collection.

    Args:
        path: folder of the embedded store (ignored when ``chroma_host`` is set).
        collection: collection name; the articles live in ``<collection>_articles``.
        embeddings: our embedder; Chroma's own default embedding function is never used.
        chroma_host/chroma_port: use a Chroma server (``HttpClient``) instead.
        create: create the store folder when missing.
        check_embedder: refuse (``EmbedderMismatch``) a store whose vectors another embedder made
            (False only to re-embed it).
    """

    def __init__(
        self,
        path: Path,
        collection: str,
        embeddings: Embeddings,
        chroma_host: str | None = None,
        chroma_port: int = 8000,
        *,
        create: bool = True,
        check_embedder: bool = True,
    ) -> None:
        self.embeddings = embeddings
        self.check_embedder = check_embedder
        self.collection_name = collection
        self.path = Path(path)
        self.chroma_host = chroma_host
        self.chroma_port = chroma_port
        self.location = self._where(self.path, chroma_host, chroma_port)
        if not chroma_host:
            if not self.path.exists() and not create:
                raise _no_store(self.path)
            if self.path.exists() and not self.path.is_dir():
                raise StoreError(f"cannot open the store at {self.path}: it is a file, not a folder")
        self._write_mutex = threading.RLock()  # one writer thread at a time (re-entrant)
        self._connect_lock = threading.RLock()  # no two reopenings at once
        self._write_depth = 0
        self._file_lock: Any = None
        self._seen_revision: str | None = None
        self._counted: tuple[str, str] | None = None  # (state revision, revision()) last counted
        if self.local and not (self.path / "chroma.sqlite3").exists():
            # Creating the store writes its tables: two processes creating one store at once
            # collide ("table collections already exists"), so creation holds the write lock too.
            self.path.mkdir(parents=True, exist_ok=True)
            lock = self._lock()
            with lock:
                self._connect()
        else:
            self._connect()

    def _connect(self) -> None:
        """Open (or reopen) the Chroma client and the three collections."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self.chroma_host:
                self.client = chromadb.HttpClient(host=self.chroma_host, port=self.chroma_port, settings=chroma_settings)
            else:
                from chromadb.api.shared_system_client import SharedSystemClient

                self.path.mkdir(parents=True, exist_ok=True)
                # Chroma shares one client system per folder within a process, with its in-memory
                # index; drop it from that cache so this client reads the index as it is on disk
                # (other Store objects keep theirs until they see a new revision themselves).
                SharedSystemClient._identifier_to_system.pop(str(self.path), None)
                self.client = chromadb.PersistentClient(path=str(self.path), settings=chroma_settings)
            self._finish_interrupted_swap()
            self._chunks = self._open(self.collection_name, cosine=True)
            if self.check_embedder:
                self._check_embedder()
            self._articles = self._open(f"{self.collection_name}_articles")
            self._meta = self._open(f"{self.collection_name}_meta")
            self.max_batch = max(1, int(self.client.get_max_batch_size()))
            self._seen_revision = self._state().get("revision")
        except StoreError:
            raise
        except Exception as err:  # chromadb raises many types; the user needs one line
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise StoreError(f"cannot open the Chroma store at {self.location}: {first}") from err

    # --- which embedder made the vectors ---------------------------------------------------------
    def embedder_record(self) -> dict[str, Any]:
        """The embedder recorded with the chunks (``embedder``, ``dimension``, for a remote one
        ``model`` and ``base_url``); empty for a store written before it was recorded, or empty."""
        meta = self._chunks.metadata or {}
        return {k: meta[k] for k in ("embedder", "model", "base_url", "dimension") if k in meta}

    def reembed_command(self) -> str:
        """The command that re-embeds this store with the embedder the settings name."""
        return "newsrag reembed" + ("" if not self.local else f" --store {self.path}")

    def _check_embedder(self) -> None:
        """Raise ``EmbedderMismatch`` when the recorded embedder is not this store's embedder."""
        recorded = self.embedder_record()
        current = embedder_identity(self.embeddings)
        if recorded.get("embedder") and current and recorded["embedder"] != current["embedder"]:
            raise EmbedderMismatch(
                f"the store at {self.location} holds vectors of {_embedder_label(recorded)}, not of "
                f"{_embedder_label(current)} (NEWSRAG_EMBEDDING_MODEL): re-embed it with "
                f"`{self.reembed_command()}`, or set NEWSRAG_EMBEDDING_MODEL={recorded['embedder']}"
            )

    def _record_embedder(self, dimension: int) -> None:
        """Record this store's embedder and its vectors' dimension with the chunks, when not yet
        recorded (writing with the write lock held); a dimension that differs from the vectors
        stored is an ``EmbedderMismatch``, before anything is written."""
        recorded = self.embedder_record()
        if not recorded.get("dimension"):
            got = self._chunks.get(limit=1, include=["embeddings"])["embeddings"]
            if got is not None and len(got):  # written before the embedder was recorded
                recorded = {**recorded, "dimension": len(got[0])}
        if recorded.get("dimension") and int(recorded["dimension"]) != dimension:
            current = {**embedder_identity(self.embeddings), "dimension": dimension}
            raise EmbedderMismatch(
                f"the store at {self.location} holds vectors of {_embedder_label(recorded)}, not of "
                f"{_embedder_label(current)}: re-embed it with `{self.reembed_command()}`"
            )
        if not self.embedder_record():
            self._chunks.modify(metadata={**embedder_identity(self.embeddings), "dimension": dimension})

    def _collection_names(self) -> set[str]:
        return {c if isinstance(c, str) else c.name for c in self.client.list_collections()}

    def _finish_interrupted_swap(self) -> None:
        """After a re-embed stopped while swapping collections: the old chunks back under their
        name when the new ones never took it (a re-embed resumes from its copy), else dropped."""
        replaced = self.collection_name + REPLACED_SUFFIX
        names = self._collection_names()
        if replaced not in names:
            return
        if self.collection_name in names:
            self.client.delete_collection(replaced)
        else:
            self.client.get_collection(replaced).modify(name=self.collection_name)

    def reembed(self, *, on_progress: Callable[[int, int], None] | None = None, batch: int = 512) -> Reembedding:
        """Embed every chunk again with this store's embedder, under the write lock; articles stay.

        The chunks (ids, texts, metadata, new vectors) are copied into ``<collection>_reembed``,
        which then replaces ``<collection>``. Until that swap the store is as it was; a run that
        stops keeps the copy, and the next one embeds only the chunks the copy lacks.

        Args:
            on_progress: called with ``(chunks done, chunks in all)`` after each batch.
            batch: chunks read and embedded at a time.

        Returns:
            A ``Reembedding``.

        Raises:
            StoreError: the store could not be read or written.
        """
        import time

        started = time.perf_counter()
        identity = embedder_identity(self.embeddings)
        with self.writing():
            target = self._reembed_target(identity)
            done = {cid for got in self._pages(target, include=[]) for cid in got["ids"]}
            total, embedded, dimension = self._chunks.count(), 0, 0
            for got in self._pages(self._chunks, include=["documents", "metadatas"]):
                todo = [i for i, cid in enumerate(got["ids"]) if cid not in done]
                for part in _slices(len(todo), batch):
                    rows = todo[part]
                    vectors = self.embeddings.embed_documents([got["documents"][i] or "" for i in rows])
                    dimension = len(vectors[0])
                    target.upsert(ids=[got["ids"][i] for i in rows], embeddings=[list(v) for v in vectors],
                                  documents=[got["documents"][i] for i in rows],
                                  metadatas=[got["metadatas"][i] for i in rows])
                    embedded += len(rows)
                    if on_progress is not None:
                        on_progress(len(done) + embedded, total)
            if not dimension and total:
                probe = target.get(limit=1, include=["embeddings"])["embeddings"]
                dimension = len(probe[0])
            record = {**identity, **({"dimension": dimension} if dimension else {})}
            if record:
                target.modify(metadata=record)
            self._swap_in(target)
            self._touch()
        return Reembedding(chunks=total, embedded=embedded, embedder=_embedder_label(identity), dimension=dimension,
                           seconds=time.perf_counter() - started)

    def _reembed_target(self, identity: Mapping[str, str]) -> Any:
        """The collection a re-embed fills: the one an interrupted re-embed with the same embedder
        left, else a new one."""
        name = self.collection_name + REEMBED_SUFFIX
        if name in self._collection_names():
            left = self.client.get_collection(name)
            if (left.metadata or {}).get("embedder") == identity.get("embedder"):
                return left
            self.client.delete_collection(name)
        return self.client.create_collection(name=name, embedding_function=None, metadata=dict(identity) or None,
                                             configuration={"hnsw": {"space": "cosine"}})

    def _swap_in(self, target: Any) -> None:
        """Give ``target`` the chunks' name: old chunks renamed aside, target renamed, old dropped
        (``_finish_interrupted_swap`` completes or undoes a swap cut short)."""
        replaced = self.collection_name + REPLACED_SUFFIX
        if replaced in self._collection_names():
            self.client.delete_collection(replaced)
        self._chunks.modify(name=replaced)
        target.modify(name=self.collection_name)
        self.client.delete_collection(replaced)
        self._chunks = self._open(self.collection_name, cosine=True)

    @property
    def local(self) -> bool:
        """True for the embedded store (a folder), False for a Chroma server."""
        return not self.chroma_host

    def _refresh(self) -> None:
        """Reopen the client when another process (or another Store) wrote since we last looked."""
        if not self.local:
            return
        with self._connect_lock:
            if self._state().get("revision") != self._seen_revision:
                self._connect()

    @contextmanager
    def writing(self, *, wait: bool = True, on_wait: Callable[[str], None] | None = None) -> Iterator["Store"]:
        """Hold the store's write lock (across processes and threads) for the block; re-entrant.

        Every write path (ingest, uploads, removal) runs inside it, so two writers never interleave;
        readers are not blocked. On entry the client is reopened if another process wrote since,
        so this writer starts from the index as it is on disk.

        Args:
            wait: when another writer holds the lock, wait for it (True) or raise ``StoreBusy``.
            on_wait: called once with a message when this writer has to wait.

        Yields:
            The store itself.

        Raises:
            StoreBusy: the lock is held elsewhere and ``wait`` is False.
        """
        if not self._write_mutex.acquire(blocking=False):
            if not wait:
                raise self._busy()
            if on_wait is not None:
                on_wait(self._waiting_message())
            self._write_mutex.acquire()
        try:
            self._write_depth += 1
            if self._write_depth == 1 and self.local:
                self._acquire_file_lock(wait, on_wait)
            try:
                if self._write_depth == 1:
                    self._refresh()
                yield self
            finally:
                if self._write_depth == 1 and self.local:
                    self._release_file_lock()
        finally:
            self._write_depth -= 1
            self._write_mutex.release()

    def _busy(self) -> StoreBusy:
        return StoreBusy(
            f"another ingest is writing to the store at {self.location}; try again when it has "
            "finished (or leave out --no-wait to wait for it)"
        )

    def _waiting_message(self) -> str:
        return f"waiting for another ingest to finish writing to {self.location}…"

    def _lock(self) -> Any:
        """The store's ``filelock.FileLock`` (one object per Store, re-entrant)."""
        from filelock import FileLock

        if self._file_lock is None:
            self._file_lock = FileLock(str(self.path / LOCK_NAME), thread_local=False)
        return self._file_lock

    def _acquire_file_lock(self, wait: bool, on_wait: Callable[[str], None] | None) -> None:
        from filelock import Timeout

        try:
            self._lock().acquire(timeout=0)
            return
        except Timeout:
            pass
        if not wait:
            raise self._busy()
        if on_wait is not None:
            on_wait(self._waiting_message())
        self._file_lock.acquire()

    def _release_file_lock(self) -> None:
        if self._file_lock is not None and self._file_lock.is_locked:
            self._file_lock.release()

    @staticmethod
    def _where(path: Path, host: str | None, port: int) -> str:
        return f"http://{host}:{port}" if host else str(path)

    def _open(self, name: str, cosine: bool = False) -> Any:
        kwargs: dict[str, Any] = {"name": name, "embedding_function": None}
        if cosine:
            kwargs["configuration"] = {"hnsw": {"space": "cosine"}}
        return self.client.get_or_create_collection(**kwargs)

    @classmethod
    def from_settings(cls, settings: Any, embeddings: Embeddings | None = None, *, create: bool = True,
                      check_embedder: bool = True) -> "Store":
        """Open the store described by a ``Settings`` (embedder from settings when not given).

        Args:
            settings: a ``rag.settings.Settings``.
            embeddings: an embedder to use instead of the one the settings name.
            create: create the store folder when missing (False: a missing folder is a
                ``StoreError``, so a mistyped ``--store`` does not leave an empty store behind).
            check_embedder: refuse a store another embedder made (False only to re-embed it).

        Returns:
            The opened store.
        """
        if embeddings is None:
            from rag.embeddings import embeddings_from_settings

            embeddings = embeddings_from_settings(settings)
        return cls(
            path=Path(settings.store),
            collection=settings.collection,
            embeddings=embeddings,
            chroma_host=settings.chroma_host,
            chroma_port=settings.chroma_port,
            create=create,
            check_embedder=check_embedder,
        )

    @classmethod
    def for_reading(cls, settings: Any, embeddings: Embeddings | None = None, *,
                    check_embedder: bool = True) -> "Store":
        """Open an existing store only to read it: nothing is created, not even in an empty folder.

        Args:
            settings: a ``rag.settings.Settings``.
            embeddings: an embedder to use instead of the one the settings name.
            check_embedder: refuse a store another embedder made (False only to re-embed it).

        Returns:
            The opened store.

        Raises:
            StoreError: no store at the settings' folder (missing, or a folder without one).
        """
        path = Path(settings.store)
        if not settings.chroma_host and not (path / "chroma.sqlite3").is_file():
            raise _no_store(path)
        return cls.from_settings(settings, embeddings, create=False, check_embedder=check_embedder)

    # --- bookkeeping ---------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        got = self._meta.get(ids=[_STATE_ID], include=["metadatas"])
        return (got["metadatas"] or [{}])[0] or {}

    def _touch(self) -> None:
        """Record that the content changed (new revision, time of the last write)."""
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        revision = uuid.uuid4().hex
        self._meta.upsert(
            ids=[_STATE_ID],
            embeddings=[_PLACEHOLDER_VECTOR],
            metadatas=[{"revision": revision, "last_ingest": now}],
            documents=[""],
        )
        self._seen_revision = revision

    def _touch_after_failure(self) -> None:
        """After a write that failed part-way: a new revision all the same, so readers that read
        during it count again (best effort: the store may be what failed)."""
        try:
            self._touch()
        except Exception:  # noqa: BLE001 - the write's own error is the one to report
            pass

    # --- writing (ingest) ----------------------------------------------------------------------
    def _article_meta(self, article_id: str) -> dict[str, Any] | None:
        got = self._articles.get(ids=[article_id], include=["metadatas"])
        if not got["ids"]:
            return None
        return got["metadatas"][0] or {}

    def stored_article(self, article_id: str) -> StoredArticle | None:
        """What the store keeps about an article for ingest decisions, read in one request.

        Args:
            article_id: the article id.

        Returns:
            None when the article is not stored. Stores written before the origin was recorded
            give the stored path resolved now, and ``id_from_path`` False.
        """
        meta = self._article_meta(article_id)
        if meta is None:
            return None
        return StoredArticle(
            text_hash=meta.get("text_hash") or "",
            fingerprint=meta.get("fingerprint") or None,
            resolved_path=meta.get("resolved_path") or resolved_path(meta.get("path") or None),
            id_from_path=bool(meta.get("id_from_path", False)),
            origin=Origin(
                id=article_id, path=_none_if_empty(meta.get("path")), url=_none_if_empty(meta.get("url")),
                source=_none_if_empty(meta.get("source")),
            ),
            published=_none_if_empty(meta.get("published")),
            also_in=_origins_from_json(meta.get("also_in")),
        )

    def article_hash(self, article_id: str) -> str | None:
        """Text hash stored for an article, or None when the article is not in the store."""
        stored = self.stored_article(article_id)
        return None if stored is None else stored.text_hash

    def article_fingerprint(self, article_id: str) -> str | None:
        """Fingerprint stored with an article by ``put_article`` (None when absent or not given).

        Args:
            article_id: the article id.

        Returns:
            The fingerprint string, or None.
        """
        stored = self.stored_article(article_id)
        return None if stored is None else stored.fingerprint

    def find_by_text_hash(self, text_hash: str) -> str | None:
        """Id of a stored article with exactly this text, if any (duplicate detection)."""
        got = self._articles.get(where={"text_hash": text_hash}, limit=1, include=[])
        return got["ids"][0] if got["ids"] else None

    def existing_vectors(self, chunk_ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored vectors of those chunk ids that are already in the store (to avoid re-embedding).

        Args:
            chunk_ids: ids to look up.

        Returns:
            ``{chunk_id: vector}`` for the ids found.
        """
        found: dict[str, list[float]] = {}
        ids = list(dict.fromkeys(chunk_ids))
        self._refresh()
        for part in _slices(len(ids), self.max_batch):
            got = self._chunks.get(ids=ids[part], include=["embeddings"])
            embs = got.get("embeddings")
            if embs is None:
                continue
            for cid, vec in zip(got["ids"], embs):
                found[cid] = [float(x) for x in vec]
        return found

    def chunk_ids_of(self, article_id: str) -> list[str]:
        """Ids of the chunks stored for an article.

        Args:
            article_id: the article id.

        Returns:
            Chunk ids (any order).
        """
        return list(self._chunks.get(where={"article_id": article_id}, include=[])["ids"])

    def put_article(
        self,
        article: Article,
        chunks: list[Chunk],
        vectors: list[list[float]] | None = None,
        *,
        fingerprint: str | None = None,
    ) -> int:
        """Store an article and its chunks, replacing all its old chunks. Returns chunks added.

        Args:
            article: the article (its full text is kept).
            chunks: its chunks, all with ``article_id == article.id``.
            vectors: one vector per chunk; computed with the store's embedder (reusing stored
                vectors of unchanged chunks) when omitted.
            fingerprint: optional marker stored with the article (the pipeline stores a hash of
                text, metadata and chunking parameters to recognise unchanged articles).

        Returns:
            The number of chunk ids that were not in the store before.
        """
        if vectors is None:
            vectors = self.vectors_for(chunks)
        return self.put_articles([(article, chunks, vectors, fingerprint)])[0]

    def put_articles(
        self,
        items: Sequence[tuple[Article, list[Chunk], list[list[float]], str | None]],
        also_in: Mapping[str, Sequence[Origin]] | None = None,
    ) -> list[int]:
        """Store several articles at once (fewer, larger writes): see ``put_article``.

        All chunks are written first, stale chunks deleted next, the article records last.
        An article stored before keeps the other copies recorded with it ("also in").

        Args:
            items: ``(article, chunks, vectors, fingerprint)`` per article, ids all different.
            also_in: other copies of some of these articles (by article id), added to those kept.

        Returns:
            Chunks added, per article.
        """
        for article, chunks, vectors, _ in items:
            if any(c.article_id != article.id for c in chunks):
                raise ValueError("every chunk must belong to the article")
            if len(vectors) != len(chunks):
                raise ValueError("one vector per chunk is needed")
        if not items:
            return []
        with self.writing():
            return self._put_articles(items, also_in or {})

    def _put_articles(
        self,
        items: Sequence[tuple[Article, list[Chunk], list[list[float]], str | None]],
        also_in: Mapping[str, Sequence[Origin]],
    ) -> list[int]:
        article_ids = [a.id for a, _, _, _ in items]
        try:
            copies = self._also_in_of(article_ids)
            for aid, origins in also_in.items():
                copies[aid] = _merged_origins(copies.get(aid, ()), origins)
            old: dict[str, set[str]] = {aid: set() for aid in article_ids}
            for part in _slices(len(article_ids), 500):
                got = self._chunks.get(where={"article_id": {"$in": article_ids[part]}}, include=["metadatas"])
                for cid, meta in zip(got["ids"], got["metadatas"]):
                    old[meta["article_id"]].add(cid)
            chunks = [c for _, cs, _, _ in items for c in cs]
            vectors = [list(v) for _, _, vs, _ in items for v in vs]
            if vectors:
                self._record_embedder(len(vectors[0]))
            self._touch()
            for part in _slices(len(chunks), self.max_batch):
                self._chunks.upsert(
                    ids=[c.id for c in chunks[part]],
                    embeddings=vectors[part],
                    documents=[c.text for c in chunks[part]],
                    metadatas=[_chunk_metadata(c) for c in chunks[part]],
                )
            stale = sorted(cid for a, cs, _, _ in items for cid in old[a.id] - {c.id for c in cs})
            for part in _slices(len(stale), self.max_batch):
                self._chunks.delete(ids=stale[part])
            now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            for part in _slices(len(items), self.max_batch):
                batch = items[part]
                self._articles.upsert(
                    ids=[a.id for a, _, _, _ in batch],
                    embeddings=[_PLACEHOLDER_VECTOR] * len(batch),
                    documents=[a.text for a, _, _, _ in batch],
                    metadatas=[_article_metadata(a, len(cs), fp, now, copies.get(a.id, ())) for a, cs, _, fp in batch],
                )
            self._touch()
        except EmbedderMismatch:
            raise
        except Exception as err:
            self._touch_after_failure()
            raise StoreError(f"cannot write articles to the store at {self.location}: {err}") from err
        return [len({c.id for c in cs} - old[a.id]) for a, cs, _, _ in items]

    def _also_in_of(self, article_ids: Sequence[str]) -> dict[str, list[Origin]]:
        """``{article_id: the other copies recorded with it}`` for the stored ones of these ids."""
        out: dict[str, list[Origin]] = {}
        for part in _slices(len(article_ids), 500):
            got = self._articles.get(ids=list(article_ids[part]), include=["metadatas"])
            for aid, meta in zip(got["ids"], got["metadatas"]):
                out[aid] = list(_origins_from_json((meta or {}).get("also_in")))
        return out

    def add_also_in(self, also_in: Mapping[str, Sequence[Origin]]) -> None:
        """Record other copies of stored articles ("also in"), each once; unknown ids are skipped.

        Args:
            also_in: ``{article_id: origins of its other copies}``.
        """
        if not also_in:
            return
        with self.writing():
            try:
                stored = self._also_in_of(list(also_in))
                ids = [aid for aid in also_in if aid in stored]
                if not ids:
                    return
                self._articles.update(
                    ids=ids,
                    metadatas=[{"also_in": _origins_json(_merged_origins(stored[a], also_in[a]))} for a in ids],
                )
                self._touch()
            except Exception as err:
                self._touch_after_failure()
                raise StoreError(f"cannot write articles to the store at {self.location}: {err}") from err

    def remove_articles(
        self, article_ids: Sequence[str], *, wait: bool = True, on_wait: Callable[[str], None] | None = None
    ) -> Removal:
        """Delete articles: each one's record and all of its chunks, under the write lock.

        The revision changes, so the BM25 index and readers in other processes follow. An id with
        chunks but no record (an ingest interrupted before its record was written) counts as
        stored: its chunks are deleted too.

        Args:
            article_ids: the ids to remove (repeats ignored).
            wait: when another writer holds the store, wait for it (True) or raise ``StoreBusy``.
            on_wait: called once with a message when this call has to wait.

        Returns:
            A ``Removal``: the ids removed, those the store does not hold, chunks deleted.

        Raises:
            StoreBusy: another writer holds the store and ``wait`` is False.
            StoreError: the store could not be written.
        """
        asked = list(dict.fromkeys(article_ids))
        with self.writing(wait=wait, on_wait=on_wait):
            try:
                known: set[str] = set()
                chunk_ids: list[str] = []
                for part in _slices(len(asked), 500):
                    known.update(self._articles.get(ids=asked[part], include=[])["ids"])
                    got = self._chunks.get(where={"article_id": {"$in": asked[part]}}, include=["metadatas"])
                    chunk_ids += got["ids"]
                    known.update(m["article_id"] for m in got["metadatas"] if m)
                removed = [aid for aid in asked if aid in known]
                if removed:
                    self._touch()
                    for part in _slices(len(removed), self.max_batch):  # records first: no longer "stored"
                        self._articles.delete(ids=removed[part])
                    for part in _slices(len(chunk_ids), self.max_batch):
                        self._chunks.delete(ids=chunk_ids[part])
                    self._touch()
            except Exception as err:
                self._touch_after_failure()
                raise StoreError(f"cannot remove articles from the store at {self.location}: {err}") from err
        return Removal(removed=removed, unknown=[aid for aid in asked if aid not in known],
                       chunks_removed=len(chunk_ids), location=self.location)

    def article_keys(self) -> dict[str, tuple[str, str]]:
        """``{article_id: (text hash, title)}`` of every stored article (metadata only, in pages)."""
        self._refresh()
        keys: dict[str, tuple[str, str]] = {}
        for got in self._pages(self._articles, include=["metadatas"]):
            for aid, meta in zip(got["ids"], got["metadatas"]):
                keys[aid] = ((meta or {}).get("text_hash") or "", (meta or {}).get("title") or "")
        return keys

    def articles(self, article_ids: Sequence[str]) -> Iterator[Article]:
        """The stored articles of these ids (unknown ids skipped), read a few hundred at a time."""
        ids = list(article_ids)
        for part in _slices(len(ids), 200):
            got = self._articles.get(ids=ids[part], include=["documents", "metadatas"])
            for aid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                yield _article_from(aid, doc, meta)

    def vectors_for(self, chunks: Sequence[Chunk]) -> list[list[float]]:
        """Vectors for chunks: stored ones reused, the rest embedded in one call.

        Args:
            chunks: chunks to embed.

        Returns:
            One vector per chunk, in order.
        """
        have = self.existing_vectors([c.id for c in chunks])
        missing = [c for c in chunks if c.id not in have]
        if missing:
            for c, v in zip(missing, self.embeddings.embed_documents([c.text for c in missing])):
                have[c.id] = list(v)
        return [have[c.id] for c in chunks]

    # --- reading (rag, ui, evals) --------------------------------------------------------------
    def quotes_of(self, article_id: str) -> list[Quote]:
        """The quotations of an article as kept with its chunks at ingest, in text order.

        Args:
            article_id: the article id.

        Returns:
            Quotes (speaker, offsets in the article text, kind), each once; empty for an unknown
            article or a store built before quotations were kept.
        """
        got = self._chunks.get(where={"article_id": article_id}, include=["metadatas"])
        unique = _unique_quotes(got.get("metadatas") or [])
        return sorted(unique.values(), key=lambda q: (q.start, q.end))

    def speakers_of(self, article_id: str) -> list[str]:
        """Who is quoted in an article: full names in order of their first quotation."""
        return list(dict.fromkeys(q.speaker for q in self.quotes_of(article_id)))

    def _pages(self, collection: Any, **get: Any) -> Iterator[dict[str, Any]]:
        """``collection.get(**get)`` read ``_PAGE`` records at a time, page after page."""
        offset = 0
        while True:
            got = collection.get(limit=_PAGE, offset=offset, **get)
            yield got
            if len(got["ids"]) < _PAGE:
                return
            offset += _PAGE

    def list_articles(
        self, search: str | None = None, *, limit: int | None = None, quoted: bool = True
    ) -> ArticleListing:
        """The stored articles, newest first (undated last), with who is quoted in each.

        Reads the article records page by page, then (for the articles kept) their chunks'
        metadata page by page: a few requests for the whole library, none per article.

        Args:
            search: keep articles whose title or source holds every word of it (case aside).
            limit: keep at most this many articles (the newest); None keeps all.
            quoted: also count each article's quotations per speaker (reads chunk metadata).

        Returns:
            The kept articles and how many matched before ``limit``.
        """
        self._refresh()
        words = (search or "").casefold().split()
        records: list[tuple[str, dict[str, Any]]] = []
        in_store = 0
        for got in self._pages(self._articles, include=["metadatas"]):
            in_store += len(got["ids"])
            records += [(aid, m or {}) for aid, m in zip(got["ids"], got["metadatas"]) if _matches(m or {}, words)]
        _sort_newest_first(records)
        total = len(records)
        if limit is not None:
            records = records[: max(0, limit)]
        counts = self._quoted_counts([aid for aid, _ in records], every=len(records) == in_store) if quoted else {}
        articles = [
            ArticleSummary(
                id=aid,
                title=meta.get("title") or "",
                source=_none_if_empty(meta.get("source")),
                url=_none_if_empty(meta.get("url")),
                published=_none_if_empty(meta.get("published")),
                n_chunks=int(meta.get("n_chunks") or 0),
                quoted=counts.get(aid, ()),
                also_in=_origins_from_json(meta.get("also_in")),
            )
            for aid, meta in records
        ]
        return ArticleListing(articles=articles, total=total)

    def _quoted_counts(self, article_ids: list[str], *, every: bool) -> dict[str, tuple[tuple[str, int], ...]]:
        """``{article_id: ((speaker, quotations), ...)}`` from the chunks' metadata, read in pages.

        Args:
            article_ids: the articles wanted.
            every: they are all the store's articles (read every chunk, no filter).
        """
        metas: dict[str, list[dict[str, Any]]] = {aid: [] for aid in article_ids}
        wheres = [None] if every else [
            {"article_id": {"$in": article_ids[part]}} for part in _slices(len(article_ids), 500)
        ]
        for where in wheres:
            for got in self._pages(self._chunks, where=where, include=["metadatas"]):
                for meta in got["metadatas"]:
                    if meta and meta.get("speakers") and meta.get("article_id") in metas:
                        metas[meta["article_id"]].append(meta)
        counts: dict[str, tuple[tuple[str, int], ...]] = {}
        for aid, chunk_metas in metas.items():
            per_speaker: dict[str, int] = {}
            for _, _, speaker in _unique_quotes(chunk_metas):
                per_speaker[speaker] = per_speaker.get(speaker, 0) + 1
            counts[aid] = tuple(sorted(per_speaker.items(), key=lambda kv: (-kv[1], kv[0].casefold())))
        return counts

    def get_article(self, article_id: str) -> Article | None:
        """The full stored article (text kept so quotes can be shown in context)."""
        return next(self.articles([article_id]), None)

    def also_in(self, article_id: str) -> list[Origin]:
        """The other copies of an article found at ingest (near-duplicates stored once), in order."""
        return self._also_in_of([article_id]).get(article_id, [])

    def dense_search(
        self, query: str, k: int, filters: Filters | None = None
    ) -> list[tuple[Chunk, float]]:
        """Top-k chunks by embedding similarity (cosine similarity in [−1, 1], best first).

        Args:
            query: the query text.
            k: number of chunks wanted.
            filters: metadata restrictions (sources, dates, article ids), or None.

        Returns:
            ``(chunk, cosine similarity)`` pairs, best first.
        """
        return self.dense_search_by_vector(self.embed_query(query), k, filters)

    def dense_search_by_vector(
        self, vector: Sequence[float], k: int, filters: Filters | None = None
    ) -> list[tuple[Chunk, float]]:
        """Like ``dense_search`` with a precomputed query vector.

        Args:
            vector: the query vector (from ``embed_query``).
            k: number of chunks wanted.
            filters: metadata restrictions, or None.

        Returns:
            ``(chunk, cosine similarity)`` pairs, best first.
        """
        if k <= 0:
            return []
        self._refresh()
        res = self._chunks.query(  # fewer results (none for an empty store) when it holds fewer than k
            query_embeddings=[list(vector)],
            n_results=k,
            where=chroma_where(filters),
            include=["documents", "metadatas", "distances"],
        )
        out: list[tuple[Chunk, float]] = []
        for cid, doc, meta, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0]):
            sim = 1.0 - float(dist)
            out.append((_chunk_from(cid, doc or "", meta or {}, sim), sim))
        return out

    def embed_query(self, query: str) -> list[float]:
        """The query vector (so a caller can reuse it)."""
        return list(self.embeddings.embed_query(query))

    def all_chunks(self) -> list[Chunk]:
        """Every chunk (text and metadata), for the lexical index."""
        out: list[Chunk] = []
        for got in self._pages(self._chunks, include=["documents", "metadatas"]):
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                out.append(_chunk_from(cid, doc or "", meta or {}))
        out.sort(key=lambda c: (c.article_id, c.position))
        return out

    def revision(self) -> str:
        """Changes whenever the store's content changes (keeps the BM25 index in step).

        The state record's revision and the numbers of chunks and articles. Every write renews
        the state revision when it ends (and when it fails), so the counts, which cost
        milliseconds each in a large store, are taken again only when that revision changed.
        """
        state = self._state().get("revision")
        if self.local and state != self._seen_revision:  # another process wrote (or re-embedded)
            with self._connect_lock:
                self._connect()
        if state is not None and self._counted is not None and self._counted[0] == state:
            return self._counted[1]
        revision = f"{'0' if state is None else state}:{self._chunks.count()}:{self._articles.count()}"
        if state is not None:
            self._counted = (state, revision)
        return revision

    def stats(self) -> dict[str, Any]:
        """``{"articles": int, "chunks": int, "last_ingest": iso str | None, "sources": [...]}``."""
        sources: set[str] = set()
        for got in self._pages(self._articles, include=["metadatas"]):
            sources.update(m.get("source") for m in got["metadatas"] if m and m.get("source"))
        return {
            "articles": self._articles.count(),
            "chunks": self._chunks.count(),
            "last_ingest": self._state().get("last_ingest"),
            "sources": sorted(sources),
        }
