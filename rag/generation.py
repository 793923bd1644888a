"""Stage 4, generation: the chat model writes the answer, or the extractive backend quotes it.

A chat model (LangChain: llama.cpp, an OpenAI-compatible server, or a test's fake) is called
through ``complete`` (one reply) and ``generate`` (streamed pieces); any failure of it that is not
already a ``NewsragError`` arrives as a one-line ``BackendError``. Its draft still has to pass the
grounding stage.

The extractive backend (no model) answers with the best-matching sentences of the passages, each
cited: fast, deterministic and honest by construction (every word of the answer is a verbatim
quote), it is the floor the model backends must beat and a useful mode on very slow machines. Its
answer is already grounded, so it comes out as a ``Verified``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

from langchain_core.runnables import Runnable

from rag.context import Passage, sentence_scores
from rag.errors import BackendError, NewsragError
from rag.grounding import Verified
from rag.prompt import NOT_FOUND


def backend_failure(exc: Exception) -> BackendError:
    """One line for an unexpected exception of a chat model (backends map their own; this is
    the net for any other model)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return BackendError(f"The language model failed: {type(exc).__name__}{': ' + first if first else ''}")


def complete(chain: Runnable, inputs: dict) -> str:
    """The model's whole reply to a prompt.

    Args:
        chain: prompt | chat model | string parser.
        inputs: the prompt's inputs.

    Raises:
        BackendError: the model failed.
    """
    try:
        return chain.invoke(inputs)
    except NewsragError:
        raise
    except Exception as exc:
        raise backend_failure(exc) from exc


@dataclass
class Draft:
    """What the model wrote: its pieces, whether any was shown, and when the first came."""

    pieces: list[str] = field(default_factory=list)
    shown: bool = False
    first_at: float | None = None

    @property
    def text(self) -> str:
        """The whole draft."""
        return "".join(self.pieces)


def generate(chain: Runnable, inputs: dict, draft: Draft) -> Iterator[str]:
    """Stream the model's answer into ``draft``, yielding the text to show as it comes.

    Nothing is shown while the reply may still be the "cannot answer" sentinel (``NOT_FOUND``):
    the held-back start is shown at once when it no longer can be.

    Args:
        chain: prompt | chat model | string parser.
        inputs: the answer prompt's inputs.
        draft: filled with every piece; ``shown`` tells whether any text was yielded.

    Yields:
        Text pieces.

    Raises:
        BackendError: the model failed.
    """
    held = ""
    try:
        for piece in chain.stream(inputs):
            if not piece:
                continue
            if draft.first_at is None:
                draft.first_at = time.perf_counter()
            draft.pieces.append(piece)
            if draft.shown:
                yield piece
                continue
            held += piece
            probe = held.strip().strip("*\"'").upper()
            if probe and not NOT_FOUND.startswith(probe[: len(NOT_FOUND)]):
                draft.shown = True
                yield held
    except NewsragError:
        raise
    except Exception as exc:
        raise backend_failure(exc) from exc


def says_not_found(text: str) -> bool:
    """True when the model's answer is (or starts with) its "cannot answer" sentinel or a paraphrase."""
    t = text.strip().strip("*\"'").upper()
    if t.startswith(NOT_FOUND) or t.startswith("NOT IN ARTICLE"):
        return True
    low = text.lower()
    return any(
        p in low
        for p in (
            "not in articles",
            "passages do not contain",
            "passages don't contain",
            "passages do not mention",
            "passages don't mention",
            "not mentioned in the passages",
            "no information",
            "cannot answer",
            "can't answer",
            "not provided in the passages",
        )
    )


def extractive_answer(
    question: str,
    passages: list[Passage],
    max_sentences: int,
    min_score: float,
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
