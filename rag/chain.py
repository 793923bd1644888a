"""The answer chain: question (+ history) -> standalone question -> retrieval -> refusal gate ->
passages -> LLM (or extractive) -> verified citations -> ``Answer``.

Built from injected parts (a retriever and a LangChain chat model, or None for the extractive
backend) and composed from Runnables, so tests pass ``FakeListChatModel`` and the UI and evals keep
one loaded ``Answerer`` for every question.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any, Callable, Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from rag.citations import Passage, Verified, instruction_sentences, make_passages, verify
from rag.extractive import extractive_answer
from rag.lexical import words
from rag.prompts import (
    ANSWER_PROMPT,
    NOT_FOUND,
    REWRITE_PROMPT,
    format_context,
    format_history,
    format_today,
    says_not_found,
)
from rag.retrieval import Filters, Retrieval, parse_date, speakers
from rag.types import INSTRUCTION_REFUSAL_TEXT, REFUSAL_TEXT, Answer


def heuristic_standalone(question: str, history: list[dict]) -> str:
    """Rewrite a follow-up without an LLM: add the previous user question's names to it.

    Capitalised words (names, places) of the last user question that the follow-up lacks are
    appended in parentheses; when the follow-up asks about its own speaker, the earlier speaker
    is left out ("What did Rhodes say about Ukraine?" + "and what did Putin say?" ->
    "and what did Putin say? (Ukraine)").

    Args:
        question: the follow-up.
        history: earlier messages, ``{"role", "content"}``.

    Returns:
        The standalone question (unchanged when there is nothing to add).
    """
    previous = next((m["content"] for m in reversed(history) if m.get("role") == "user"), None)
    if not previous:
        return question
    have = set(words(question))
    drop = set(speakers(previous)) if speakers(question) else set()
    names = []
    for token in re.findall(r"\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)*", previous):
        low = words(token)
        if not low or low[0] in {"what", "who", "when", "where", "why", "how", "which", "did", "does", "is", "the"}:
            low = low[1:]
            token = " ".join(token.split()[1:])
        if low and not (set(low) & have) and not (set(low) & drop) and token not in names:
            names.append(token)
    return f"{question} ({', '.join(names)})" if names else question


def _clean_rewrite(text: str, fallback: str) -> str:
    line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(?:rewritten|standalone)?\s*question\s*:\s*", "", line, flags=re.IGNORECASE)
    line = line.strip().strip("\"'“”")
    return line or fallback


class Answerer:
    """Answers questions from a retriever and an optional chat model.

    Args:
        retriever: object with ``retrieve(query, k, filters, as_of) -> Retrieval``
            (``rag.retrieval.HybridRetriever``).
        chat_model: a LangChain chat model, or None for the extractive backend.
        top_k: passages given to the LLM.
        min_relevance: below this retrieval relevance the LLM is not called and the answer is the
            refusal.
        context_chars: character budget of all passage text in the prompt (0: whole chunks).
        similarity: ``(question, sentences) -> scores`` used with word overlap to pick the
            sentences of the context (None: word overlap only).
        support_threshold: minimal claim support of a quote (see ``rag.citations.support``).
        extractive_sentences: sentences quoted by the extractive backend.
    """

    def __init__(
        self,
        retriever: Any,
        chat_model: BaseChatModel | None = None,
        *,
        top_k: int = 5,
        min_relevance: float = 0.0,
        context_chars: int = 600,
        similarity: Callable[[str, list[str]], list[float]] | None = None,
        support_threshold: float = 0.34,
        extractive_sentences: int = 2,
    ) -> None:
        self.retriever = retriever
        self.chat_model = chat_model
        self.top_k = top_k
        self.min_relevance = min_relevance
        self.context_chars = context_chars
        self.similarity = similarity
        self.support_threshold = support_threshold
        self.extractive_sentences = extractive_sentences
        self.retrieve_step: Runnable = RunnableLambda(self._retrieve)
        self.answer_chain: Runnable | None = None
        self.rewrite_chain: Runnable | None = None
        if chat_model is not None:
            self.answer_chain = ANSWER_PROMPT | chat_model | StrOutputParser()
            self.rewrite_chain = REWRITE_PROMPT | chat_model | StrOutputParser()

    # --- steps -----------------------------------------------------------------------------------
    def standalone(self, question: str, history: list[dict] | None) -> str:
        """The question rewritten without the chat history (unchanged when there is none).

        Args:
            question: the latest user message.
            history: earlier ``{"role", "content"}`` messages.

        Returns:
            A standalone question.
        """
        if not history or not any(m.get("role") == "user" for m in history):
            return question
        if self.rewrite_chain is None:
            return heuristic_standalone(question, history)
        text = self.rewrite_chain.invoke({"history": format_history(history), "question": question})
        return _clean_rewrite(text, question)

    def _retrieve(self, inputs: dict) -> Retrieval:
        return self.retriever.retrieve(inputs["query"], self.top_k, inputs["filters"], inputs["as_of"])

    def passages(self, query: str, retrieval: Retrieval) -> list[Passage]:
        """Numbered passages for the prompt: the best sentences within the budget (speakers favoured)."""
        return make_passages(query, retrieval.chunks, self.context_chars, set(speakers(query)), self.similarity)

    # --- public ------------------------------------------------------------------------------------
    def stream(
        self,
        question: str,
        *,
        history: list[dict] | None = None,
        filters: dict | Filters | None = None,
        as_of: dt.date | str | None = None,
    ) -> Iterator[str | Answer]:
        """Answer ``question``, yielding text pieces as they are generated, then the ``Answer``.

        The streamed text is the model's draft; the final ``Answer`` is authoritative (markers
        renumbered, unsupported claims removed, or the refusal).

        Args:
            question: the user's question.
            history: earlier chat messages ``{"role": "user"|"assistant", "content": str}``.
            filters: ``{"sources", "date_from", "date_to", "article_ids"}`` restrictions.
            as_of: the day "this week" refers to (date or ``YYYY-MM-DD``; default today).

        Yields:
            ``str`` pieces, then one ``Answer``.
        """
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        if not isinstance(filters, Filters):
            filters = Filters.from_dict(filters)
        day = parse_date(as_of) or dt.date.today()

        query = self.standalone(question, history)
        timings["rewrite_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        retrieval: Retrieval = self.retrieve_step.invoke({"query": query, "filters": filters, "as_of": day})
        timings["retrieve_s"] = time.perf_counter() - t1
        base = dict(
            question=question,
            standalone_question=query if query != question else None,
            retrieved=retrieval.chunks,
        )

        def finish(verified: Verified | None, draft: str | None = None, reason: str = "unsupported") -> Answer:
            timings["total_s"] = time.perf_counter() - t0
            rounded = {k: round(v, 3) for k, v in timings.items()}
            dropped = verified.dropped if verified is not None else []
            if verified is None or not verified.text or not verified.citations:
                if verified is not None and verified.instructed:
                    reason = "instruction_in_article"
                text = INSTRUCTION_REFUSAL_TEXT if reason == "instruction_in_article" else REFUSAL_TEXT
                return Answer(
                    answer=text, answerable=False, timings=rounded, draft=draft, dropped=dropped,
                    refusal_reason=reason, **base,
                )
            return Answer(
                answer=verified.text, answerable=True, citations=verified.citations, timings=rounded,
                draft=draft, dropped=dropped, **base,
            )

        if not retrieval.chunks or retrieval.relevance < self.min_relevance:
            yield REFUSAL_TEXT
            yield finish(None, reason="no_relevant_articles")
            return

        passages = self.passages(query, retrieval)
        if not passages:
            yield REFUSAL_TEXT
            yield finish(None, reason="no_relevant_articles")
            return
        if self.answer_chain is None:
            verified = extractive_answer(
                query, passages, self.extractive_sentences, self.support_threshold, set(speakers(query))
            )
            answer = finish(verified)
            yield answer.answer
            yield answer
            return

        t2 = time.perf_counter()
        inputs = {"context": format_context(passages), "question": query, "today": format_today(day)}
        draft, held, streaming = [], "", False
        for piece in self.answer_chain.stream(inputs):
            if not piece:
                continue
            if "ttft_s" not in timings:
                timings["ttft_s"] = time.perf_counter() - t0
            draft.append(piece)
            if streaming:
                yield piece
                continue
            held += piece
            probe = held.strip().strip("*\"'").upper()
            if probe and not NOT_FOUND.startswith(probe[: len(NOT_FOUND)]):
                streaming = True
                yield held
        timings["llm_s"] = time.perf_counter() - t2
        raw = "".join(draft)
        if says_not_found(raw):
            yield REFUSAL_TEXT
            yield finish(None, raw, reason="not_in_articles")
            return
        verified = verify(raw, passages, self.support_threshold, query, instruction_sentences(retrieval.chunks))
        answer = finish(verified, raw)
        if not answer.answerable and not streaming:
            yield answer.answer
        yield answer

    def ask(
        self,
        question: str,
        *,
        history: list[dict] | None = None,
        filters: dict | Filters | None = None,
        as_of: dt.date | str | None = None,
    ) -> Answer:
        """Answer ``question`` (see ``stream`` for the arguments) and return the final ``Answer``."""
        answer = None
        for item in self.stream(question, history=history, filters=filters, as_of=as_of):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer
