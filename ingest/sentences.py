"""Sentence boundaries as character spans, so chunks can be cut exactly on them.

A rule-based splitter for news prose: a sentence ends at ``.``, ``!`` or ``?`` (plus closing
quotes/brackets) followed by a space and a capital, digit or opening quote, unless the word
before the period is a known abbreviation or an initial. A line break always ends a sentence
(normalised text keeps one paragraph a line).
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "col", "lt", "sgt", "capt", "cmdr",
    "adm", "maj", "st", "jr", "sr", "inc", "co", "corp", "ltd", "vs", "no", "nos", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n",
    "e.g", "i.e", "etc", "fig", "vol", "rev", "hon", "pres", "supt", "dept", "est", "approx",
    "d.c", "a.m", "p.m", "ft", "mt", "ave", "blvd", "rd",
}
# End punctuation, optional closers, then whitespace, then a plausible sentence start.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9À-Ý])")
_WORD_BEFORE = re.compile(r"([\w.]+)\.$")


def _is_abbreviation(line: str, dot_end: int) -> bool:
    """Whether the period ending at ``dot_end`` (exclusive) closes an abbreviation or initial."""
    m = _WORD_BEFORE.search(line, max(0, dot_end - 24), dot_end)
    if not m:
        return False
    word = m.group(1)
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True  # an initial: "John F. Kennedy"
    return word.lower() in _ABBREVIATIONS


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences.

    Args:
        text: normalised text (one paragraph a line).

    Returns:
        ``(start, end)`` spans in order; each ``text[start:end]`` is a sentence without
        surrounding whitespace; the whitespace between spans holds no other characters.
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        start = 0
        n = len(line)
        while start < n and line[start].isspace():
            start += 1
        for m in _BOUNDARY.finditer(line):
            end = m.end()
            if end <= start:
                continue
            if line[m.start()] == "." and m.end() - m.start() == 1 and _is_abbreviation(line, m.end()):
                continue
            spans.append((offset + start, offset + end))
            start = end
            while start < n and line[start].isspace():
                start += 1
        stop = n
        while stop > start and line[stop - 1].isspace():
            stop -= 1
        if stop > start:
            spans.append((offset + start, offset + stop))
        offset += n + 1
    return spans
