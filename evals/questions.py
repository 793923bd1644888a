"""Question sets: one JSON object a line, the format of rtqa-dev's ``questions.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from rag.errors import NewsragError


class QuestionSetError(NewsragError):
    """A question set cannot be read (missing file, malformed line, duplicate id)."""


class GoldQuote(BaseModel):
    """A quotation that answers a who-said-what question: a span of a gold article."""

    article_id: str = Field(description="The article quoting the person.")
    start: int = Field(description="Character offset of the quoted sentence(s) in the article text.")
    end: int = Field(description="Character offset just past the quoted sentence(s).")


class Question(BaseModel):
    """One evaluation question with its gold data."""

    id: str = Field(description="Unique id within the set; results are keyed (and resumed) by it.")
    question: str = Field(description="The question as a user would ask it.")
    answers: list[str] = Field(
        default_factory=list, description="Acceptable answer strings; empty means not scored."
    )
    choices: list[str] = Field(default_factory=list, description="Quiz options (informative only).")
    gold_article_ids: list[str] = Field(
        default_factory=list, description="Articles that contain the answer."
    )
    answerable: bool = Field(default=True, description="False when the corpus cannot answer it.")
    asked_on: str | None = Field(
        default=None, description="YYYY-MM-DD the question refers to ('this week'); passed as as_of."
    )
    speaker: str | None = Field(
        default=None,
        description="For a who-said-what question, the person asked about ('What did <speaker> say "
        "...'); an answer must cite that person's own quotations.",
    )
    gold_quotes: list[GoldQuote] = Field(
        default_factory=list, description="The gold quotations of ``speaker`` that answer the question."
    )


def load_questions(path: Path, limit: int | None = None) -> list[Question]:
    """Read a question set.

    Args:
        path: a ``.jsonl`` file, one question object a line (blank lines ignored).
        limit: keep only the first ``limit`` questions (None keeps all).

    Returns:
        The questions in file order.

    Raises:
        QuestionSetError: the file is missing, a line is not a valid question, or ids repeat.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as err:
        raise QuestionSetError(f"Cannot read question set {path}: {err.strerror or err}.") from err
    questions: list[Question] = []
    seen: set[str] = set()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            q = Question.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as err:
            first = str(err).splitlines()[0]
            raise QuestionSetError(f"{path}:{lineno}: not a valid question ({first}).") from err
        if q.id in seen:
            raise QuestionSetError(f"{path}:{lineno}: duplicate question id {q.id!r}.")
        seen.add(q.id)
        questions.append(q)
        if limit is not None and len(questions) >= limit:
            break
    if not questions:
        raise QuestionSetError(f"{path} holds no questions.")
    return questions
