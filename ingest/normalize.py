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
_SAMPLE = 8192  # bytes looked at to tell text from binary
# UTF-16 without BOM: at least this share of one parity's bytes are NUL, and the other parity
# has at most this many NULs per NUL of the first.
_UTF16_MIN_NUL_SHARE = 0.25
_UTF16_MAX_OFF_PARITY = 0.1
_MAX_CONTROL_SHARE = 0.01
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_ESCAPED = re.compile(r"[\udc80-\udcff]")  # bytes kept by the "surrogateescape" error handler


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
    """True when ``data`` holds NUL bytes, as images, archives, executables and UTF-16 text do.

    Args:
        data: the raw bytes (the first few KB suffice).

    Returns:
        Whether the data is text only if it turns out to be UTF-16 (see :func:`decode_bytes`).
    """
    sample = data[:_SAMPLE]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text legitimately holds NULs
        return False
    return b"\x00" in sample


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """``(text, "LE" or "BE")`` when BOM-less bytes are evidently UTF-16, else None.

    UTF-16 text in a Latin script has a NUL in every other byte (the high byte of ASCII letters):
    the NULs must sit almost all on one parity, be frequent there, and the whole must decode
    cleanly into printable text. Images, archives and executables fail one of these tests.
    """
    if len(data) % 2:
        return None
    sample = data[:_SAMPLE]
    half = len(sample) // 2
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if max(even, odd) < _UTF16_MIN_NUL_SHARE * half or min(even, odd) > _UTF16_MAX_OFF_PARITY * max(even, odd):
        return None
    order = "LE" if odd > even else "BE"
    try:
        text = data.decode(f"utf-16-{order.lower()}")
    except UnicodeDecodeError:
        return None
    if "\x00" in text or len(_CONTROL.findall(text)) > _MAX_CONTROL_SHARE * len(text):
        return None
    return text, order


def _mostly_utf8(data: bytes) -> tuple[str, int] | None:
    """``(text, bad bytes)`` when invalid UTF-8 bytes are a few slips in evident UTF-8, else None.

    Evidence of UTF-8 is its multi-byte characters: text in a legacy single-byte encoding has
    (almost) none that decode, so there the bad bytes outnumber them. Each bad byte becomes
    U+FFFD, so the words around it stay intact.
    """
    text = data.decode("utf-8", "surrogateescape")  # each bad byte -> one lone surrogate
    text, bad = _ESCAPED.subn("\ufffd", text)
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    good = non_ascii - bad
    if good <= 0 or bad > good:
        return None
    return text.removeprefix(_BOM), bad


def _legacy(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` as detected by charset-normalizer; raises DecodeError when none fits."""
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
    return str(best).removeprefix(_BOM), best.encoding


def decode_bytes(data: bytes) -> tuple[str, str | None]:
    """Decode file bytes as text.

    UTF-8 (with or without BOM) is expected. Otherwise, in this order: UTF-16 without a
    byte-order mark; UTF-8 with a few bad bytes (replaced by U+FFFD); a legacy encoding detected
    with charset-normalizer. Bytes with NULs that are not UTF-16 are binary.

    Args:
        data: the file's bytes.

    Returns:
        ``(text, warning)`` where ``warning`` is ``None`` for clean UTF-8 and otherwise a short
        phrase saying how the bytes were read (callers pass it on), e.g.
        ``"not UTF-8; decoded as cp1252"`` or ``"not valid UTF-8; 2 bad bytes replaced"``.

    Raises:
        DecodeError: when the bytes are binary or no encoding fits.
    """
    if looks_binary(data):
        utf16 = _utf16_without_bom(data)
        if utf16 is None:
            raise DecodeError("binary file, not text")
        text, order = utf16
        return text, f"not UTF-8; decoded as UTF-16 {order} (no byte-order mark)"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    mostly = _mostly_utf8(data)
    if mostly is not None:
        text, bad = mostly
        return text, f"not valid UTF-8; {bad} bad byte{'s' if bad != 1 else ''} replaced"
    text, encoding = _legacy(data)
    return text, f"not UTF-8; decoded as {encoding}"
