"""Loaders: files and folders in, normalised ``Article`` records (or ``Problem`` lines) out.

Supported: ``.txt``/``.md`` (optional YAML front matter; first non-empty line is the title),
``.html``/``.htm`` (main text, title and date via trafilatura), ``.json`` (one article or a
list), ``.jsonl`` (one article a line), and folders (recursively, supported files only).

Hostile input is bounded: only regular files are read (never a FIFO, device or socket, which
could block or never end), at most ``max_bytes`` of them; YAML front matter is size- and
depth-limited and may not use aliases (an alias bomb expands a few bytes into gigabytes); JSON
nested too deeply is refused. Each such file becomes one ``Problem`` and the others still load.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from ingest.normalize import decode_bytes, normalize_field, normalize_text
from ingest.problems import Problem
from rag.text import parse_date
from rag.types import Article

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | JSONL_SUFFIXES

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_FRONT_MATTER_DEPTH = 20

_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)

Loaded = Article | Problem


def _date_str(value: Any) -> str | None:
    """A publication date as ``YYYY-MM-DD`` (None when absent or not a date)."""
    try:
        day = parse_date(value)
    except ValueError:
        return None
    return day.isoformat() if day else None


def _authors(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else re.split(r"\s*;\s*", str(value))
    return [a for a in (normalize_field(x) for x in items) if a]


def _opt(value: Any) -> str | None:
    text = normalize_field(value)
    return text or None


def article_from_record(record: Any, default_id: str, path: str) -> Article:
    """Build an ``Article`` from a JSON-like record.

    Args:
        record: mapping with ``text`` and optionally ``id``, ``title``, ``url``, ``published``,
            ``authors``, ``source``.
        default_id: id used when the record has none.
        path: file the record came from.

    Returns:
        The normalised article.

    Raises:
        ValueError: when the record is not an object or has no text.
    """
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    raw = record.get("text")
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("record has no text")
    text = normalize_text(raw)
    if not text:
        raise ValueError("record has no text")
    rid = record.get("id")
    article_id = normalize_field(rid) if rid not in (None, "") else default_id
    return Article(
        id=article_id,
        title=normalize_field(record.get("title")),
        text=text,
        url=_opt(record.get("url")),
        published=_date_str(record.get("published", record.get("date"))),
        authors=_authors(record.get("authors", record.get("author"))),
        source=_opt(record.get("source")),
        path=path,
        id_from_path=rid in (None, ""),
    )


class _FrontMatterRefused(ValueError):
    """Front matter beyond what the loader accepts (aliases, nesting, size)."""


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases and with bounded nesting.

    Aliases (``*name``) are refused outright: front matter has no use for them, and nested
    aliases are how a few hundred bytes expand into gigabytes ("billion laughs"). The nesting
    bound keeps the recursive composer far from Python's recursion limit.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise _FrontMatterRefused("front matter uses YAML aliases (*name), which are not supported")
        self._depth += 1
        try:
            if self._depth > MAX_FRONT_MATTER_DEPTH:
                raise _FrontMatterRefused(f"front matter nested too deeply (more than {MAX_FRONT_MATTER_DEPTH} levels)")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _parse_front_matter(block: str) -> Any:
    """The YAML value of a front matter block; raises ValueError with a user-facing reason."""
    loader = _FrontMatterLoader(block)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as err:
        raise ValueError(f"malformed YAML front matter ({str(err).splitlines()[0]})") from None
    except _FrontMatterRefused:
        raise
    except (ValueError, OverflowError) as err:  # e.g. a timestamp with month 13
        raise ValueError(f"malformed YAML front matter ({_first_clause(err)})") from None
    finally:
        loader.dispose()


def _first_clause(err: Exception) -> str:
    """The first clause of an error message, for a short reason."""
    return str(err).splitlines()[0].split(":")[0].strip() or type(err).__name__


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """``(front matter mapping, body)``; raises ValueError on malformed or oversized YAML."""
    if not text.startswith("---"):
        return {}, text
    first_nl = text.find("\n")
    if first_nl < 0 or text[:first_nl].strip() != "---":
        return {}, text
    end = _FRONT_MATTER_END.search(text, first_nl + 1)
    if end is None:
        return {}, text
    block = text[first_nl + 1 : end.start()]
    if len(block.encode("utf-8", "replace")) > MAX_FRONT_MATTER_BYTES:
        raise _FrontMatterRefused(f"front matter too long (the limit is {MAX_FRONT_MATTER_BYTES // 1024} KB)")
    meta = _parse_front_matter(block) or {}
    if not isinstance(meta, dict):
        raise ValueError("front matter is not a mapping of keys to values")
    return meta, text[end.end() :]


def _title_from_text(text: str, markdown: bool) -> str:
    for line in text.split("\n"):
        if line.strip():
            return line.lstrip("#").strip() if markdown else line.strip()
    return ""


def _load_text(path: Path, text: str) -> Iterator[Loaded]:
    meta, body = _split_front_matter(text.replace("\r\n", "\n"))
    record = {k: v for k, v in meta.items() if k in {"id", "title", "url", "published", "date", "authors", "author", "source"}}
    record["text"] = body
    article = article_from_record(record, path.stem, str(path))
    if not article.title:
        article.title = normalize_field(_title_from_text(article.text, path.suffix.lower() != ".txt"))
    yield article


def html_record(text: str) -> dict[str, Any]:
    """The main text and metadata of an HTML page, found by trafilatura.

    Args:
        text: the page's HTML.

    Returns:
        A record for ``article_from_record``: ``text``, ``title``, ``url``, ``published``,
        ``authors``, ``source`` (the site's name); missing values are None.

    Raises:
        ValueError: the HTML cannot be parsed, or holds no article text.
    """
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, include_tables=False)
    except Exception as err:  # the parser's own failure on odd markup, not ours
        raise ValueError(f"cannot parse the HTML ({type(err).__name__})") from None
    if doc is None:
        raise ValueError("no article text found in the HTML")
    data = doc if isinstance(doc, dict) else doc.as_dict()
    if not (data.get("text") or "").strip():
        raise ValueError("no article text found in the HTML")
    return {
        "text": data.get("text"),
        "title": data.get("title"),
        "url": data.get("url"),
        "published": data.get("date"),
        "authors": data.get("author"),
        "source": data.get("sitename"),
    }


def _load_html(path: Path, text: str) -> Iterator[Loaded]:
    yield article_from_record(html_record(text), path.stem, str(path))


def _parse_json(text: str, what: str, with_line: bool = True) -> Any:
    """``json.loads`` with user-facing errors.

    Args:
        text: the JSON text.
        what: how the reason names it ("JSON", "JSON line").
        with_line: whether the position names the line (not for one line of a .jsonl).

    Returns:
        The parsed value.

    Raises:
        ValueError: malformed (message, line and column) or nested too deeply for the parser.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        where = f"line {err.lineno}, column {err.colno}" if with_line else f"column {err.colno}"
        joint = " " if err.msg.endswith(" at") else " at "  # "Unterminated string starting at"
        raise ValueError(f"malformed {what} ({err.msg}{joint}{where})") from None
    except ValueError as err:  # e.g. an integer of more digits than Python converts
        raise ValueError(f"malformed {what} ({_first_clause(err)})") from None
    except RecursionError:
        raise ValueError(f"{what} nested too deeply") from None


def _record_or_problem(record: Any, default_id: str, path: Path, line: int | None = None,
                       label: str = "") -> Loaded:
    """``article_from_record``, or a Problem for a record that is not an article."""
    try:
        return article_from_record(record, default_id, str(path))
    except (ValueError, RecursionError) as err:  # RecursionError: a deeply nested field value
        reason = str(err) if isinstance(err, ValueError) else "a field is nested too deeply"
        return Problem(path=str(path), line=line, reason=f"{label}{reason}")


def _load_json(path: Path, text: str) -> Iterator[Loaded]:
    data = _parse_json(text, "JSON")
    if isinstance(data, list):
        if not data:
            raise ValueError("empty JSON list, no articles")
        for i, record in enumerate(data):
            yield _record_or_problem(record, f"{path.stem}-{i}", path, label=f"item {i}: ")
    else:
        yield _record_or_problem(data, path.stem, path)


def _load_jsonl(path: Path, text: str) -> Iterator[Loaded]:
    found = False
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        found = True
        try:
            record = _parse_json(line, "JSON line", with_line=False)
        except ValueError as err:
            yield Problem(path=str(path), line=lineno, reason=str(err))
            continue
        yield _record_or_problem(record, f"{path.stem}-{lineno}", path, line=lineno)
    if not found:
        raise ValueError("no records in the file")


def _size(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def _file_kind(mode: int) -> str:
    """What a non-regular file is, as a phrase ("a FIFO", "a character device", ...)."""
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "a special file")


def _not_regular(mode: int) -> str | None:
    """The reason to refuse a file of this mode, None for a regular file."""
    return None if stat.S_ISREG(mode) else f"not a regular file ({_file_kind(mode)})"


def _os_reason(err: OSError) -> str:
    """A user-facing phrase for an error while opening or reading a file."""
    if isinstance(err, FileNotFoundError):
        return "no such file"
    if isinstance(err, PermissionError):
        return "permission denied, cannot read the file"
    return f"cannot read the file ({err.strerror or err})"


def _too_large(size: float, max_bytes: int) -> str:
    return f"file too large ({_size(size)}; the limit is {_size(max_bytes)})"


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``.

    The file (symlinks followed) is checked with ``stat`` before it is opened, since opening a
    FIFO blocks until someone writes to it; it is opened non-blocking and checked again, in
    case it was swapped meanwhile; at most ``max_bytes + 1`` bytes are read, so a file that
    grows after the check (or never ends) cannot exhaust memory.

    Args:
        path: the file.
        max_bytes: larger files are refused.

    Returns:
        The file's bytes.

    Raises:
        ValueError: with a user-facing reason (no such file, not a regular file, too large,
            cannot read).
    """
    try:
        reason = _not_regular(os.stat(path).st_mode)
        if reason:
            raise ValueError(reason)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            reason = _not_regular(info.st_mode)
            if reason:
                raise ValueError(reason)
            if info.st_size > max_bytes:
                raise ValueError(_too_large(info.st_size, max_bytes))
            data = f.read(max_bytes + 1)
    except OSError as err:
        raise ValueError(_os_reason(err)) from None
    if len(data) > max_bytes:
        raise ValueError(f"file too large (over the limit of {_size(max_bytes)})")
    return data


def load_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Loaded]:
    """Load one file.

    Hostile content (malformed, oversized, deeply nested, special files) never raises: it
    becomes ``Problem`` lines. Exceptions that are not about the content (programming errors
    such as TypeError) are not caught.

    Args:
        path: the file.
        max_bytes: larger files are refused.

    Returns:
        An iterator of ``Article`` records and ``Problem`` lines (errors and warnings).
    """
    shown = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield Problem(path=shown, reason=f"unsupported file type '{suffix or path.name}' "
                      f"(expected one of {', '.join(sorted(SUPPORTED_SUFFIXES))})")
        return
    loader = (
        _load_text if suffix in TEXT_SUFFIXES
        else _load_html if suffix in HTML_SUFFIXES
        else _load_json if suffix in JSON_SUFFIXES
        else _load_jsonl
    )
    try:
        data = read_bounded(path, max_bytes)
        if not data.strip():
            raise ValueError("empty file")
        text, warning = decode_bytes(data)
        if warning is not None:
            yield Problem(path=shown, reason=warning, fatal=False)
        yield from loader(path, text)
    except ValueError as err:  # includes DecodeError
        yield Problem(path=shown, reason=str(err))
    except (RecursionError, MemoryError, OverflowError) as err:  # last resort: content beyond a bound
        yield Problem(path=shown, reason=f"cannot load the file ({type(err).__name__})")


def _expand_folder(folder: Path) -> Iterator[Path | Problem]:
    """Supported, non-hidden files under ``folder``, sorted; special files as Problems.

    Folders (also those reached through a symlink) are not entered twice; a FIFO, device or
    socket is named rather than opened.
    """
    found = sorted(
        p for p in folder.rglob("*")
        if p.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    for p in found:
        try:
            mode = os.stat(p).st_mode
        except FileNotFoundError:
            if p.is_symlink():
                yield p  # a dangling link: load_file names it
            continue
        except OSError as err:  # e.g. a symlink loop
            yield Problem(path=str(p), reason=_os_reason(err))
            continue
        if stat.S_ISDIR(mode):
            continue
        reason = _not_regular(mode)
        yield Problem(path=str(p), reason=reason) if reason else p


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path | Problem]:
    """Expand paths: files as given, folders recursively (supported, non-hidden files, sorted).

    Only regular files are yielded (symlinks followed); FIFOs, devices and sockets become
    Problems without being opened, so nothing downstream blocks on them.

    Args:
        paths: files and folders.

    Returns:
        An iterator of file paths, and ``Problem`` lines for paths that do not exist or are not
        regular files.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _expand_folder(path)
            continue
        try:
            reason = _not_regular(os.stat(path).st_mode)
        except FileNotFoundError:
            yield path if path.is_symlink() else Problem(path=str(raw), reason="no such file or folder")
            continue
        except OSError as err:
            yield Problem(path=str(raw), reason=_os_reason(err))
            continue
        yield Problem(path=str(raw), reason=reason) if reason else path


def load_paths(paths: Iterable[str | os.PathLike[str]], max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Loaded]:
    """Load every article under ``paths``.

    Args:
        paths: files and folders.
        max_bytes: per-file size limit.

    Returns:
        An iterator of ``Article`` records and ``Problem`` lines, in file order.
    """
    for item in iter_files(paths):
        if isinstance(item, Problem):
            yield item
        else:
            yield from load_file(item, max_bytes=max_bytes)
