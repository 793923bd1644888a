"""Uploaded files kept under the store's ``uploads/`` folder, each under a name generated here.

The upload's own name never becomes a path: only its extension (checked against the formats
``ingest`` reads) and a slug of letters, digits, ``-`` and ``_`` from its stem are used, followed
by a digest of the content, so the same file uploaded twice lands on the same name (and
``ingest`` then finds nothing new).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path, PurePath

from ingest.loaders import SUPPORTED_SUFFIXES

ACCEPTED_EXTENSIONS = tuple(sorted(SUPPORTED_SUFFIXES))  # exactly what ``ingest`` reads
_SLUG_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


class UploadRejected(ValueError):
    """An upload that is not stored (wrong type or too large); the message names the reason."""


def uploads_dir(store: Path) -> Path:
    """The folder uploads are copied into: ``<store>/uploads``.

    Args:
        store: the store folder.

    Returns:
        The uploads folder (created if missing).
    """
    folder = Path(store) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def safe_name(original_name: str, digest: str) -> str:
    """A file name built from an upload's name without any path in it.

    Args:
        original_name: the name the browser sent (may contain ``/``, ``..``, anything).
        digest: hex digest of the content.

    Returns:
        ``<slug>-<digest[:12]><ext>`` with ``ext`` one of ``ACCEPTED_EXTENSIONS``.

    Raises:
        UploadRejected: the extension is not one ``ingest`` reads.
    """
    leaf = PurePath(original_name.replace("\\", "/")).name
    ext = PurePath(leaf).suffix.lower()
    if ext not in ACCEPTED_EXTENSIONS:
        raise UploadRejected(
            f"{leaf or 'file'}: not a supported type (use {' '.join(ACCEPTED_EXTENSIONS)})"
        )
    stem = _SLUG_CHARS.sub("-", PurePath(leaf).stem).strip("-_")[:40] or "upload"
    return f"{stem}-{digest[:12]}{ext}"


def store_upload(temp_path: Path, original_name: str, store: Path, max_bytes: int) -> Path:
    """Copy one uploaded file into ``<store>/uploads`` under a generated name.

    Args:
        temp_path: where the web server put the uploaded bytes.
        original_name: the name the browser sent (used only for a slug and the extension).
        store: the store folder.
        max_bytes: largest accepted size.

    Returns:
        The path of the stored copy (always inside ``<store>/uploads``).

    Raises:
        UploadRejected: wrong type or too large.
    """
    size = Path(temp_path).stat().st_size
    if size > max_bytes:
        raise UploadRejected(
            f"{PurePath(original_name).name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit"
        )
    h = hashlib.sha256()
    with open(temp_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    folder = uploads_dir(store).resolve()
    target = (folder / safe_name(original_name, h.hexdigest())).resolve()
    if target.parent != folder:  # cannot happen with a generated name; checked all the same
        raise UploadRejected(f"{PurePath(original_name).name}: refused name")
    if not target.exists():
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(temp_path, tmp)
        tmp.replace(target)
    return target
