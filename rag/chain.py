"""The answer chain: question (+ history) -> standalone question -> retrieval -> refusal gate ->
passages -> LLM (or extractive) -> verified citations -> ``Answer``.

Built from injected parts (a retriever and a LangChain chat model, or None for the extractive
backend) and composed from Runnables, so tests pass ``FakeListChatModel`` and the UI and evals keep
one loaded ``Answerer`` for every question.

Nothing sent to the model can overflow its context window: a question longer than
``max_question_chars`` is refused before anything else (``QuestionTooLong``), and every prompt is
measured in tokens (the model's own tokenizer when it has one, a safe estimate otherwise) and its
chat history or passages shrunk until prompt plus ``max_tokens`` fit ``n_ctx``. Any other failure
of the model arrives as a one-line ``BackendError``.
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
from rag.errors import BackendError, NewsragError, QuestionTooLong
from rag.extractive import extractive_answer
from rag.lexical import words
from rag.prompts import (
    ANSWER_PROMPT,
    NOT_FOUND,
    REWRITE_PROMPT,
    estimate_tokens,
    format_context,
    format_history,
    format_today,
    says_not_found,
)
from rag.retrieval import Filters, Retrieval, parse_date, speakers
from rag.types import INSTRUCTION_REFUSAL_TEXT, REFUSAL_TEXT, Answer

HISTORY_MESSAGES = 4  # the last messages of the chat the rewrite step reads


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


def check_question(question: str, max_chars: int) -> None:
    """Refuse a question longer than ``max_chars`` characters, before anything is done with it.

    Args:
        question: the user's question.
        max_chars: the longest question accepted (``Settings.max_question_chars``).

    Raises:
        QuestionTooLong: with a sentence for the user.
    """
    if len(question) > max_chars:
        raise QuestionTooLong(
            f"The question is {len(question):,} characters long; questions can be at most "
            f"{max_chars:,} characters. Please ask a shorter question."
        )


def _backend_failure(exc: Exception) -> BackendError:
    """One line for an unexpected exception of a chat model (backends map their own; this is
    the net for any other model)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return BackendError(f"The language model failed: {type(exc).__name__}{': ' + first if first else ''}")


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
        max_question_chars: longer questions are refused with ``QuestionTooLong``.
        n_ctx: the chat model's context window in tokens.
        max_tokens: tokens the chat model may generate; every prompt leaves them free in ``n_ctx``.
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
        max_question_chars: int = 2000,
        n_ctx: int = 2048,
        max_tokens: int = 160,
    ) -> None:
        self.retriever = retriever
        self.chat_model = chat_model
        self.top_k = top_k
        self.min_relevance = min_relevance
        self.context_chars = context_chars
        self.similarity = similarity
        self.support_threshold = support_threshold
        self.extractive_sentences = extractive_sentences
        self.max_question_chars = max_question_chars
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
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
        recent = self.fit_history(question, history)
        if recent is None:
            return question
        try:
            text = self.rewrite_chain.invoke({"history": recent, "question": question})
        except NewsragError:
            raise
        except Exception as exc:
            raise _backend_failure(exc) from exc
        return _clean_rewrite(text, question)

    # --- the context window --------------------------------------------------------------------------
    def prompt_tokens(self, messages: list) -> int:
        """Tokens ``messages`` take in the model's window: the model's own count when it has one
        (``count_tokens``, e.g. ``rag.llm.LlamaCppChatModel``), else ``estimate_tokens``."""
        counter = getattr(self.chat_model, "count_tokens", None)
        return int(counter(messages)) if callable(counter) else estimate_tokens(messages)

    def fits(self, messages: list) -> bool:
        """Whether a prompt leaves ``max_tokens`` free in the ``n_ctx`` window."""
        return self.prompt_tokens(messages) + self.max_tokens <= self.n_ctx

    def fit_history(self, question: str, history: list[dict]) -> str | None:
        """The chat history for the rewrite prompt, shrunk until the prompt fits the window.

        The last ``HISTORY_MESSAGES`` messages, each at most ``max_question_chars`` characters; the
        oldest are dropped first, then the last one is cut short.

        Returns:
            The formatted history, or None when not even the question fits (no rewrite then).
        """
        cap = max(self.max_question_chars, 1)
        recent = [
            dict(m, content=str(m.get("content", ""))[:cap]) for m in history[-HISTORY_MESSAGES:]
        ]
        while recent:
            text = format_history(recent, max_turns=len(recent))
            if self.fits(REWRITE_PROMPT.format_messages(history=text, question=question)):
                return text
            if len(recent) > 1:
                recent = recent[1:]
                continue
            content = recent[0]["content"]
            if len(content) < 40:
                break
            recent = [dict(recent[0], content="…" + content[-(len(content) // 2) :])]
        return "" if self.fits(REWRITE_PROMPT.format_messages(history="", question=question)) else None

    def fit_context(
        self, query: str, retrieval: Retrieval, passages: list[Passage], today: str
    ) -> tuple[list[Passage], dict]:
        """The passages and prompt inputs, the passages shrunk until the prompt fits the window.

        The context is re-selected (``make_passages``) with a character budget scaled down to the
        tokens left; a chunk whose best sentence alone is too long is set aside.

        Returns:
            ``(passages, inputs)``; no passages when none fits.

        Raises:
            QuestionTooLong: the prompt does not fit even without passages.
        """
        def inputs_of(ps: list[Passage]) -> dict:
            return {"context": format_context(ps), "question": query, "today": today}

        room = self.n_ctx - self.max_tokens
        fixed = self.prompt_tokens(ANSWER_PROMPT.format_messages(context="", question="", today=today))
        if fixed > room:
            raise BackendError(
                f"max_tokens ({self.max_tokens:,}) leaves too little of the model's context window "
                f"(n_ctx {self.n_ctx:,} tokens) for the prompt: lower max_tokens or raise n_ctx."
            )
        bare = self.prompt_tokens(ANSWER_PROMPT.format_messages(**inputs_of([])))
        if bare > room:
            raise QuestionTooLong(
                f"The question is too long for the model's context window ({self.n_ctx:,} tokens, "
                f"{self.max_tokens:,} of them kept for the answer). Please ask a shorter question."
            )
        chunks = list(retrieval.chunks)
        for _ in range(len(chunks) + 12):
            if not passages:
                break
            inputs = inputs_of(passages)
            used = self.prompt_tokens(ANSWER_PROMPT.format_messages(**inputs))
            if used <= room:
                return passages, inputs
            if len(passages) == 1 and len(passages[0].spans) == 1:
                chunks = [c for c in chunks if c.id != passages[0].chunk.id]
                budget = max(1, int(self.context_chars or 600))
            else:
                shown = sum(len(p.text) for p in passages)
                budget = max(1, int(shown * (room - bare) / max(used - bare, 1) * 0.9))
            passages = make_passages(query, chunks, budget, set(speakers(query)), self.similarity)
        return [], {}

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
        check_question(question, self.max_question_chars)
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

        passages, inputs = self.fit_context(query, retrieval, passages, format_today(day))
        if not passages:
            yield REFUSAL_TEXT
            yield finish(None, reason="context_too_long")
            return
        t2 = time.perf_counter()
        draft, held, streaming = [], "", False
        try:
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
        except NewsragError:
            raise
        except Exception as exc:
            raise _backend_failure(exc) from exc
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
