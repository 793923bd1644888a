"""Metric arithmetic on a hand-made fixture where every figure is known by hand.

tests/fixtures/eval_mini: 3 articles, 6 questions (4 answerable, 2 unanswerable) and the answers a
fake pipeline gives (answers.json). Expected figures, worked out by hand (k = 2):

- recall@2: q1 rank 1, q2 rank 2, q3 rank 3 (miss), q6 rank 1 -> 3/4
- MRR: (1 + 1/2 + 1/3 + 1) / 4
- answer accuracy: q1 right, q2 wrong (Shanghai), q3 refused (wrong), q6 right -> 2/4
- token F1: q1 2/6 precision, full recall -> 0.5; q2 0; q3 0; q6 "barack obama" in 5 tokens
  -> 2*(2/5)/(1+2/5) = 4/7; mean (0.5 + 4/7) / 4
- refusal accuracy: q4 refused, q5 answered -> 1/2; false refusal rate: q3 of 4 -> 1/4
- citations: 5 in all; q2's quote is not the article text -> support 4/5; on answerable
  questions 4 citations, gold ones q1[1], q6[1] -> precision 2/4 (q5's citation is not counted)
- latency (fake clock, s): 1..6 -> p50 3.5, p95 5.75; ttft 0.2, 0.4, 0.6 -> p50 0.4
"""

from __future__ import annotations

import json

import pytest

from evals import runner
from evals.metrics import (
    METRIC_KEYS,
    aggregate,
    contains_answer,
    normalize_answer,
    percentile,
    token_f1,
)
from eval_fakes import FIXTURE, FakeClock, fake_pipeline, load_articles
from evals.questions import QuestionSetError, load_questions


@pytest.fixture
def run(tmp_path, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(runner.time, "perf_counter", clock)
    articles = load_articles()
    questions = load_questions(FIXTURE / "questions.jsonl")
    rows, metrics = runner.run_eval(
        questions, fake_pipeline(clock), tmp_path / "out", k=2,
        get_article=articles.get, config={"preset": "fake"}, progress=False,
    )
    return rows, metrics


def test_metric_arithmetic_by_hand(run):
    _, m = run
    assert set(METRIC_KEYS) <= set(m)
    assert (m["n_questions"], m["n_answerable"], m["n_unanswerable"]) == (6, 4, 2)
    assert m["k"] == 2
    assert m["retrieval_recall_at_k"] == pytest.approx(3 / 4)
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1) / 4)
    assert m["answer_accuracy"] == pytest.approx(2 / 4)
    assert m["token_f1"] == pytest.approx((0.5 + 4 / 7) / 4)
    assert m["refusal_accuracy"] == pytest.approx(1 / 2)
    assert m["false_refusal_rate"] == pytest.approx(1 / 4)
    assert m["citation_support"] == pytest.approx(4 / 5)
    assert m["citation_precision"] == pytest.approx(2 / 4)
    # neither non-gold citation (q2 "The weather was", q6 "Rhodes") quotes a gold answer
    assert m["citation_precision_any_source"] == pytest.approx(2 / 4)
    assert m["latency_p50_s"] == pytest.approx(3.5)
    assert m["latency_p95_s"] == pytest.approx(5.75)
    assert m["ttft_p50_s"] == pytest.approx(0.4)
    assert m["config"] == {"preset": "fake"}
    # accuracy on the questions whose gold chunk was in the top k: q1 right, q2 wrong, q6 right
    assert m["answer_accuracy_when_retrieved"] == pytest.approx(2 / 3)


def test_per_question_outcomes(run):
    rows, _ = run
    by_id = {r["id"]: r for r in rows}
    assert by_id["q2"]["citations"][0]["supported"] is False
    assert by_id["q2"]["citations"][0]["gold_article"] is False
    assert by_id["q3"]["outcomes"]["false_refusal"] is True
    assert by_id["q3"]["outcomes"]["gold_rank"] == 3
    assert by_id["q5"]["outcomes"]["refusal_correct"] is False
    assert by_id["q5"]["citations"][0]["gold_article"] is None
    assert by_id["q4"]["outcomes"]["correct"] is None
    assert [x["rank"] for x in by_id["q3"]["retrieved"]] == [1, 2, 3]


def test_metrics_json_written(run, tmp_path):
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["answer_accuracy"] == pytest.approx(0.5)
    assert len((tmp_path / "out" / "results.jsonl").read_text().splitlines()) == 6


def test_normalisation():
    assert normalize_answer("“Squid Game”!") == "squid game"
    assert normalize_answer("It was a [1] U.S.-led  deal [2].") == "it was a usled deal"
    assert contains_answer("The show is “Squid Game” [1].", ["Squid Game"])
    assert contains_answer("The European Union will require it.", ["Europe"])  # plain containment
    assert not contains_answer("It will be Asia.", ["Europe"])
    assert not contains_answer("anything", [""])
    assert token_f1("nothing shared", ["Beijing"]) == 0.0


def test_empty_denominators_are_none():
    m = aggregate([], 5, {})
    assert m["n_questions"] == 0
    assert m["answer_accuracy"] is None and m["latency_p50_s"] is None
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0


def test_question_set_errors(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "x", "question": "a?"}\n{"id": "x", "question": "b?"}\n')
    with pytest.raises(QuestionSetError, match="duplicate"):
        load_questions(bad)
    bad.write_text('{"id": "x"\n')
    with pytest.raises(QuestionSetError, match=":1:"):
        load_questions(bad)
    with pytest.raises(QuestionSetError, match="Cannot read"):
        load_questions(tmp_path / "missing.jsonl")


def test_rescore_answer_recomputes_from_stored_text(run):
    from evals.metrics import rescore_answer

    rows, _ = run
    q1 = next(r for r in rows if r["id"] == "q1")
    stale = {**q1, "outcomes": {**q1["outcomes"], "correct": False, "token_f1": 0.0}}
    fresh = rescore_answer(stale)
    assert fresh["outcomes"]["correct"] is True and fresh["outcomes"]["token_f1"] == pytest.approx(0.5)
    q3 = next(r for r in rows if r["id"] == "q3")  # a refusal stays wrong
    assert rescore_answer(q3)["outcomes"]["correct"] is False


def test_a_citation_of_another_article_that_quotes_the_answer_counts_as_a_sound_source():
    from evals.metrics import score_question
    from evals.questions import Question
    from rag.types import Answer, Article, Citation

    roundup = Article(id="roundup", title="Five things", text="Obama met Putin in Beijing on Monday.")
    q = Question(id="q", question="Where did Obama meet Putin?", answers=["Beijing"], gold_article_ids=["a2"])
    cite = Citation(n=1, article_id="roundup", quote="Obama met Putin in Beijing on Monday.", start=0, end=37)
    row = score_question(q, Answer(question=q.question, answer="In Beijing [1].", answerable=True,
                                   citations=[cite]), 2, {"roundup": roundup}.get)
    (c,) = row["citations"]
    assert c["gold_article"] is False and c["quotes_gold_answer"] is True and c["supported"] is True
    m = aggregate([{"id": "q", "gold": {"answerable": True}, "error": None, "latency_s": 1.0, "ttft_s": None,
                    **row}], 2, {})
    assert m["citation_precision"] == 0.0
    assert m["citation_precision_any_source"] == 1.0
