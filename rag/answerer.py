"""The answer path, stage by stage: question (+ history) -> standalone question -> retrieval ->
refusal gate -> context -> prompt -> generation -> grounding -> ``Answer``.

``Answerer.stream`` reads as that sequence; each stage lives in its own module
(``rag.retrieval``, ``rag.context``, ``rag.prompt``, ``rag.generation``, ``rag.grounding``). The
answerer is built from injected parts (a retriever, and a LangChain chat model or None for the
extractive backend) and one frozen ``AnswerParams``, so tests pass ``FakeListChatModel`` and the
UI and evals keep one loaded ``Answerer`` for every question.

A question longer than ``max_question_chars`` is refused before anything else
(``QuestionTooLong``); no prompt overflows the model's window (``rag.prompt.Window``); any other
failure of the model arrives as a one-line ``BackendError``.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser

from rag.context import Passage, make_passages
from rag.errors import QuestionTooLong
from rag.generation import Draft, complete, extractive_answer, generate, says_not_found
from rag.grounding import (
    Verified, instruction_sentences, name_phrases, not_quoted_answer, speaker_evidence, verify,
)
from rag.prompt import ANSWER_PROMPT, REWRITE_PROMPT, Window, fit_context, fit_history, format_today
from rag.retrieval import Retrieval, asked_speakers, asks_about_recent_days, speakers
from rag.settings import AnswerParams
from rag.text import content_words, parse_date, words
from rag.types import INSTRUCTION_REFUSAL_TEXT, REFUSAL_TEXT, Answer, Filters, Stage, refusal_sentence

FALLBACK_CONTEXT_CHARS = 600  # the context budget once a chunk is set aside, when context_chars is 0


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


_QUESTION_START = re.compile(
    r"^(?:who|whom|whose|what|when|where|which|why|how|is|are|was|were|do|does|did|can|could|will|would|"
    r"should|has|have|had)\b",
    re.IGNORECASE,
)


def faithful_rewrite(rewritten: str, question: str, history: list[dict]) -> bool:
    """Whether a rewritten follow-up may stand in for the user's ``question``.

    It must still be a question (a statement asserts a claim the user did not make), keep the
    names the question uses, and name no one and nothing the user did not write (this question or
    an earlier one of theirs: an assistant's answer is not the user's word). A rewrite like "Ben
    Rhodes said the ceasefire was violated." for "What did Meehan say about it?" fails.

    Args:
        rewritten: the model's standalone question.
        question: the user's follow-up.
        history: earlier ``{"role", "content"}`` messages.

    Returns:
        True when the rewrite can be used; otherwise the original question is.
    """
    text = rewritten.strip()
    if not (text.endswith("?") or _QUESTION_START.match(text)):
        return False
    user = " ".join([question] + [m.get("content") or "" for m in history if m.get("role") == "user"])

    def names(t: str) -> set[str]:
        return {w for phrase in name_phrases(t) for w in content_words(phrase)}

    return names(question) <= set(content_words(text)) and names(text) <= set(content_words(user))


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


class _CallUsage(BaseCallbackHandler):
    """Keeps the token counts (``usage_metadata``) a chat model reports at the end of a call."""

    def __init__(self) -> None:
        super().__init__()
        self.usage: dict[str, Any] | None = None

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        """Take the usage of the call's message, when the backend reported any."""
        for generation in (response.generations or [[]])[0]:
            usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
            if usage:
                self.usage = dict(usage)


class StageRun:
    """One stage of one answer as a tracer sees it: ``outputs`` are set by the stage as it ends, and
    ``callbacks`` is what the stage's model calls are configured with (here: only the handlers given)."""

    def __init__(self) -> None:
        self.outputs: dict[str, Any] = {}

    def callbacks(self, *handlers: BaseCallbackHandler) -> Any:
        """The ``callbacks`` of a model call made in this stage, ``handlers`` included."""
        return list(handlers)


class Trace:
    """Where the stages of one answer are reported: nowhere (``rag.runnables`` reports each stage as a
    LangChain callback run, the stage's model calls nested under it)."""

    @contextmanager
    def stage(self, name: str, inputs: dict[str, Any]) -> Iterator[StageRun]:
        """Run the block as the stage ``name`` with ``inputs``; it sets the run's ``outputs``."""
        yield StageRun()


NO_TRACE = Trace()


class _Turn:
    """One question on its way through the stages: its timings, and the ``Answer`` it ends in.

    Timings (``Answer.timings``): seconds ``rewrite_s``, ``retrieve_s``, ``llm_s`` (the answer's
    LLM call), ``llm_ttft_s`` (that call's first token), ``ttft_s`` (question to first token),
    ``verify_s`` (grounding), ``total_s``; and, when the backend counts tokens (llama.cpp),
    ``prompt_tokens``, ``prompt_eval_tokens`` (those not reused from the prompt cache),
    ``completion_tokens``, ``prompt_eval_tok_s`` (uncached prompt tokens / ``llm_ttft_s``) and
    ``decode_tok_s`` (completion tokens after the first / the time from the first to the end).
    """

    def __init__(self, question: str, as_of: dt.date, filters: Filters) -> None:
        self.question = question
        self.t0 = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.asked = dict(as_of=as_of.isoformat(), filters=filters.as_dict())
        self.base: dict[str, Any] = dict(question=question, **self.asked)

    def lap(self, name: str, since: float | None = None) -> None:
        """Record the seconds since ``since`` (default: since the question came) as ``name``."""
        self.timings[name] = time.perf_counter() - (self.t0 if since is None else since)

    def generated(self, started: float, draft: Draft, usage: dict[str, Any] | None) -> None:
        """Record the answer's LLM call: its time, its first token, and its tokens and speeds.

        Args:
            started: when the call began (``time.perf_counter``).
            draft: what it wrote (``first_at``: when its first piece came).
            usage: its LangChain ``UsageMetadata`` (None: the backend counted no tokens).
        """
        ended = time.perf_counter()
        self.timings["llm_s"] = ended - started
        first = draft.first_at
        if first is not None:
            self.timings["ttft_s"] = first - self.t0
            self.timings["llm_ttft_s"] = first - started
        if not usage:
            return
        prompt, completion = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
        self.timings.update(prompt_tokens=prompt, completion_tokens=completion)
        cached = (usage.get("input_token_details") or {}).get("cache_read")
        if cached is not None:
            self.timings["prompt_eval_tokens"] = prompt - cached
            if first is not None and first > started:
                self.timings["prompt_eval_tok_s"] = (prompt - cached) / (first - started)
        if first is not None and completion > 1 and ended > first:
            self.timings["decode_tok_s"] = (completion - 1) / (ended - first)

    def retrieved(self, query: str, retrieval: Retrieval) -> None:
        """Remember what every answer of this turn reports: the rewrite and the chunks found."""
        self.base = dict(
            question=self.question,
            standalone_question=query if query != self.question else None,
            retrieved=retrieval.chunks,
            **self.asked,
        )

    def answer(self, verified: Verified | None, draft: str | None = None, reason: str = "unsupported") -> Answer:
        """The final ``Answer``: the grounded text and its citations, or the refusal saying why.

        Args:
            verified: the grounded answer (None: refused before an answer was made).
            draft: the model's draft, if one was written.
            reason: the refusal's reason code when nothing is left.
        """
        self.lap("total_s")
        rounded = {k: round(v, 3) for k, v in self.timings.items()}
        drops = dict(dropped=verified.dropped, drop_reasons=verified.reasons) if verified is not None else {}
        if verified is None or not verified.text or not verified.citations:
            if verified is not None and verified.instructed:
                reason = "instruction_in_article"
            text = INSTRUCTION_REFUSAL_TEXT if reason == "instruction_in_article" else REFUSAL_TEXT
            return Answer(
                answer=text, answerable=False, timings=rounded, draft=draft, **drops,
                refusal_reason=reason, **self.base,
            )
        return Answer(
            answer=verified.text, answerable=True, citations=verified.citations, timings=rounded,
            draft=draft, **drops, **self.base,
        )

    def not_quoted(self, verified: Verified) -> Answer:
        """The refusal of a who-said-what question whose person the passages do not quote on the
        topic; its text names who they do quote, with citations (``not_quoted_answer``)."""
        self.lap("total_s")
        return Answer(
            answer=verified.text, answerable=False, citations=verified.citations,
            timings={k: round(v, 3) for k, v in self.timings.items()},
            refusal_reason="speaker_not_quoted", **self.base,
        )


class Answerer:
    """Answers questions from a retriever and an optional chat model.

    Args:
        retriever: object with ``retrieve(query, k, filters, as_of) -> Retrieval``
            (``rag.retrieval.HybridRetriever``).
        chat_model: a LangChain chat model, or None for the extractive backend.
        params: every tunable of the answer path (``Settings.answer_params``): ``top_k``,
            ``min_relevance``, ``context_chars``, ``support_threshold``, ``extractive_sentences``,
            ``max_question_chars``, ``n_ctx``, ``max_tokens``, and ``sentence_similarity``
            (whether ``similarity`` is used).
        similarity: ``(question, sentences) -> scores`` used with word overlap to pick the
            sentences of the context.
    """

    def __init__(
        self,
        retriever: Any,
        chat_model: BaseChatModel | None,
        params: AnswerParams,
        similarity: Callable[[str, list[str]], list[float]] | None = None,
    ) -> None:
        self.retriever = retriever
        self.chat_model = chat_model
        self.params = params
        self.similarity = similarity if params.sentence_similarity else None
        self.window = Window.of(chat_model, params.n_ctx, params.max_tokens)
        self.answer_chain = self.rewrite_chain = None
        if chat_model is not None:
            self.answer_chain = ANSWER_PROMPT | chat_model | StrOutputParser()
            self.rewrite_chain = REWRITE_PROMPT | chat_model | StrOutputParser()

    # --- the stages, in order --------------------------------------------------------------------------
    def standalone(self, question: str, history: list[dict] | None, callbacks: Any = None) -> str:
        """Rewrite: the question made standalone (unchanged when there is no history).

        Args:
            question: the latest user message.
            history: earlier ``{"role", "content"}`` messages.
            callbacks: LangChain callbacks of the rewrite's model call (None: none).

        Returns:
            A standalone question.
        """
        if not history or not any(m.get("role") == "user" for m in history):
            return question
        if self.rewrite_chain is None:
            return heuristic_standalone(question, history)
        recent = fit_history(question, history, self.window, self.params.max_question_chars)
        if recent is None:
            return question
        chain = self.rewrite_chain.with_config(callbacks=callbacks) if callbacks else self.rewrite_chain
        rewritten = _clean_rewrite(complete(chain, {"history": recent, "question": question}), question)
        return rewritten if faithful_rewrite(rewritten, question, history) else question

    def retrieve(self, query: str, filters: Filters, as_of: dt.date) -> Retrieval:
        """Retrieve: the ``top_k`` chunks for ``query``."""
        return self.retriever.retrieve(query, self.params.top_k, filters, as_of)

    def relevant(self, retrieval: Retrieval) -> bool:
        """Gate: whether anything relevant enough was found to be worth answering from."""
        return bool(retrieval.chunks) and retrieval.relevance >= self.params.min_relevance

    def passages(self, query: str, retrieval: Retrieval) -> list[Passage]:
        """Context: numbered passages, the best sentences within ``context_chars`` (speakers favoured)."""
        return self._choose(query, retrieval.chunks, self.params.context_chars)

    def _choose(self, query: str, chunks: list, max_chars: int) -> list[Passage]:
        return make_passages(query, chunks, max_chars, set(speakers(query)), self.similarity)

    def fit(self, query: str, retrieval: Retrieval, passages: list[Passage], day: dt.date) -> tuple[list[Passage], dict]:
        """Prompt: the passages and the prompt's inputs, shrunk to fit the model's window."""
        return fit_context(
            query, retrieval.chunks, passages, format_today(day), self.window,
            lambda chunks, budget: self._choose(query, chunks, budget),
            self.params.context_chars or FALLBACK_CONTEXT_CHARS,
        )

    def extractive(self, query: str, passages: list[Passage], spoken: bool = False) -> Verified:
        """Generation without a model: the best sentences of the passages, quoted. ``spoken``: the
        passages are the asked person's own sentences on the topic (checked by ``speaker_evidence``),
        each worth quoting however few of the question's words it repeats."""
        min_score = 0.0 if spoken else self.params.support_threshold
        return extractive_answer(query, passages, self.params.extractive_sentences, min_score, set(speakers(query)))

    def ground(self, draft: str, passages: list[Passage], query: str, retrieval: Retrieval) -> Verified:
        """Grounding: the draft's supported claims, each cited by a verbatim quote."""
        return verify(
            draft, passages, self.params.support_threshold, query, instruction_sentences(retrieval.chunks),
            retrieval.chunks + retrieval.articles,
        )

    # --- public ------------------------------------------------------------------------------------
    def stream(
        self,
        question: str,
        *,
        history: list[dict] | None = None,
        filters: dict | Filters | None = None,
        as_of: dt.date | str | None = None,
        trace: Trace = NO_TRACE,
    ) -> Iterator[str | Stage | Answer]:
        """Answer ``question``, yielding text pieces as they are generated, then the ``Answer``.

        The streamed text is the model's draft; the final ``Answer`` is authoritative (markers
        renumbered, unsupported claims removed, or the refusal).

        Args:
            question: the user's question.
            history: earlier chat messages ``{"role": "user"|"assistant", "content": str}``.
            filters: ``{"sources", "date_from", "date_to", "article_ids"}`` restrictions.
            as_of: the day "this week" refers to (date or ``YYYY-MM-DD``; default today).
            trace: where each stage (``rewrite``, ``retrieval``, ``context``, ``prompt``,
                ``generation``, ``grounding``, and ``refusal`` for a refusal's reason) is reported
                (default: nowhere; ``rag.runnables`` reports them as LangChain callback runs).

        Yields:
            ``Stage`` events as each stage begins (``rewriting`` with history only, ``searching``,
            ``reading`` with the retrieved passages, ``writing``; ``checking`` after the text),
            ``str`` pieces, then one ``Answer``; a refusal carries ``refusal_detail``, the
            sentence saying which case it is. Callers that only handle ``str`` and ``Answer``
            skip the stages.
        """
        check_question(question, self.params.max_question_chars)
        filters = filters if isinstance(filters, Filters) else Filters.from_dict(filters)
        day = parse_date(as_of) or dt.date.today()
        turn = _Turn(question, day, filters)
        for item in self._stages(turn, question, history, filters, day, trace):
            if isinstance(item, Answer) and not item.answerable:
                with trace.stage("refusal", {"reason": item.refusal_reason}) as run:
                    detail = self.why(item, filters, day)
                    run.outputs = {"refusal_detail": detail}
                item = item.model_copy(update={"refusal_detail": detail})
            yield item

    def _stages(
        self, turn: _Turn, question: str, history: list[dict] | None, filters: Filters, day: dt.date,
        trace: Trace = NO_TRACE,
    ) -> Iterator[str | Stage | Answer]:
        """The stages of ``stream``, in order, with their ``Stage`` events (see ``stream``)."""
        if history and any(m.get("role") == "user" for m in history):
            yield Stage(name="rewriting")
        with trace.stage("rewrite", {"question": question, "history": len(history or [])}) as run:
            query = self.standalone(question, history, run.callbacks())
            run.outputs = {"query": query}
        turn.lap("rewrite_s")
        yield Stage(name="searching", query=query)
        started = time.perf_counter()
        with trace.stage("retrieval", {"query": query, "filters": filters.as_dict(), "as_of": day.isoformat()}) as run:
            retrieval = self.retrieve(query, filters, day)
            run.outputs = {"chunk_ids": [c.id for c in retrieval.chunks], "relevance": retrieval.relevance}
        turn.lap("retrieve_s", since=started)
        turn.retrieved(query, retrieval)

        relevant = self.relevant(retrieval)
        if relevant:
            yield Stage(name="reading", sources=retrieval.chunks)
        with trace.stage("context", {"query": query, "relevant": relevant}) as run:
            passages, names, refusal = self._context(turn, query, retrieval, relevant)
            run.outputs = {"passages": [p.chunk.id for p in passages], "speakers": names}
        if refusal is not None:
            yield refusal.answer
            yield refusal
            return
        if not passages:
            yield REFUSAL_TEXT
            yield turn.answer(None, reason="no_relevant_articles")
            return
        yield Stage(name="writing")
        if self.answer_chain is None:
            with trace.stage("generation", {"backend": "extractive", "passages": len(passages)}) as run:
                verified = self.extractive(query, passages, spoken=bool(names))
                run.outputs = {"text": verified.text}
            answer = turn.answer(verified)
            yield answer.answer
            yield answer
            return

        with trace.stage("prompt", {"passages": len(passages)}) as run:
            passages, inputs = self.fit(query, retrieval, passages, day)
            run.outputs = {"passages": len(passages)}
        if not passages:
            yield REFUSAL_TEXT
            yield turn.answer(None, reason="context_too_long")
            return
        started, draft, usage = time.perf_counter(), Draft(), _CallUsage()
        with trace.stage("generation", {"passages": len(passages)}) as run:
            yield from generate(self.answer_chain.with_config(callbacks=run.callbacks(usage)), inputs, draft)
            run.outputs = {"draft": draft.text}
        turn.generated(started, draft, usage.usage)
        if says_not_found(draft.text):
            yield REFUSAL_TEXT
            yield turn.answer(None, draft.text, reason="not_in_articles")
            return
        yield Stage(name="checking")
        started = time.perf_counter()
        with trace.stage("grounding", {"draft": draft.text}) as run:
            verified = self.ground(draft.text, passages, query, retrieval)
            run.outputs = {"citations": len(verified.citations), "dropped": verified.dropped}
        turn.lap("verify_s", since=started)
        answer = turn.answer(verified, draft.text)
        if not answer.answerable and not draft.shown:
            yield answer.answer
        yield answer

    def _context(
        self, turn: _Turn, query: str, retrieval: Retrieval, relevant: bool
    ) -> tuple[list[Passage], list[str], Answer | None]:
        """Context: the passages the answer is made from, the people asked about as speakers, and
        the refusal of a who-said-what question whose person is not quoted on the topic (or None).

        A who-said-what question is answered only from the asked person's own quotations.
        """
        passages = self.passages(query, retrieval) if relevant else []
        names = asked_speakers(query)
        if not names:
            return passages, names, None
        evidence = speaker_evidence(query, retrieval.chunks + retrieval.quoting, names, self.params.support_threshold)
        if not evidence.own and (passages or evidence.others):
            # others are quoted on the topic (even when the gate found the person irrelevant)
            return passages, names, turn.not_quoted(not_quoted_answer(names[0], evidence))
        return (evidence.own if passages else []), names, None

    def why(self, refusal: Answer, filters: Filters, day: dt.date) -> str:
        """Which case a refusal is, in one sentence (``rag.types.refusal_sentence``).

        When nothing relevant was found, the same search is tried again without what narrowed it
        (the filters, then the recent window of a "this week" question): only on a refusal, so
        answers cost nothing more. The answer itself is never changed.

        Args:
            refusal: the refusal (``refusal_reason`` set).
            filters: the question's filters.
            day: the day the question was answered as of.

        Returns:
            The sentence.
        """
        reason = refusal.refusal_reason or "no_relevant_articles"
        query = refusal.standalone_question or refusal.question
        if reason == "speaker_not_quoted":
            names = asked_speakers(query)
            return refusal_sentence(reason, speaker=names[0] if names else None)
        if reason != "no_relevant_articles":
            return refusal_sentence(reason)
        if not filters.empty and self._finds(query, Filters(), day):
            set_names = filters.set_names
            blamed = tuple(n for n in set_names if len(set_names) > 1 and self._finds(query, filters.without((n,)), day))
            return refusal_sentence("filtered_out", filters=filters, blamed=blamed)
        days = getattr(getattr(self.retriever, "params", None), "recent_window_days", 0)
        if days and asks_about_recent_days(query) and self._finds(query, filters, None):
            return refusal_sentence("recent_window", days=days, as_of=day)
        return refusal_sentence(reason)

    def _finds(self, query: str, filters: Filters, day: dt.date | None) -> bool:
        """Whether retrieving ``query`` with these filters and day passes the gate."""
        return self.relevant(self.retriever.retrieve(query, self.params.top_k, filters, day))

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
