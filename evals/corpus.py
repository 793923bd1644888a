"""Evaluation corpora: a content hash per corpus, and a cached store folder per (hash, chunking).

Repeated runs on the same corpus reuse the store instead of ingesting again; a store whose build
did not finish (no completion mark) is completed by the next run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rag.errors import NewsragError

_READ_BLOCK = 1 << 20
_DONE = ".complete"


class CorpusError(NewsragError):
    """The corpus path does not exist or holds no files."""


def corpus_hash(path: Path, length: int = 16) -> str:
    """sha256 over a file's bytes, or over every file under a folder (relative path + bytes).

    Args:
        path: a corpus file or folder.
        length: hex digits kept.

    Returns:
        The digest prefix.

    Raises:
        CorpusError: the path does not exist or a folder holds no files.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"Corpus {path} does not exist.")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise CorpusError(f"Corpus folder {path} holds no files.")
    digest = hashlib.sha256()
    for f in files:
        rel = f.name if f == path else f.relative_to(path).as_posix()
        digest.update(rel.encode("utf-8") + b"\0")
        with f.open("rb") as fh:
            while block := fh.read(_READ_BLOCK):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()[:length]


def cached_store_dir(cache_dir: Path, digest: str, chunking: str) -> Path:
    """``<cache_dir>/eval-stores/<digest>-<chunking>`` (not created).

    Args:
        cache_dir: the project's cache folder.
        digest: the corpus hash.
        chunking: a short key of everything that changes the chunks or vectors
            (chunk size, overlap, embedder), e.g. ``cs600-co1-minilm-int8``.
    """
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in chunking)
    return Path(cache_dir) / "eval-stores" / f"{digest}-{safe}"


def is_complete(store_dir: Path) -> bool:
    """True when the cached store was fully built."""
    return (Path(store_dir) / _DONE).exists()


def mark_complete(store_dir: Path) -> None:
    """Record that the cached store was fully built."""
    Path(store_dir).mkdir(parents=True, exist_ok=True)
    (Path(store_dir) / _DONE).write_text("ok\n")
