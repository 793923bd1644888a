"""The no-LLM backend: the answer is the best-matching sentences of the passages, each cited.

Fast, deterministic and honest by construction (every word of the answer is a verbatim quote),
it is the floor the LLM backends must beat and a useful mode on very slow machines.
"""

from __future__ import annotations

from rag.citations import Passage, Verified, sentence_scores


def extractive_answer(
    question: str,
    passages: list[Passage],
    max_sentences: int = 2,
    min_score: float = 0.34,
    boost_words: set[str] | None = None,
) -> Verified:
    """Quote the sentences of ``passages`` that best match ``question``.

    Args:
        question: the standalone question.
        passages: numbered passages (their shown sentences are the candidates).
        max_sentences: at most this many sentences in the answer.
        min_score: a sentence must reach this question-overlap score to be used.
        boost_words: words (e.g. the asked-about speaker) that raise a sentence's score.

    Returns:
        ``Verified`` with text ``"sentence [1] sentence [2]"`` and one citation per sentence;
        empty text when no sentence is good enough.
    """
    ranked: list[tuple[float, int, int, tuple[int, int]]] = []
    for p in passages:
        scores = sentence_scores(question, p.chunk.text, p.spans, boost_words or set())
        for j, (span, score) in enumerate(zip(p.spans, scores)):
            ranked.append((score, p.n, j, span))
    # best score first; ties go to the better-ranked passage and the earlier sentence
    ranked.sort(key=lambda r: (-r[0], r[1], r[2]))
    by_n = {p.n: p for p in passages}
    citations, parts, seen = [], [], set()
    for score, n, _j, span in ranked:
        if score < min_score or len(citations) >= max_sentences:
            break
        quote = by_n[n].chunk.text[span[0] : span[1]].strip()
        if quote in seen:
            continue
        seen.add(quote)
        citation = by_n[n].citation(len(citations) + 1, span)
        citations.append(citation)
        parts.append(f"{citation.quote} [{citation.n}]")
    return Verified(text=" ".join(parts), citations=citations)
