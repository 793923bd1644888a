"""Measurement: choice accuracy, which grounding rule dropped each claim, refusals by reason."""

from __future__ import annotations

from fake_store import chunk_article, seed_article
from evals.metrics import (
    aggregate,
    best_choice,
    choice_outcome,
    drops_by_rule,
    refusals_by_reason,
    rescore_answer,
)
from evals.report import metric_rows, render_markdown
from rag.context import make_passages
from rag.grounding import DROP_RULES, verify
from rag.settings import Settings

ARTICLE = seed_article()
CHUNKS = chunk_article(ARTICLE)
RHODES = next(c for c in CHUNKS if "complete violation" in c.text)
MEEHAN = next(c for c in CHUNKS if "15 or 20 minutes" in c.text)
THRESHOLD = Settings().support_threshold


# --- choice accuracy ---------------------------------------------------------------------------------
def test_the_best_matching_choice_wins_and_the_longer_whole_match_beats_a_part():
    choices = ["Russia", "China and Russia", "India and Pakistan", "China"]
    assert best_choice("China and Russia held joint drills [1].", choices) == 1
    assert best_choice("India held drills.", choices) == 2  # half of a choice still points at it
    assert best_choice("Nobody held drills.", choices) is None


def test_figures_and_contained_words_count_as_the_answer_metric_counts_them():
    assert best_choice("Six months [1].", ["3", "6", "12", "24"]) == 1
    assert best_choice("Cities canceled fireworks due to the Megadrought [1].", ["Drought", "Wildfires"]) == 0


def test_one_shared_word_of_a_long_choice_does_not_pick_it():
    choices = ["Close all in-person taxpayer assistance centers", "Finish processing the backlog of 2021 tax returns"]
    assert best_choice("The IRS will do the federal gas tax holiday.", choices) is None
    assert best_choice("The IRS will finish processing its backlog of returns [1].", choices) == 1
    assert best_choice("A ban on assault weapons.", ["Ban on military-style assault weapons", "Investment in mental health"]) == 0


def test_spelling_variants_of_a_name_match_its_choice():
    choices = ["Green Day", "Blink 182", "Sum 41", "Weezer"]
    for text in ("Blink-182 reunited [1].", "Blink 182 reunited.", "blink182 reunited", "“Blink-182”"):
        assert best_choice(text, choices) == 1, text
    assert best_choice("Weezer reunited.", choices) == 3


def test_a_tie_for_best_choice_counts_as_no_choice():
    assert best_choice("It was either Europe or Asia.", ["Europe", "Asia", "Africa"]) is None


def test_choice_outcome_counts_refusals_wrong_and_skips_questions_without_a_gold_choice():
    choices = ["“Squid Game”", "“Friends”"]
    assert choice_outcome("Netflix renewed Squid Game [1].", False, choices, ["Squid Game"], True) is True
    assert choice_outcome("Friends [1].", False, choices, ["Squid Game"], True) is False
    assert choice_outcome("Squid Game", True, choices, ["Squid Game"], True) is False
    assert choice_outcome("Squid Game", False, [], ["Squid Game"], True) is None
    assert choice_outcome("Squid Game", False, choices, ["Squid Game"], False) is None


def _row(qid, answer, answerable, *, golds=("Beijing",), choices=(), q_answerable=True, reason=None,
         dropped=(), reasons=(), hit=None):
    return {
        "id": qid, "question": "?", "error": None, "answer": answer, "answerable": answerable,
        "gold": {"answers": list(golds), "choices": list(choices), "answerable": q_answerable,
                 "gold_article_ids": ["a"]},
        "outcomes": {"correct": None, "token_f1": None, "retrieval_hit": hit, "reciprocal_rank": None,
                     "refusal_correct": None, "false_refusal": None},
        "citations": [], "latency_s": 1.0, "ttft_s": None,
        "refusal_reason": reason, "dropped": list(dropped), "drop_reasons": list(reasons),
    }


def test_choice_accuracy_in_metrics_and_report():
    choices = ["Beijing", "Tokyo", "Seoul"]
    rows = [rescore_answer(r) for r in (
        _row("a", "They met in Beijing [1].", True, choices=choices),
        _row("b", "They met in Tokyo [1].", True, choices=choices),
        _row("c", "The articles don't say.", False, choices=choices, reason="not_in_articles"),
        _row("d", "No choices here.", True),
    )]
    m = aggregate(rows, 5, {})
    assert m["choice_accuracy"] == 1 / 3
    assert "answer_accuracy" in m and "citation_support" in m  # the design's keys stay
    assert ("choice_accuracy", 1 / 3) in metric_rows(m)


# --- drops by rule, refusals by reason ---------------------------------------------------------------
def test_drops_by_rule_counts_claims_answers_emptied_and_the_right_ones():
    rows = [
        # emptied by the name rule; the dropped claim held the gold answer
        _row("a", "The articles don't say.", False, reason="unsupported",
             dropped=["They met in Beijing."], reasons=["names_not_in_passage"]),
        # answered; one claim dropped for lack of support (not right)
        _row("b", "They met [1].", True, dropped=["The moon is cheese."], reasons=["no_support"]),
        # emptied by two rules, only the second claim right
        _row("c", "The articles don't say.", False, reason="unsupported",
             dropped=["Cheese.", "In Beijing."], reasons=["no_support", "not_about_question"]),
        # an unanswerable question: a dropped claim is never "right"
        _row("d", "The articles don't say.", False, reason="unsupported", q_answerable=False,
             dropped=["Beijing."], reasons=["names_not_in_passage"]),
    ]
    d = drops_by_rule(rows)
    assert d["names_not_in_passage"] == {"claims": 2, "claims_right": 1, "answers_emptied": 2,
                                         "answers_emptied_right": 1}
    assert d["no_support"] == {"claims": 2, "claims_right": 0, "answers_emptied": 1, "answers_emptied_right": 0}
    assert d["not_about_question"] == {"claims": 1, "claims_right": 1, "answers_emptied": 1,
                                       "answers_emptied_right": 1}
    m = aggregate(rows, 5, {})
    assert m["drops_by_rule"] == d
    assert ("drops_by_rule.names_not_in_passage.claims_right", 1) in metric_rows(m)
    md = render_markdown(rows, m, "t")
    assert "drops_by_rule.no_support.claims" in md


def test_refusals_by_reason_and_gate_refusals_with_the_gold_article_retrieved():
    rows = [
        _row("a", "no", False, reason="no_relevant_articles", hit=True),
        _row("b", "no", False, reason="no_relevant_articles", hit=False),
        _row("c", "no", False, reason="no_relevant_articles", q_answerable=False),
        _row("d", "no", False, reason="not_in_articles"),
        _row("e", "Beijing [1].", True),
    ]
    assert refusals_by_reason(rows) == {
        "no_relevant_articles": {"answerable": 2, "unanswerable": 1},
        "not_in_articles": {"answerable": 1, "unanswerable": 0},
    }
    m = aggregate(rows, 5, {})
    assert m["gate_false_refusals"] == 2 and m["gate_false_refusals_gold_retrieved"] == 1


# --- which rule dropped a claim ----------------------------------------------------------------------
def test_each_dropped_claim_names_the_rule_that_dropped_it():
    question = "Who said the provision of arms violated the ceasefire?"
    ps = make_passages(question, [RHODES], max_chars=0)
    v = verify("John Kerry said the provision of arms violated the ceasefire [1]. "
               "The moon is made of green cheese [1].", ps, THRESHOLD, question=question)
    assert v.text == ""
    assert v.reasons == ["names_not_in_passage", "no_support"]
    assert set(v.reasons) <= set(DROP_RULES)


def test_a_bare_answer_from_a_passage_about_something_else_is_dropped_as_not_about_the_question():
    question = "How long did the Kremlin delegation stay in Sydney harbour?"
    ps = make_passages(question, [MEEHAN], max_chars=0)
    v = verify("15 or 20 minutes [1].", ps, THRESHOLD, question=question)
    assert v.text == "" and v.reasons == ["not_about_question"]

