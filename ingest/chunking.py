"""Sentence-aligned chunks with exact character offsets into the article text.

Chunks are runs of whole sentences up to a target size in characters, adjacent chunks sharing
``overlap`` whole sentences. A chunk always fits the embedder's token window: a single sentence
too long for the window is the only thing ever split, and then only between words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.quotes import find_quotes
from rag.text import sentence_spans
from rag.types import Article, Chunk, content_hash

TokenCounter = Callable[[list[str]], list[int]]
"""Counts the content tokens (no special tokens) of each text, as the embedder sees them."""

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int


def _approx_tokens(texts: list[str]) -> list[int]:
    """A conservative stand-in when no tokenizer is given: about 1 token per 3 characters."""
    return [len(t) // 3 + 1 for t in texts]


def _split_long(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[_Unit]:
    """Split one over-long sentence between words into pieces of at most ``budget`` tokens."""
    words = [(start + m.start(), start + m.end()) for m in _WORD.finditer(text, start, end)]
    counts = count([text[s:e] for s, e in words])
    pieces: list[_Unit] = []
    cur_start, cur_end, cur_tokens = None, None, 0
    for (s, e), n in zip(words, counts):
        if cur_start is not None and cur_tokens + n > budget:
            pieces.append(_Unit(cur_start, cur_end, cur_tokens))
            cur_start, cur_tokens = None, 0
        if cur_start is None:
            cur_start = s
        cur_end, cur_tokens = e, cur_tokens + n
        # A single "word" longer than the window (a URL, a run of digits) stays whole: the
        # embedder truncates it, but no character of the text is lost from the store.
    if cur_start is not None:
        pieces.append(_Unit(cur_start, cur_end, cur_tokens))
    return pieces


def _units(text: str, budget: int, count: TokenCounter) -> list[_Unit]:
    spans = sentence_spans(text)
    counts = count([text[s:e] for s, e in spans]) if spans else []
    units: list[_Unit] = []
    for (s, e), n in zip(spans, counts):
        if n > budget:
            units.extend(_split_long(text, s, e, budget, count))
        else:
            units.append(_Unit(s, e, n))
    return units


def chunk_id(article_id: str, text: str, occurrence: int = 0) -> str:
    """Stable chunk id from the article id and the chunk's content.

    Args:
        article_id: the article's id.
        text: the chunk text.
        occurrence: 0 for the first chunk with this text in the article, 1 for a repeat, ...

    Returns:
        A 16-hex-digit id.
    """
    key = f"{article_id}\x1f{text}" if occurrence == 0 else f"{article_id}\x1f{text}\x1f{occurrence}"
    return content_hash(key)


def _spans(units: Sequence[_Unit], chunk_size: int, overlap: int, budget: int) -> list[tuple[int, int]]:
    """Group units into ``(first, last_exclusive)`` index ranges."""
    groups: list[tuple[int, int]] = []
    i, n = 0, len(units)
    while i < n:
        j, tokens = i, 0
        while j < n:
            if j > i and (units[j].end - units[i].start > chunk_size or tokens + units[j].tokens > budget):
                break
            tokens += units[j].tokens
            j += 1
        groups.append((i, j))
        if j >= n:
            break
        # Start the next chunk with up to `overlap` sentences of this one, as long as the
        # next new sentence still fits beside them.
        k = min(overlap, j - i - 1)
        while k > 0:
            first = j - k
            size = units[j].end - units[first].start
            tok = sum(u.tokens for u in units[first : j + 1])
            if size <= chunk_size and tok <= budget:
                break
            k -= 1
        i = j - k
    return groups


def chunk_article(
    article: Article,
    chunk_size: int = 600,
    chunk_overlap: int = 1,
    count_tokens: TokenCounter | None = None,
    max_tokens: int = 254,
) -> list[Chunk]:
    """Cut an article into sentence-aligned chunks.

    Args:
        article: the normalised article.
        chunk_size: target chunk length in characters (a single longer sentence stays whole).
        chunk_overlap: whole sentences repeated at the start of the next chunk.
        count_tokens: content-token counter of the embedder (see ``rag.embeddings``); a
            conservative character estimate when omitted.
        max_tokens: content tokens allowed per chunk (the embedder's window minus its special
            tokens).

    Returns:
        Chunks in order; ``article.text[c.start:c.end] == c.text`` for each; each carries the
        article's quotations that overlap it (``rag.quotes.find_quotes``).
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    if chunk_overlap < 0:
        raise ValueError("chunk_overlap must not be negative")
    count = count_tokens or _approx_tokens
    text = article.text
    units = _units(text, max_tokens, count)
    quotes = find_quotes(text)
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for position, (i, j) in enumerate(_spans(units, chunk_size, chunk_overlap, max_tokens)):
        start, end = units[i].start, units[j - 1].end
        piece = text[start:end]
        occurrence = seen.get(piece, 0)
        seen[piece] = occurrence + 1
        chunks.append(Chunk.of_span(
            article, start, end, id=chunk_id(article.id, piece, occurrence), position=position, quotes=quotes
        ))
    return chunks
