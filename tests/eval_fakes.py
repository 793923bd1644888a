"""Fake pipelines for the evaluation tests, built from tests/fixtures/eval_mini (checkable by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from rag.types import REFUSAL_TEXT, Answer, Article, Chunk, Citation

FIXTURE = Path(__file__).parent / "fixtures" / "eval_mini"


def load_articles() -> dict[str, Article]:
    lines = (FIXTURE / "articles.jsonl").read_text().splitlines()
    return {a.id: a for a in (Article.model_validate_json(x) for x in lines)}


class FakeClock:
    """A perf_counter stand-in that the fake pipeline advances by each answer's total_s."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fake_pipeline(clock: FakeClock | None = None, calls: list | None = None):
    """An answer function replaying answers.json (and advancing ``clock``)."""
    articles = load_articles()
    spec = json.loads((FIXTURE / "answers.json").read_text())

    def answer_fn(q):
        if calls is not None:
            calls.append(q.id)
        s = spec[q.id]
        if clock is not None:
            clock.now += s["timings"]["total_s"]
        retrieved = [
            Chunk(id=f"{a}-c", article_id=a, text=articles[a].text, start=0,
                  end=len(articles[a].text), position=0, title=articles[a].title)
            for a in s["retrieved"]
        ]
        text = REFUSAL_TEXT if s["answer"] == "REFUSAL" else s["answer"]
        return Answer(question=q.question, answer=text, answerable=s["answerable"],
                      citations=[Citation(**c) for c in s["citations"]],
                      retrieved=retrieved, timings=s["timings"], draft=s.get("draft"),
                      dropped=s.get("dropped", []))

    return answer_fn
