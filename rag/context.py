"""Stage 2, the context: the sentences of the retrieved chunks that the model reads, within a budget.

A *passage* is a retrieved chunk as shown to the model: numbered, and trimmed to the sentences that
matter for the question. Quotes are always whole sentences of a passage, with article offsets
``chunk.start + sentence offset``, so ``article.text[start:end] == quote`` holds by construction.

Sentences that instruct the assistant or the reader (``rag.injection``) are never shown to the
model, and a title that is one is not shown either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from rag.injection import is_instruction
from rag.quotes import quotes_of_chunk, speaker_at
from rag.text import content_words, sentence_spans
from rag.types import Chunk, Citation


def shown_title(chunk: Chunk) -> str:
    """The chunk's title as the model sees it and as a quote may lean on: empty when the title is
    itself an instruction (see ``rag.injection``)."""
    title = chunk.title or ""
    return "" if is_instruction(title) else title


def news_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` that are not instructions to the assistant or the reader."""
    return [(s, e) for s, e in sentence_spans(text) if not is_instruction(text[s:e])]



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
        speakers = speaker_at(quotes_of_chunk(c), c.start + s, c.start + e)
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
            speaker="; ".join(speakers) or None,
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
    max_chars: int,
    boost_words: set[str] | None = None,
    similarity: Callable[[str, list[str]], list[float]] | None = None,
    rank_penalty: float = 0.03,
) -> list[Passage]:
    """The context of the answer prompt: the best sentences of the retrieved chunks, within budget.

    Sentences that instruct the assistant or the reader (``rag.injection``) are left out: the
    model never reads them, and a passage shows "…" where one was.

    Every sentence of every chunk is scored by its question-word overlap (plus a bonus when it
    names ``boost_words``), plus its embedding similarity to the question when ``similarity`` is
    given, minus ``rank_penalty`` per rank of its chunk. A sentence repeated by overlapping chunks
    is scored once, and a sentence that only repeats the title (shown in the header) not at all.
    Sentences are taken best first while ``max_chars`` (in total, over all passages) allows; the
    best one is always taken. Chunks that contribute a sentence become passages numbered 1..m in
    retrieval order, their sentences in reading order. On a 2-core CPU every prompt token delays
    the first answer token, so the budget is global rather than per passage.

    Args:
        question: the standalone question.
        chunks: retrieved chunks, best first.
        max_chars: character budget of all passage text together (0 or less: whole chunks, all
            of them).
        boost_words: words whose presence in a sentence raises its score (e.g. a speaker's name).
        similarity: ``(question, sentences) -> scores``, e.g. cosine similarity of embeddings.
        rank_penalty: score taken off per retrieval rank of the sentence's chunk.

    Returns:
        The passages, numbered from 1.
    """
    all_spans = [news_spans(c.text) for c in chunks]
    if max_chars <= 0:
        kept = [(c, sp) for c, sp in zip(chunks, all_spans) if sp]
        return [Passage(n=i, chunk=c, spans=sp) for i, (c, sp) in enumerate(kept, start=1)]
    # a sentence shown once is enough (chunks overlap by a sentence), and the title is in the header
    keys, seen = [], set()
    for rank, (chunk, spans) in enumerate(zip(chunks, all_spans)):
        for j, (s, e) in enumerate(spans):
            text = " ".join(chunk.text[s:e].split())
            if text in seen or text == " ".join((chunk.title or "").split()):
                continue
            seen.add(text)
            keys.append((rank, j))
    per_chunk = [sentence_scores(question, c.text, sp, boost_words or set()) for c, sp in zip(chunks, all_spans)]
    lexical = [per_chunk[r][j] for r, j in keys]
    if similarity is not None and keys:
        texts = [chunks[r].text[slice(*all_spans[r][j])] for r, j in keys]
        lexical = [a + float(b) for a, b in zip(lexical, similarity(question, texts))]
    scored = [(score - rank_penalty * r, r, j) for score, (r, j) in zip(lexical, keys)]
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    chosen: dict[int, list[int]] = {}
    used = 0
    for _score, rank, j in scored:
        s, e = all_spans[rank][j]
        if chosen and used + (e - s) > max_chars:
            continue
        chosen.setdefault(rank, []).append(j)
        used += e - s + 1
    passages = []
    for rank in sorted(chosen):
        spans = [all_spans[rank][j] for j in sorted(chosen[rank])]
        passages.append(Passage(n=len(passages) + 1, chunk=chunks[rank], spans=spans))
    return passages
