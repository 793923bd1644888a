"""The chat's progress, as-of date, filters line and refusal sentences, through the handlers and
the HTML (no server): a backend that streams ``rag``'s stage events, the answer line, validation."""

from __future__ import annotations

import datetime as dt

from rag.types import Answer, Chunk, Stage
from ui.format import copy_button, describe_filters, format_answer, format_asked, format_stage
from ui.handlers import (
    QUEUED_HTML, AnswerLine, answer, check_inputs, filters_line, new_session, submit, today,
)
from ui_server import FakeBackend

CHUNK = Chunk(id="c1", article_id="a1", text="Ada is here.", start=0, end=12, position=0, title="About Ada",
              published="2014-11-02")
LATER = CHUNK.model_copy(update={"id": "c2", "article_id": "a2", "title": "More Ada", "published": "2014-11-09"})


class StagedBackend(FakeBackend):
    """Yields ``rag``'s stages before the fake's text, and records the as-of day it was given."""

    def stream(self, question, history, filters, as_of=None):
        self.as_of = as_of
        yield Stage(name="searching", query=question)
        yield Stage(name="reading", sources=[CHUNK, LATER])
        yield Stage(name="writing")
        for item in super().stream(question, history, filters, as_of):
            if isinstance(item, Answer):
                yield Stage(name="checking")
            yield item


def test_the_bubble_shows_each_stage_until_the_text_comes():
    backend = StagedBackend()
    _, chat, session, _ = submit("Who is Ada?", [], new_session())
    bubbles = [state[0][-1]["content"] for state in answer(backend, chat, session, [], "", "", "2014-11-11")]
    assert bubbles[0] == '<div class="stage" role="status">Searching the articles…</div>'
    assert bubbles[1] == (
        '<div class="stage" role="status">Reading 2 articles…'
        '<div class="stage-sources">About Ada · More Ada</div></div>'
    )
    assert bubbles[2] == '<div class="stage" role="status">Writing the answer…</div>'
    assert bubbles[3].startswith('<div class="answer streaming">Ada ')
    assert bubbles[-2].endswith('<div class="stage" role="status">Checking the citations…</div>')
    assert 'class="answer"' in bubbles[-1] and "stage" not in bubbles[-1]
    assert backend.as_of == "2014-11-11"


def test_waiting_in_line_only_while_another_answer_is_being_written():
    line = AnswerLine()
    _, chat, _, _ = submit("Who is Ada?", [], new_session(), waiting=line.busy)
    assert chat[-1]["content"] == format_stage(None) == '<div class="stage" role="status">Starting…</div>'
    writing = answer(StagedBackend(), chat, dict(new_session(), pending="Who is Ada?"), [], "", "")

    def counted():
        with line.writing():
            yield from writing

    running = counted()
    next(running)  # an answer is being written
    _, chat, _, _ = submit("Who is Bob?", [], new_session(), waiting=line.busy)
    assert chat[-1]["content"] == QUEUED_HTML
    running.close()  # stopped: Gradio closes the handler
    assert not line.busy


def test_a_bad_as_of_date_is_said_at_once_and_nothing_is_asked():
    assert check_inputs(today(), [], "", "") == ""
    message = check_inputs("2014-13-01", [], "", "")
    assert message == (
        '<div class="error">As of &#x27;2014-13-01&#x27; is not a date like 2014-11-11. '
        "The question is not asked until it is.</div>"
    )
    session = new_session()
    assert submit("Who is Ada?", [], session, as_of="2014-13-01") == ("Who is Ada?", [], session, None)
    assert submit("Who is Ada?", [], session, date_to="soon")[3] is None
    assert "Filter date &#x27;soon&#x27;" in check_inputs("", [], "", "soon")


def test_the_active_filters_in_one_line():
    assert filters_line([], "", "") == "Filters: all articles"
    assert filters_line(["CNN", "Wire"], "2014-11-01", "") == "Filters: from CNN or Wire, published since 2014-11-01"
    assert filters_line([], "", "2014-11-30") == "Filters: published up to 2014-11-30"
    assert filters_line([], "Nov 1", "") == "Filters: Filter date 'Nov 1' is not a date like 2014-11-11."
    assert describe_filters({"date_from": "2014-11-01", "date_to": "2014-11-30"}) == (
        "published between 2014-11-01 and 2014-11-30"
    )


def test_under_each_answer_what_was_asked_as_of_when_over_what():
    a = Answer(question="and Bob?", standalone_question="and Bob? (Ada)", answer="Bob is here [1].", answerable=True,
               retrieved=[LATER, CHUNK], as_of="2014-11-11", filters={"sources": ["Wire"]})
    assert format_asked(a) == (
        '<div class="asked">read as “and Bob? (Ada)” · as of 2014-11-11 · articles of 2014-11-02 to '
        "2014-11-09 · from Wire</div>"
    )
    plain = Answer(question="q", answer="x", answerable=True, retrieved=[CHUNK], as_of="2014-11-11")
    assert format_asked(plain) == '<div class="asked">as of 2014-11-11 · articles of 2014-11-02 · no filters</div>'
    assert format_asked(Answer(question="q", answer="x", answerable=True)) == ""  # not from rag: nothing to say
    assert format_answer(a, 1).endswith(format_asked(a) + copy_button(a))


def test_a_refusal_says_which_case_it_is():
    refusal = Answer(question="q", answer="The articles don't say.", answerable=False, as_of=dt.date.today().isoformat(),
                     refusal_reason="no_relevant_articles", filters={"sources": ["Wire"]},
                     refusal_detail="No article from Wire matches the question; without that filter the library has some that do.")
    bubble = format_answer(refusal, 1)
    assert '<div class="refusal-why">No article from Wire matches the question;' in bubble
    assert bubble.index("refusal-why") < bubble.index('class="asked"')
