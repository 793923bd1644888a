"""Stage 5, grounding: every claim of an answer kept only with a verbatim quote that supports it.

A claim (a sentence of the answer) keeps a citation only when the quoted sentence(s) support it:
enough of the claim's content words occur in the quote (``support`` >= threshold), the quote (or
its title) holds the names and numbers the claim asserts (``unsupported_names``), and a bare
answer's passage is about the question. What fails is dropped; markers are renumbered 1..m.

Sentences that instruct the assistant or the reader (``rag.injection``) never support a claim: a
claim they alone support is dropped, and reported as such (``Verified.instructed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.context import Passage, shown_title
from rag.injection import is_instruction
from rag.text import MARKER, content_words, markers, sentence_spans, strip_markers
from rag.types import Chunk, Citation


def support(claim: str, quote: str) -> float:
    """Share of the claim's distinct content words that occur in the quote (0..1).

    A claim with no content words (a bare "$5") is measured on its plain words instead.

    Args:
        claim: an answer sentence, markers removed.
        quote: candidate supporting text.

    Returns:
        The support score; 0 when the claim has no words at all.
    """
    c = set(content_words(claim))
    if c:
        return len(c & set(content_words(quote))) / len(c)
    # a bare short answer ("$5", "No"): its plain words must all be in the quote
    bare = set(re.findall(r"\w+", claim.lower()))
    if not bare:
        return 0.0
    return len(bare & set(re.findall(r"\w+", quote.lower()))) / len(bare)


_NAME = re.compile(r"(?<![\w’'-])[A-Z][\w’'&-]*")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _numbers(text: str) -> set[str]:
    """Numbers of ``text`` without thousands separators or trailing zero decimals (5,000.00 -> 5000)."""
    out = set()
    for token in _NUMBER.findall(text):
        n = token.replace(",", "")
        if "." in n:
            n = n.rstrip("0").rstrip(".")
        out.add(n)
    return out


def names_and_numbers(text: str) -> set[str]:
    """Normalised capitalised words and numbers of ``text``; the first word is not taken as a name
    (every sentence starts with a capital): "Kobe Bryant paid $5,000" -> bryant, 5000."""
    names = _NAME.findall(text)
    if names and text.lstrip(" \"'“‘*").startswith(names[0]):
        names = names[1:]
    out = _numbers(text)
    for name in names:
        out.update(content_words(name))
    return out


_MONTHS = {m[:3]: m for m in ("January", "February", "March", "April", "May", "June", "July", "August",
                               "September", "October", "November", "December")}
_MONTH_ABBR = re.compile(r"\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b\.?")


def _expand_months(text: str) -> str:
    """"Nov. 24" -> "November 24", so a claim may spell out a month its quote abbreviates."""
    return _MONTH_ABBR.sub(lambda m: _MONTHS[m.group(1)[:3]], text)


def unsupported_names(claim: str, evidence: str, question: str = "") -> set[str]:
    """Names and numbers of ``claim`` found neither in ``evidence`` nor in ``question``.

    Word overlap alone lets "Kobe Bryant was found liable in a sexual battery case" lean on a
    quote about someone else's sexual abuse case; the people, places and figures a claim names
    must be in the passage shown (or its title). Names the question already uses are exempt
    ("Which Ivy League school ...?" answered "Dartmouth is the Ivy League school ...").
    """
    evidence, question = _expand_months(evidence), _expand_months(question)
    have = set(content_words(evidence)) | _numbers(evidence) | set(content_words(question)) | _numbers(question)
    return names_and_numbers(_expand_months(claim)) - have


def instruction_sentences(chunks: list[Chunk]) -> list[str]:
    """The sentences (and titles) of ``chunks`` that are instructions, each once, in order.

    Args:
        chunks: retrieved chunks.

    Returns:
        The instruction sentences (see ``rag.injection``).
    """
    out: dict[str, None] = {}
    for c in chunks:
        if c.title and is_instruction(c.title):
            out[c.title] = None
        for s, e in sentence_spans(c.text):
            if is_instruction(c.text[s:e]):
                out[c.text[s:e]] = None
    return list(out)



SHORT_CLAIM_WORDS = 4

_LEADING_MARKERS = re.compile(rf"^(?:\s*{MARKER.pattern})+", MARKER.flags)


def claims(answer: str) -> list[tuple[str, list[int]]]:
    """Split an answer into claims: ``(sentence without markers, cited numbers)``.

    Markers written after the full stop ("... ceasefire. [1]") belong to the sentence before.
    """
    sentences = [answer[s:e] for s, e in sentence_spans(answer)]
    merged: list[str] = []
    for sentence in sentences:
        lead = _LEADING_MARKERS.match(sentence)
        if lead and merged:
            merged[-1] += " " + lead.group().strip()
            sentence = sentence[lead.end():].strip()
        if strip_markers(sentence):
            merged.append(sentence)
        elif merged:
            merged[-1] += " " + sentence
    return [(strip_markers(s), markers(s)) for s in merged]


@dataclass
class Verified:
    """The result of verifying an answer against its passages."""

    text: str
    citations: list[Citation]
    dropped: list[str] = field(default_factory=list)
    instructed: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    """For each claim of ``dropped``, in order, the rule that dropped it (``DROP_RULES``)."""


def best_quote(
    claim: str, passage: Passage, question: str, topic: str, threshold: float
) -> tuple[float, tuple[int, int] | None]:
    """The passage's best-supporting sentence (or adjacent pair) for ``claim`` and its support.

    The passage's title counts with the sentence: the model saw it in the passage header. A
    passage that lacks a name or number of the claim (see ``unsupported_names``) supports nothing,
    and with a ``topic`` (the question, for a bare answer) neither does a passage that holds less
    than ``threshold`` of the topic's other content words. A sentence (or title) that instructs
    the assistant or the reader supports nothing.

    A pair only wins when it supports the claim strictly better than its best single sentence.
    """
    best, span = 0.0, None
    title = shown_title(passage.chunk)
    shown = f"{title}\n{passage.text}"
    if unsupported_names(claim, shown, question):
        return best, span
    if topic:
        asked = set(content_words(topic)) - set(content_words(claim))
        if asked and len(asked & set(content_words(shown))) / len(asked) < threshold:
            return best, span
    for cand in passage.candidates():
        quote = passage.chunk.text[cand[0] : cand[1]]
        if any(is_instruction(quote[s:e]) for s, e in sentence_spans(quote)):
            continue
        score = support(claim, f"{title}\n{quote}")
        if score > best + 1e-9:
            best, span = score, cand
    return best, span


DROP_RULES = {
    "no_support": "no sentence of any passage holds enough of the claim's content words",
    "names_not_in_passage": "a passage supports the claim's words but lacks a name or number it asserts",
    "not_about_question": "a bare answer's supporting passage is not about the question",
    "instruction": "only an instruction written into an article supports the claim",
}
"""Why a claim was dropped: rule code -> what it means (``Verified.reasons`` holds these codes)."""


def drop_rule(claim: str, passages: list[Passage], question: str, topic: str, threshold: float) -> str:
    """The rule that dropped ``claim``: each check of ``best_quote`` is tried alone on every passage.

    A passage whose sentences would support the claim (``support`` >= ``threshold``) but which
    fails the name check names that rule; else one that fails only the topic check of a bare
    answer; otherwise nothing held the claim's words (``no_support``). Used for diagnostics: the
    decision itself is ``verify``'s.

    Args:
        claim: the dropped claim, markers removed.
        passages: the numbered passages the answer could cite.
        question: the question answered.
        topic: the question when the claim is a bare answer, else "".
        threshold: minimal support.

    Returns:
        A code of ``DROP_RULES`` (never "instruction": ``verify`` decides that one).
    """
    failed: list[set[str]] = []
    for passage in passages:
        title = shown_title(passage.chunk)
        quotes = [passage.chunk.text[s:e] for s, e in passage.candidates()]
        words_held = max(
            (support(claim, f"{title}\n{q}") for q in quotes
             if not any(is_instruction(q[a:b]) for a, b in sentence_spans(q))),
            default=0.0,
        )
        if words_held < threshold:
            continue
        rules = set()
        shown = f"{title}\n{passage.text}"
        if unsupported_names(claim, shown, question):
            rules.add("names_not_in_passage")
        if topic:
            asked = set(content_words(topic)) - set(content_words(claim))
            if asked and len(asked & set(content_words(shown))) / len(asked) < threshold:
                rules.add("not_about_question")
        failed.append(rules)
    for rule in ("names_not_in_passage", "not_about_question"):
        if any(rules == {rule} for rules in failed):
            return rule
    for rule in ("names_not_in_passage", "not_about_question"):
        if any(rule in rules for rules in failed):
            return rule
    return "no_support"


def _finish(sentence: str, numbers: list[int]) -> str:
    body = sentence.rstrip()
    tail = ""
    while body and body[-1] in ".!?":
        tail = body[-1] + tail
        body = body[:-1].rstrip()
    marks = "".join(f"[{n}]" for n in numbers)
    return f"{body} {marks}{tail or '.'}"


def verify(
    answer: str,
    passages: list[Passage],
    threshold: float,
    question: str = "",
    instructions: list[str] | None = None,
) -> Verified:
    """Keep the supported claims of an LLM answer, each cited by a verbatim quote.

    For every claim: the cited passages that exist are checked (best quote each); citations below
    ``threshold`` are dropped; a claim left without a supported citation is re-cited to the passage
    that supports it best, if that reaches the threshold, else dropped. Markers are renumbered
    1..m in order of appearance, one citation per number. Instructions in the articles (see
    ``rag.injection``) support nothing; a dropped claim that one of them supports is also listed in
    ``Verified.instructed``.

    Args:
        answer: the LLM's answer text with [n] markers.
        passages: the numbered passages the LLM saw.
        threshold: minimal ``support`` for a quote to back a claim.
        question: the question answered (names it uses need not be in the quote).
        instructions: the instruction sentences of the retrieved articles (default: those of the
            passages' chunks, see ``instruction_sentences``).

    Returns:
        A ``Verified`` (empty text when no claim survived).
    """
    if instructions is None:
        instructions = instruction_sentences([p.chunk for p in passages])
    by_n = {p.n: p for p in passages}
    keys: dict[tuple[int, int, int], int] = {}
    citations: list[Citation] = []
    out: list[str] = []
    dropped: list[str] = []
    instructed: list[str] = []
    reasons: list[str] = []
    for claim, cited in claims(answer):
        chosen: list[tuple[int, tuple[int, int]]] = []
        # a bare answer ("15 or 20 minutes") says nothing of what it answers: its passage must
        # also be about the question, so a figure from a passage on something else does not pass
        bare = len(set(content_words(claim))) < SHORT_CLAIM_WORDS
        topic = question if bare else ""
        for n in dict.fromkeys(cited):
            if n in by_n:
                score, span = best_quote(claim, by_n[n], question, topic, threshold)
                if span is not None and score >= threshold:
                    chosen.append((n, span))
        if not chosen:
            ranked = [(best_quote(claim, p, question, topic, threshold), p.n) for p in passages]
            ranked = [((s, sp), n) for (s, sp), n in ranked if sp is not None and s >= threshold]
            if ranked:
                (_, span), n = max(ranked, key=lambda r: r[0][0])
                chosen.append((n, span))
        if not chosen:
            dropped.append(claim)
            if any(support(claim, sentence) >= threshold for sentence in instructions):
                instructed.append(claim)
                reasons.append("instruction")
            else:
                reasons.append(drop_rule(claim, passages, question, topic, threshold))
            continue
        numbers = []
        for n, span in chosen:
            key = (n, span[0], span[1])
            if key not in keys:
                keys[key] = len(citations) + 1
                citations.append(by_n[n].citation(keys[key], span))
            numbers.append(keys[key])
        out.append(_finish(claim, numbers))
    return Verified(
        text=" ".join(out), citations=citations, dropped=dropped, instructed=instructed, reasons=reasons
    )
