"""Scoring: one question's outcomes, and the aggregate figures of ``metrics.json``.

Definitions (also in ``evals/sets/README.md``):

- ``retrieval_recall_at_k``: answerable questions with a chunk of a gold article among the top
  ``k`` retrieved chunks, over answerable questions with gold articles.
- ``mrr``: mean of 1/rank of the first retrieved chunk of a gold article (0 when none), same
  questions.
- ``answer_accuracy``: answerable questions with gold answers whose normalised answer text
  contains a normalised gold answer (any of ``answers``); a refusal is wrong.
- ``token_f1``: best token F1 against any gold answer, same questions; a refusal scores 0.
- ``refusal_accuracy``: unanswerable questions answered with ``answerable`` false.
- ``false_refusal_rate``: answerable questions answered with ``answerable`` false.
- ``choice_accuracy``: answerable questions with ``choices`` (one of them the gold answer) whose
  answer matches the gold choice best (``best_choice``: a choice found whole in the answer beats
  one found in part, at least half of a choice's words must be there, ties count as wrong); a
  refusal is wrong.
- ``drops_by_rule``: per grounding rule (``rag.grounding.DROP_RULES``): ``claims`` it dropped,
  ``claims_right`` of those whose text contains a gold answer (answerable questions),
  ``answers_emptied`` (answers refused because every claim was dropped, this rule dropping at
  least one) and ``answers_emptied_right`` (of those, the ones where a claim this rule dropped
  contained a gold answer).
- ``refusals_by_reason``: refusals per ``refusal_reason``, split into ``answerable`` (false
  refusals) and ``unanswerable`` questions; ``gate_false_refusals`` counts the relevance gate's
  refusals of answerable questions and ``gate_false_refusals_gold_retrieved`` those among them
  whose gold article was in the top ``k`` all the same.
- ``citation_support``: citations (all questions) whose quote is exactly the cited article's
  stored text between ``start`` and ``end``.
- ``citation_precision``: citations on answerable questions pointing at a gold article.
- ``misattribution_rate``: who-said-what questions (those with a ``speaker``) answered (not
  refused) whose citations include a sentence that the person asked does not speak, over those
  answered; who speaks a cited span is decided by ``rag.quotes`` on the cited article (a
  sentence quoting nobody is misattributed too, and so is an answer with no citation).
- ``right_quotation_rate``: answerable who-said-what questions with ``gold_quotes`` answered with
  a citation that overlaps a gold quotation, over those questions (a refusal counts as not).
- latency percentiles: linear interpolation between closest ranks.
- ``stages``: per figure of an answer's timings (``STAGE_FIGURES``: retrieval seconds, prompt
  tokens, uncached prompt tokens, the LLM call's first token, prompt-eval and decode tokens/s,
  completion tokens, the LLM call, verification, total), its ``p50`` and ``p95`` over the answers
  that have it and their number ``n``; a figure no answer has is left out (the extractive backend
  has no LLM call, a backend that counts no tokens has no token figures).

A figure whose denominator is empty is ``None`` (null in JSON), never 0.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from evals.questions import Question
from rag.quotes import find_quotes, speaker_at, speaker_matches
from rag.text import MARKER, content_words, figure_values
from rag.types import Answer, Article

METRIC_KEYS = (
    "n_questions",
    "n_answerable",
    "n_unanswerable",
    "retrieval_recall_at_k",
    "k",
    "mrr",
    "answer_accuracy",
    "refusal_accuracy",
    "false_refusal_rate",
    "citation_precision",
    "citation_support",
    "latency_p50_s",
    "latency_p95_s",
    "ttft_p50_s",
    "config",
)


def normalize_answer(text: str) -> str:
    """The one normalisation used for answers and gold answers.

    Removes ``[n]`` citation markers, lower-cases, deletes punctuation and quote characters
    (every Unicode category P*), and collapses whitespace.

    Args:
        text: any answer or gold string.

    Returns:
        The normalised string (words separated by single spaces).
    """
    text = MARKER.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    return " ".join(text.split())


def contains_answer(answer_text: str, golds: Sequence[str]) -> bool:
    """True when a normalised gold answer is contained in the normalised answer text.

    Plain containment, as the rtqa-dev definition says (so "Europe" is found in "European").

    Args:
        answer_text: the system's answer.
        golds: acceptable answers.

    Returns:
        Whether any non-empty gold is contained.
    """
    hay = normalize_answer(answer_text)
    return any(g and g in hay for g in (normalize_answer(x) for x in golds))


def answer_outcomes(
    answer_text: str, refused: bool, golds: Sequence[str], scored: bool
) -> tuple[bool | None, float | None]:
    """(correct, token F1) of one answer; a refusal is wrong and scores 0; None when not scored.

    Args:
        answer_text: the system's answer.
        refused: the answer's ``answerable`` was False.
        golds: acceptable answers.
        scored: the question is answerable and has gold answers.
    """
    if not scored:
        return None, None
    if refused:
        return False, 0.0
    return contains_answer(answer_text, golds), token_f1(answer_text, golds)


def token_f1(answer_text: str, golds: Sequence[str]) -> float:
    """Best token-level F1 of the normalised answer against any normalised gold answer.

    Args:
        answer_text: the system's answer.
        golds: acceptable answers.

    Returns:
        F1 in [0, 1]; 0 when there are no gold tokens or no overlap.
    """
    pred = normalize_answer(answer_text).split()
    best = 0.0
    for gold in golds:
        ref = normalize_answer(gold).split()
        common = sum((Counter(pred) & Counter(ref)).values())
        if not common:
            continue
        p, r = common / len(pred), common / len(ref)
        best = max(best, 2 * p * r / (p + r))
    return best


def choice_tokens(text: str) -> list[str]:
    """The words of ``text`` for choice matching: ``normalize_answer``, but punctuation splits words
    ("Blink-182" -> blink, 182), so spelling variants of one name meet."""
    text = MARKER.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return text.split()


def _found_whole(choice: list[str], answer: list[str]) -> bool:
    """Whether the choice's words occur together in the answer, spaced or joined ("Blink 182" in
    "blink182 played")."""
    n, joined = len(choice), "".join(choice)
    for i in range(len(answer)):
        if answer[i : i + n] == choice:
            return True
        run = ""
        for token in answer[i:]:
            run += token
            if run == joined:
                return True
            if not joined.startswith(run):
                break
    return False


def choice_score(answer_text: str, choice: str) -> tuple[float, int]:
    """How well ``answer_text`` matches one quiz ``choice``: (share of the choice found, words found).

    A choice found whole (its words together, spaced or joined, or contained as the answer metric
    contains a gold answer) scores 1.0; otherwise the share of its content words
    (``rag.text.content_words``: stopwords left out, light stemming; figures read as
    ``rag.text.figure_values`` does, so "Six months" holds "6") that the answer holds. The second figure breaks ties in favour of the longer choice ("China and Russia"
    over "Russia").
    """
    answer, words_ = choice_tokens(answer_text), choice_tokens(choice)
    if not words_:
        return 0.0, 0
    if _found_whole(words_, answer) or normalize_answer(choice) in normalize_answer(answer_text):
        return 1.0, len(words_)
    content = set(content_words(" ".join(words_))) or set(words_)
    have = set(content_words(" ".join(answer))) | set(answer) | figure_values(answer_text)
    found = len(content & have)
    return found / len(content), found


MIN_CHOICE_SHARE = 0.5
"""An answer points at a choice only when it holds at least this share of the choice's words: one
shared word ("tax") of a six-word choice is not picking it."""


def best_choice(answer_text: str, choices: Sequence[str]) -> int | None:
    """Index of the choice ``answer_text`` matches best, or None (no choice reaches
    ``MIN_CHOICE_SHARE``, or a tie for best).

    Args:
        answer_text: the system's answer.
        choices: the quiz's options.
    """
    scores = [choice_score(answer_text, c) for c in choices]
    if not scores:
        return None
    top = max(scores)
    if top[0] < MIN_CHOICE_SHARE or scores.count(top) > 1:
        return None
    return scores.index(top)


def gold_choice(choices: Sequence[str], golds: Sequence[str]) -> int | None:
    """Index of the choice that is a gold answer (same normalised text), or None."""
    wanted = {normalize_answer(g) for g in golds} - {""}
    return next((i for i, c in enumerate(choices) if normalize_answer(c) in wanted), None)


def choice_outcome(answer_text: str, refused: bool, choices: Sequence[str], golds: Sequence[str],
                   answerable: bool) -> bool | None:
    """Whether the answer picks the gold choice; None when the question has no gold choice.

    Args:
        answer_text: the system's answer.
        refused: the answer's ``answerable`` was False (a refusal is wrong).
        choices: the quiz's options.
        golds: acceptable answers.
        answerable: the question is answerable.
    """
    gold = gold_choice(choices, golds) if answerable else None
    if gold is None:
        return None
    return not refused and best_choice(answer_text, choices) == gold


def attribution_outcomes(
    question: Question, answer: Answer, get_article: Callable[[str], Article | None]
) -> tuple[bool | None, bool | None]:
    """Whether a who-said-what answer gives the person asked someone else's words, and whether it
    is answered from the right quotation.

    Args:
        question: the question (``speaker`` set for who-said-what questions).
        answer: what the pipeline returned.
        get_article: looks a stored article up by id (its text is read with ``rag.quotes``).

    Returns:
        ``(misattributed, right_quotation)``: ``misattributed`` is None unless the question has a
        speaker and was answered, else True when some citation is a span the speaker does not
        speak (or there is no citation); ``right_quotation`` is None unless the question is
        answerable with gold quotes, else True when answered with a citation overlapping one.
    """
    if not question.speaker:
        return None, None
    answered = answer.answerable
    right = None
    if question.answerable and question.gold_quotes:
        right = answered and any(
            g.article_id == c.article_id and c.start < g.end and g.start < c.end
            for c in answer.citations
            for g in question.gold_quotes
        )
    if not answered:
        return None, right
    if not answer.citations:
        return True, right
    quotes: dict[str, list] = {}
    for c in answer.citations:
        if c.article_id not in quotes:
            article = get_article(c.article_id)
            quotes[c.article_id] = find_quotes(article.text) if article is not None else []
        spoken_by = speaker_at(quotes[c.article_id], c.start, c.end)
        if not any(speaker_matches(s, question.speaker) for s in spoken_by):
            return True, right
    return False, right


def first_gold_rank(retrieved_article_ids: Sequence[str], gold_ids: Sequence[str]) -> int | None:
    """1-based rank of the first retrieved chunk from a gold article, or None."""
    gold = set(gold_ids)
    for rank, article_id in enumerate(retrieved_article_ids, start=1):
        if article_id in gold:
            return rank
    return None


def score_question(
    question: Question,
    answer: Answer,
    k: int,
    get_article: Callable[[str], Article | None],
) -> dict[str, Any]:
    """Per-question outcomes (the ``outcomes`` and ``citations`` of a results.jsonl row).

    Args:
        question: the question with its gold data.
        answer: what the pipeline returned.
        k: cut-off for the retrieval hit.
        get_article: looks a stored article up by id (for citation support).

    Returns:
        ``{"outcomes": {...}, "citations": [...], "retrieved": [...]}``; an outcome that does not
        apply to this question is None.
    """
    retrieved_ids = [c.article_id for c in answer.retrieved]
    scored_retrieval = question.answerable and bool(question.gold_article_ids)
    rank = first_gold_rank(retrieved_ids, question.gold_article_ids) if scored_retrieval else None
    scored_answer = question.answerable and bool(question.answers)
    citations = []
    for c in answer.citations:
        article = get_article(c.article_id)
        supported = article is not None and article.text[c.start : c.end] == c.quote
        gold = (c.article_id in question.gold_article_ids) if question.answerable else None
        # another article that reports the same fact (news repeats itself) is a sound source too
        holds_answer = contains_answer(c.quote, question.answers) if scored_answer else None
        citations.append(
            {
                "n": c.n,
                "article_id": c.article_id,
                "quote": c.quote,
                "start": c.start,
                "end": c.end,
                "supported": supported,
                "gold_article": gold,
                "quotes_gold_answer": holds_answer,
            }
        )
    refused = not answer.answerable
    correct, f1 = answer_outcomes(answer.answer, refused, question.answers, scored_answer)
    misattributed, right_quotation = attribution_outcomes(question, answer, get_article)
    outcomes = {
        "choice_correct": choice_outcome(
            answer.answer, refused, question.choices, question.answers, question.answerable
        ),
        "retrieval_hit": (rank is not None and rank <= k) if scored_retrieval else None,
        "gold_rank": rank,
        "reciprocal_rank": ((1.0 / rank) if rank else 0.0) if scored_retrieval else None,
        "correct": correct,
        "token_f1": f1,
        "refused": refused,
        "refusal_correct": refused if not question.answerable else None,
        "false_refusal": refused if question.answerable else None,
        "who_said_what": bool(question.speaker),
        "misattributed": misattributed,
        "right_quotation": right_quotation,
    }
    retrieved = [
        {"rank": i, "article_id": c.article_id, "title": c.title, "chunk_id": c.id}
        for i, c in enumerate(answer.retrieved, start=1)
    ]
    return {"outcomes": outcomes, "citations": citations, "retrieved": retrieved}


def rescore_answer(row: dict[str, Any]) -> dict[str, Any]:
    """A results row with ``correct`` and ``token_f1`` recomputed from its stored answer text.

    Args:
        row: a results.jsonl row (error rows are returned unchanged).

    Returns:
        The updated row (a copy).
    """
    if row.get("error"):
        return row
    gold = row["gold"]
    scored = gold["answerable"] and bool(gold["answers"])
    correct, f1 = answer_outcomes(row["answer"], not row["answerable"], gold["answers"], scored)
    choice = choice_outcome(
        row["answer"], not row["answerable"], gold.get("choices") or [], gold["answers"], gold["answerable"]
    )
    outcomes = {**row["outcomes"], "correct": correct, "token_f1": f1, "choice_correct": choice}
    return {**row, "outcomes": outcomes}


def outcome_label(row: dict[str, Any]) -> str:
    """One word for a results row: correct, wrong, false_refusal, refused_ok, answered_unanswerable,
    unscored or error (used by the reports' per-question grid)."""
    if row.get("error"):
        return "error"
    o = row["outcomes"]
    if o["refusal_correct"] is not None:
        return "refused_ok" if o["refusal_correct"] else "answered_unanswerable"
    if o["false_refusal"]:
        return "false_refusal"
    if o["correct"] is None:
        return "unscored"
    return "correct" if o["correct"] else "wrong"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; None if empty."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


STAGE_FIGURES = (
    "retrieve_s",
    "prompt_tokens",
    "prompt_eval_tokens",
    "llm_ttft_s",
    "prompt_eval_tok_s",
    "completion_tokens",
    "decode_tok_s",
    "llm_s",
    "verify_s",
    "total_s",
)
"""The figures of ``Answer.timings`` summarised per stage in ``metrics.json``'s ``stages``, in order."""


def stage_timings(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """The p50 and p95 of each stage figure over the answers of a run.

    Args:
        rows: results rows (error rows and rows without ``timings`` are skipped).

    Returns:
        ``{figure: {"p50", "p95", "n"}}`` in the order of ``STAGE_FIGURES``, for the figures at
        least one answer has.
    """
    out: dict[str, dict[str, float | int | None]] = {}
    for name in STAGE_FIGURES:
        values = [
            float(r["timings"][name]) for r in rows
            if not r.get("error") and (r.get("timings") or {}).get(name) is not None
        ]
        if values:
            out[name] = {"p50": percentile(values, 50), "p95": percentile(values, 95), "n": len(values)}
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


EMPTIED_REASONS = ("unsupported", "instruction_in_article")
"""Refusal reasons of an answer whose every claim grounding dropped."""


def drops_by_rule(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per grounding rule: claims dropped, answers emptied, and how many of each were right.

    A dropped claim is right when its text contains a gold answer (``contains_answer``, answerable
    questions only). Rows written before drop reasons were recorded count nothing.

    Args:
        rows: results rows (error rows are skipped).

    Returns:
        ``{rule: {"claims", "claims_right", "answers_emptied", "answers_emptied_right"}}``.
    """
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        if r.get("error"):
            continue
        gold = r.get("gold") or {}
        golds = (gold.get("answers") or []) if gold.get("answerable") else []
        emptied = not r.get("answerable") and r.get("refusal_reason") in EMPTIED_REASONS
        right_by_rule: dict[str, bool] = {}
        for claim, rule in zip(r.get("dropped") or [], r.get("drop_reasons") or []):
            c = out.setdefault(rule, dict.fromkeys(
                ("claims", "claims_right", "answers_emptied", "answers_emptied_right"), 0))
            right = bool(golds) and contains_answer(claim, golds)
            c["claims"] += 1
            c["claims_right"] += right
            right_by_rule[rule] = right_by_rule.get(rule, False) or right
        if emptied:
            for rule, right in right_by_rule.items():
                out[rule]["answers_emptied"] += 1
                out[rule]["answers_emptied_right"] += right
    return dict(sorted(out.items()))


def refusals_by_reason(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Refusals per reason code, split by whether the question was answerable.

    Returns:
        ``{reason: {"answerable": n, "unanswerable": n}}`` (reason "unknown" for rows without one).
    """
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        if r.get("error") or r.get("answerable", True):
            continue
        reason = r.get("refusal_reason") or "unknown"
        c = out.setdefault(reason, {"answerable": 0, "unanswerable": 0})
        c["answerable" if (r.get("gold") or {}).get("answerable") else "unanswerable"] += 1
    return dict(sorted(out.items()))


def aggregate(rows: Sequence[dict[str, Any]], k: int, config: dict[str, Any]) -> dict[str, Any]:
    """The ``metrics.json`` object from results rows.

    Args:
        rows: results.jsonl rows (as written by the runner; error rows count as questions but
            contribute to no rate except the question counts).
        k: the retrieval cut-off used.
        config: every setting used, stored as is.

    Returns:
        A dict with exactly the keys of ``METRIC_KEYS`` plus ``token_f1``, ``n_errors``,
        ``answer_accuracy_when_retrieved`` (accuracy on questions whose gold chunk was in the top k),
        ``citation_precision_any_source`` (share of citations on answerable questions that
        point at a gold article or quote a gold answer from another article), ``choice_accuracy``,
        ``gate_false_refusals``, ``gate_false_refusals_gold_retrieved``, ``refusals_by_reason``,
        ``drops_by_rule`` and ``stages`` (see the module's definitions).
    """
    ok = [r for r in rows if not r.get("error")]

    def vals(name: str) -> list[Any]:
        return [r["outcomes"][name] for r in ok if r["outcomes"].get(name) is not None]

    gate = [
        r for r in ok
        if r["gold"]["answerable"] and not r.get("answerable", True)
        and r.get("refusal_reason") == "no_relevant_articles"
    ]

    cits = [c for r in ok for c in r["citations"]]
    cits_answerable = [c["gold_article"] for c in cits if c["gold_article"] is not None]
    cits_sound = [
        bool(c["gold_article"]) or bool(
            c.get("quotes_gold_answer")
            if "quotes_gold_answer" in c  # runs written before the flag existed: compute it
            else contains_answer(c["quote"], r["gold"].get("answers") or [])
        )
        for r in ok
        for c in r["citations"]
        if c["gold_article"] is not None
    ]
    latencies = [r["latency_s"] for r in ok if r.get("latency_s") is not None]
    ttfts = [r["ttft_s"] for r in ok if r.get("ttft_s") is not None]
    hit_correct = [
        r["outcomes"]["correct"]
        for r in ok
        if r["outcomes"]["retrieval_hit"] and r["outcomes"]["correct"] is not None
    ]
    metrics: dict[str, Any] = {
        "n_questions": len(rows),
        "n_answerable": sum(1 for r in rows if r["gold"]["answerable"]),
        "n_unanswerable": sum(1 for r in rows if not r["gold"]["answerable"]),
        "retrieval_recall_at_k": _mean([float(x) for x in vals("retrieval_hit")]),
        "k": k,
        "mrr": _mean(vals("reciprocal_rank")),
        "answer_accuracy": _mean([float(x) for x in vals("correct")]),
        "refusal_accuracy": _mean([float(x) for x in vals("refusal_correct")]),
        "false_refusal_rate": _mean([float(x) for x in vals("false_refusal")]),
        "citation_precision": _mean([float(x) for x in cits_answerable]),
        "citation_support": _mean([float(c["supported"]) for c in cits]),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "ttft_p50_s": percentile(ttfts, 50),
        "config": config,
        "token_f1": _mean(vals("token_f1")),
        "answer_accuracy_when_retrieved": _mean([float(x) for x in hit_correct]),
        "citation_precision_any_source": _mean([float(x) for x in cits_sound]),
        "n_citations": len(cits),
        "n_errors": len(rows) - len(ok),
        "choice_accuracy": _mean([float(x) for x in vals("choice_correct")]),
        "gate_false_refusals": len(gate),
        "gate_false_refusals_gold_retrieved": sum(1 for r in gate if r["outcomes"].get("retrieval_hit")),
        "refusals_by_reason": refusals_by_reason(ok),
        "drops_by_rule": drops_by_rule(ok),
        "n_who_said_what": sum(1 for r in ok if r["outcomes"].get("who_said_what")),
        "misattribution_rate": _mean([float(x) for x in vals("misattributed")]),
        "right_quotation_rate": _mean([float(x) for x in vals("right_quotation")]),
        "stages": stage_timings(ok),
    }
    return metrics
