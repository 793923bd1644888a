"""Citations you can verify: sentence spans, passage trimming, [n] markers and claim support.

A *passage* is a retrieved chunk as shown to the LLM: numbered, and trimmed to the sentences that
matter for the question. Quotes are always whole sentences of a passage, with article offsets
``chunk.start + sentence offset``, so ``article.text[start:end] == quote`` holds by construction.
A claim (a sentence of the answer) keeps a citation only when the quoted sentence(s) support it:
enough of the claim's content words occur in the quote (``support`` >= threshold).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.sentences import sentence_spans
from rag.lexical import content_words
from rag.types import Chunk, Citation


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (the same splitter that cut the chunks, so quotes align with them).

    Args:
        text: passage or answer text.

    Returns:
        ``(start, end)`` spans in order; ``text[start:end]`` is each sentence.
    """
    return sentence_spans(text)


def support(claim: str, quote: str) -> float:
    """Share of the claim's distinct content words that occur in the quote (0..1).

    Args:
        claim: an answer sentence, markers removed.
        quote: candidate supporting text.

    Returns:
        The support score; 0 when the claim has no content words.
    """
    c = set(content_words(claim))
    if not c:
        return 0.0
    return len(c & set(content_words(quote))) / len(c)


# --- passages ------------------------------------------------------------------------------------
@dataclass
class Passage:
    """A numbered chunk as shown to the LLM: the chosen sentence spans (chunk-relative), in order."""

    n: int
    chunk: Chunk
    spans: list[tuple[int, int]] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The trimmed passage text (chosen sentences; gaps shown as " … ")."""
        parts: list[str] = []
        prev_end = None
        for s, e in self.spans:
            if parts and prev_end is not None and self.chunk.text[prev_end:s].strip():
                parts.append("…")
            parts.append(self.chunk.text[s:e])
            prev_end = e
        return " ".join(parts)

    def candidates(self) -> list[tuple[int, int]]:
        """Quote candidates: each shown sentence, and each pair of adjacent shown sentences."""
        out = list(self.spans)
        for (s1, e1), (s2, e2) in zip(self.spans, self.spans[1:]):
            if not self.chunk.text[e1:s2].strip():
                out.append((s1, e2))
        return out

    def citation(self, n: int, span: tuple[int, int]) -> Citation:
        """A ``Citation`` numbered ``n`` quoting ``span`` of this passage, with article offsets."""
        s, e = span
        c = self.chunk
        return Citation(
            n=n,
            article_id=c.article_id,
            title=c.title,
            url=c.url,
            published=c.published,
            source=c.source,
            quote=c.text[s:e],
            start=c.start + s,
            end=c.start + e,
        )


def sentence_scores(question: str, text: str, spans: list[tuple[int, int]], boost_words: set[str]) -> list[float]:
    """Score each sentence span for a question: question-word overlap, plus a bonus for
    ``boost_words`` (e.g. a speaker's name) in a sentence.
    """
    q = set(content_words(question))
    out = []
    for s, e in spans:
        w = set(content_words(text[s:e]))
        score = len(q & w) / (len(q) or 1)
        if boost_words & w:
            score += 0.25
        out.append(score)
    return out


def make_passages(
    question: str,
    chunks: list[Chunk],
    max_chars: int = 360,
    boost_words: set[str] | None = None,
) -> list[Passage]:
    """Number the chunks 1..k and keep, in each, the best sentences up to ``max_chars``.

    The best-scoring sentence is always kept; others are added by score while they fit, then put
    back in reading order.

    Args:
        question: the standalone question.
        chunks: retrieved chunks, best first.
        max_chars: character budget per passage (0 or less: keep whole chunks).
        boost_words: words whose presence in a sentence raises its score.

    Returns:
        The passages, numbered from 1.
    """
    passages = []
    for i, chunk in enumerate(chunks, start=1):
        spans = split_sentences(chunk.text)
        if max_chars > 0 and spans:
            scores = sentence_scores(question, chunk.text, spans, boost_words or set())
            order = sorted(range(len(spans)), key=lambda j: (-scores[j], j))
            chosen, used = [], 0
            for j in order:
                length = spans[j][1] - spans[j][0]
                if chosen and used + length > max_chars:
                    continue
                chosen.append(j)
                used += length + 1
            spans = [spans[j] for j in sorted(chosen)]
        passages.append(Passage(n=i, chunk=chunk, spans=spans))
    return passages


# --- markers and verification ----------------------------------------------------------------------
_MARKER = re.compile(r"\s*\[(?:passages?\s*)?(\d+(?:\s*[,;]\s*\d+)*)\]", re.IGNORECASE)
_LEADING_MARKERS = re.compile(r"^(?:\s*\[(?:passages?\s*)?\d+(?:\s*[,;]\s*\d+)*\])+", re.IGNORECASE)


def markers(text: str) -> list[int]:
    """All marker numbers in ``text`` in order of appearance (``[1]``, ``[2, 3]``)."""
    out = []
    for m in _MARKER.finditer(text):
        out.extend(int(x) for x in re.split(r"\s*[,;]\s*", m.group(1)))
    return out


def strip_markers(text: str) -> str:
    """``text`` with every ``[n]`` marker removed."""
    return _MARKER.sub("", text).strip()


def claims(answer: str) -> list[tuple[str, list[int]]]:
    """Split an answer into claims: ``(sentence without markers, cited numbers)``.

    Markers written after the full stop ("... ceasefire. [1]") belong to the sentence before.
    """
    sentences = [answer[s:e] for s, e in split_sentences(answer)]
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


def best_quote(claim: str, passage: Passage) -> tuple[float, tuple[int, int] | None]:
    """The passage's best-supporting sentence (or adjacent pair) for ``claim`` and its support.

    A pair only wins when it supports the claim strictly better than its best single sentence.
    """
    best, span = 0.0, None
    for cand in passage.candidates():
        score = support(claim, passage.chunk.text[cand[0] : cand[1]])
        if score > best + 1e-9:
            best, span = score, cand
    return best, span


def _finish(sentence: str, numbers: list[int]) -> str:
    body = sentence.rstrip()
    tail = ""
    while body and body[-1] in ".!?":
        tail = body[-1] + tail
        body = body[:-1].rstrip()
    marks = "".join(f"[{n}]" for n in numbers)
    return f"{body} {marks}{tail or '.'}"


def verify(answer: str, passages: list[Passage], threshold: float = 0.34) -> Verified:
    """Keep the supported claims of an LLM answer, each cited by a verbatim quote.

    For every claim: the cited passages that exist are checked (best quote each); citations below
    ``threshold`` are dropped; a claim left without a supported citation is re-cited to the passage
    that supports it best, if that reaches the threshold, else dropped. Markers are renumbered
    1..m in order of appearance, one citation per number.

    Args:
        answer: the LLM's answer text with [n] markers.
        passages: the numbered passages the LLM saw.
        threshold: minimal ``support`` for a quote to back a claim.

    Returns:
        A ``Verified`` (empty text when no claim survived).
    """
    by_n = {p.n: p for p in passages}
    keys: dict[tuple[int, int, int], int] = {}
    citations: list[Citation] = []
    out: list[str] = []
    dropped: list[str] = []
    for claim, cited in claims(answer):
        chosen: list[tuple[int, tuple[int, int]]] = []
        for n in dict.fromkeys(cited):
            if n in by_n:
                score, span = best_quote(claim, by_n[n])
                if span is not None and score >= threshold:
                    chosen.append((n, span))
        if not chosen:
            ranked = [(best_quote(claim, p), p.n) for p in passages]
            ranked = [((s, sp), n) for (s, sp), n in ranked if sp is not None and s >= threshold]
            if ranked:
                (_, span), n = max(ranked, key=lambda r: r[0][0])
                chosen.append((n, span))
        if not chosen:
            dropped.append(claim)
            continue
        numbers = []
        for n, span in chosen:
            key = (n, span[0], span[1])
            if key not in keys:
                keys[key] = len(citations) + 1
                citations.append(by_n[n].citation(keys[key], span))
            numbers.append(keys[key])
        out.append(_finish(claim, numbers))
    return Verified(text=" ".join(out), citations=citations, dropped=dropped)
