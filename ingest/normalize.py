"""Text normalisation and byte decoding: the one place where article text is cleaned.

Every loader passes its text through :func:`normalize_text`, so chunk offsets, quotes and hashes
all refer to the same canonical string.
"""

from __future__ import annotations

import re
import unicodedata

from charset_normalizer import from_bytes

_BOM = "\ufeff"
# Characters that carry no text: zero-width marks and C0/C1 controls other than tab and newline.
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# Horizontal whitespace (everything \s matches except the line break itself).
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_RUN = re.compile(r"\n{3,}")
_PREFERRED = ("cp1252",)
_NEAR_TIE = 0.05


class DecodeError(ValueError):
    """Raised when bytes are not text in any encoding we can recognise."""


def normalize_text(text: str) -> str:
    """Canonical form of an article text.

    Unicode NFC; line breaks unified to ``\\n``; whitespace runs inside a line collapsed to one
    space and lines stripped; paragraph breaks kept as exactly one blank line; invisible
    characters removed; no leading or trailing blank lines.

    Args:
        text: raw text.

    Returns:
        The normalised text (possibly empty).
    """
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = _INVISIBLE.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = _BLANK_RUN.sub("\n\n", text)
    return text.strip("\n")


def normalize_field(value: object) -> str:
    """A one-line metadata value (title, source, ...): normalised, line breaks folded to spaces.

    Args:
        value: any value; ``None`` gives ``""``.

    Returns:
        The cleaned single-line string.
    """
    if value is None:
        return ""
    return " ".join(normalize_text(str(value)).split())


def looks_binary(data: bytes) -> bool:
    """True when ``data`` is evidently not text (NUL bytes, as in images, archives, executables).

    Args:
        data: the raw bytes (the first few KB suffice).

    Returns:
        Whether the data should be rejected as binary.
    """
    sample = data[:8192]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text legitimately holds NULs
        return False
    return b"\x00" in sample


def decode_bytes(data: bytes) -> tuple[str, str | None]:
    """Decode file bytes as text.

    UTF-8 (with or without BOM) is expected; anything else is detected with charset-normalizer.

    Args:
        data: the file's bytes.

    Returns:
        ``(text, encoding)`` where ``encoding`` is ``None`` for UTF-8 and otherwise the detected
        encoding's name (callers warn about it).

    Raises:
        DecodeError: when the bytes are binary or no encoding fits.
    """
    if looks_binary(data):
        raise DecodeError("binary file, not text")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    matches = from_bytes(data)
    best = matches.best()
    if best is None or best.encoding is None:
        raise DecodeError("not text in any recognised encoding")
    # Short texts fit several single-byte code pages about equally well; news in a legacy
    # encoding is most often Windows-1252, so it wins a near tie.
    for match in matches:
        if match.encoding in _PREFERRED and match.chaos <= best.chaos + _NEAR_TIE:
            best = match
            break
    text = str(best)
    if text.startswith(_BOM):
        text = text[1:]
    return text, best.encoding
