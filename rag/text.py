"""Text utilities every side of the product shares: sentences, words, [n] markers and dates.

Ingest cuts chunks on ``sentence_spans`` and the answer path quotes whole sentences with it, so a
quote always lines up with a chunk; BM25, the refusal gate, the context and citation support all
compare text through ``content_words``; ``MARKER`` is the one pattern of a citation marker; and
``parse_date`` is the one reading of a ``YYYY-MM-DD`` date.

Sentences: a rule-based splitter for news prose. A sentence ends at ``.``, ``!`` or ``?`` (plus
closing quotes/brackets) followed by a space and a capital, digit or opening quote, unless the word
before the period is a known abbreviation or an initial. A line break always ends a sentence
(normalised text keeps one paragraph a line).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

# --- sentences -------------------------------------------------------------------------------------
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


# --- words -----------------------------------------------------------------------------------------
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can could did didn't do does doesn't doing don't down
    during each few for from further had has have having he her here hers herself him himself his
    how i if in into is isn't it it's its itself just let me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own per same she should so some such than
    that the their theirs them themselves then there these they this those through to too under
    until up upon us very via was we were what when where which while who whom whose why will with
    would you your yours yourself yourselves
    said say says saying told tell tells according week weeks recently recent new newly year years
    today yesterday month months day days time ago one ones many much who's what's
    """.split()
)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def _stem(word: str) -> str:
    """A light, deterministic stemmer: plural endings, then one of -ing/-ed/-ion/-e, so that
    "violated", "violation" and "violates" meet, and "ceasefire"/"ceasefires" too."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed", "ion", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` with possessives removed (``Rhodes's`` -> ``rhodes``)."""
    out = []
    for w in _WORD.findall(text.lower()):
        w = w.replace("’", "'")
        if w.endswith("'s"):
            w = w[:-2]
        out.append(w)
    return out


def content_words(text: str) -> list[str]:
    """Stemmed, stopword-free words of ``text``, in order (duplicates kept).

    Args:
        text: any text (question, passage, answer sentence).

    Returns:
        The list of normalised content words.
    """
    return [_stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]

# --- [n] markers -------------------------------------------------------------------------------------
MARKER = re.compile(r"\[(?:passages?\s*)?(\d+(?:\s*[,;]\s*\d+)*)\]", re.IGNORECASE)
"""A citation marker: ``[1]`` as answers carry it, and the variants models write (``[2, 3]``,
``[Passage 4]``); group 1 holds the numbers."""

_SPACED_MARKER = re.compile(r"\s*" + MARKER.pattern, MARKER.flags)


def marker_numbers(match: re.Match) -> list[int]:
    """The numbers of one ``MARKER`` match (``[2, 3]`` -> ``[2, 3]``)."""
    return [int(x) for x in re.split(r"\s*[,;]\s*", match.group(1))]


def markers(text: str) -> list[int]:
    """All marker numbers in ``text`` in order of appearance (``[1]``, ``[2, 3]``)."""
    return [n for m in MARKER.finditer(text) for n in marker_numbers(m)]


def strip_markers(text: str) -> str:
    """``text`` with every ``[n]`` marker (and the space before it) removed."""
    return _SPACED_MARKER.sub("", text).strip()


# --- dates ---------------------------------------------------------------------------------------------
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def parse_date(value: Any) -> dt.date | None:
    """A ``date`` from a date, a datetime or a string starting ``YYYY-MM-DD`` (None and "" give None).

    Args:
        value: the date; a string may carry a time after the date (``2014-11-11T08:00``).

    Returns:
        The date, or None when there is none.

    Raises:
        ValueError: for anything else (a string that does not start with a valid date).
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    m = _DATE.match(str(value).strip())
    if not m:
        raise ValueError(f"not a date like 2014-11-11: {value!r}")
    return dt.date(int(m[1]), int(m[2]), int(m[3]))


# --- news normalisation ------------------------------------------------------------------------------
# How news writes one fact several ways: figures ("$400 million", "$400m", "400,000,000", "nine"),
# abbreviated months ("Nov. 24"), hyphenated or joined names ("Blink-182", "Blink 182"), acronyms
# ("U.K." / "UK" / "United Kingdom"). Grounding compares a claim with its passage through these.
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")
_MONTH_ABBR = re.compile(r"\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b\.?")


def expand_months(text: str) -> str:
    """``"Nov. 24"`` -> ``"November 24"``: abbreviated month names spelled out."""
    full = {m[:3]: m for m in _MONTH_NAMES}
    return _MONTH_ABBR.sub(lambda m: full[m.group(1)[:3]], text)


_NUMBER_WORDS = {
    w: i for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                      "ninety": 90, "hundred": 100, "dozen": 12})
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
           "k": 10**3, "m": 10**6, "mn": 10**6, "bn": 10**9, "b": 10**9, "tn": 10**12}
_FIGURE = re.compile(
    r"(?P<cur>[$£€¥])?\s?(?P<num>\d[\d,]*(?:\.\d+)?|\b(?:" + "|".join(_NUMBER_WORDS) + r")\b)"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|mn|bn|tn|[kmb])\b)?",
    re.IGNORECASE,
)


def _canonical(value: Decimal) -> str:
    return format(value.normalize(), "f")


def figures(text: str, spelled: bool = True) -> list[frozenset[str]]:
    """The figures of ``text``, each as the set of values it can be read as (canonical digits).

    ``"$400 million"``, ``"$400m"`` and ``"400,000,000"`` all read 400000000; ``"2.5 million"``
    reads 2500000; ``"nine"`` reads 9. A bare single-letter scale without a currency sign is
    ambiguous ("100m" may be metres) and reads both ways. Thousands separators and trailing zero
    decimals never matter (``5,000.00`` reads 5000).

    Args:
        text: any text.
        spelled: also read number words ("nine"); a claim's "one of the ..." asserts no figure.

    Returns:
        One frozenset of readings per figure, in order.
    """
    out = []
    for m in _FIGURE.finditer(text):
        raw = m.group("num").lower()
        if raw in _NUMBER_WORDS and not spelled:
            continue
        try:
            value = Decimal(_NUMBER_WORDS[raw]) if raw in _NUMBER_WORDS else Decimal(raw.replace(",", ""))
        except InvalidOperation:
            continue
        scale = (m.group("scale") or "").lower()
        readings = {_canonical(value)}
        if scale:
            scaled = _canonical(value * _SCALES[scale])
            if len(scale) == 1 and not m.group("cur"):
                readings.add(scaled)
            else:
                readings = {scaled}
        out.append(frozenset(readings))
    return out


def without_figures(text: str) -> str:
    """``text`` with its written figures (digits, with their currency and scale) taken out, so that
    the words left can be compared apart from the figures (see ``figures``)."""
    return _FIGURE.sub(lambda m: " " if m.group("num")[0].isdigit() else m.group(), text)


def figure_values(text: str) -> set[str]:
    """Every reading of every figure of ``text`` (see ``figures``)."""
    return {r for f in figures(text) for r in f}


_ACRONYM_SKIP = {"of", "and", "the", "for", "de", "du", "la", "&"}


def initials(phrase: str) -> str:
    """The acronym a name phrase abbreviates to: ``"United Kingdom"`` -> ``"uk"``, ``"United States
    of America"`` -> ``"usa"``; a phrase that is an acronym already gives its letters
    (``"U.K."`` -> ``"uk"``)."""
    tokens = [t for t in re.findall(r"[^\W_]+", phrase) if t.lower() not in _ACRONYM_SKIP]
    if all(len(t) == 1 or t.isupper() for t in tokens):
        return "".join(tokens).lower()
    return "".join(t[0] for t in tokens).lower()


def joined_words(text: str) -> set[str]:
    """Lower-cased words of ``text`` and each adjacent pair written together, so that "Blink 182",
    "Blink-182" and "Blink182" meet (``words`` splits at hyphens)."""
    ws = words(text)
    return set(ws) | {a + b for a, b in zip(ws, ws[1:])}


# Countries news names in more than one way, each set one place (acronyms written as acronyms).
PLACE_NAMES = (
    ("United Kingdom", "UK", "Britain", "Great Britain", "British"),
    ("United States", "US", "USA", "America", "American"),
    ("Netherlands", "Holland", "Dutch"),
    ("Russia", "Russian Federation"),
    ("Czech Republic", "Czechia"),
    ("Myanmar", "Burma"),
    ("Turkey", "Türkiye"),
    ("Ivory Coast", "Côte d'Ivoire"),
    ("Eswatini", "Swaziland"),
    ("North Korea", "DPRK"),
    ("United Arab Emirates", "UAE", "Emirates"),
)


def _place_key(name: str) -> str:
    letters = name.replace(".", "")
    if len(letters) >= 2 and letters.isalpha() and letters.isupper():
        return letters.lower()
    return " ".join(w for w in words(name) if w != "the")


_PLACE_BY_KEY = {_place_key(n): group for group in PLACE_NAMES for n in group}


def place_names(name: str) -> tuple[str, ...]:
    """The other names of a country that news writes in several ways: "United Kingdom", "U.K.",
    "UK", "Britain", "Great Britain", "British" are one place (likewise "United States" / "U.S." /
    "America", "Netherlands" / "Holland" / "Dutch", "Myanmar" / "Burma", ...).

    Args:
        name: a name as written ("The United Kingdom", "U.K.", "Britain").

    Returns:
        Its other names as written (acronyms in capitals); empty for a name not in the table.
    """
    key = _place_key(name)
    return tuple(n for n in _PLACE_BY_KEY.get(key, ()) if _place_key(n) != key)


_DEMONYM_ENDINGS = ("n", "an", "ian", "ean", "ese", "i", "ish")


def same_place_word(a: str, b: str) -> bool:
    """Whether two lower-cased words are one place and its people or adjective: "korea" / "korean",
    "europe" / "european", "china" / "chinese", "canada" / "canadian", "israel" / "israeli"
    (either order; words of four letters or more, so "ira" is not "iran").

    Args:
        a: a word.
        b: another word.

    Returns:
        True when one is the other with a demonym ending (after a final vowel dropped, if any).
    """
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    if len(short) < 4:
        return False
    stems = [short] + ([short[:-1]] if short[-1] in "aeiouy" else [])
    return any(long_.startswith(s) and long_[len(s):] in _DEMONYM_ENDINGS for s in stems)
