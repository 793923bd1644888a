"""Answers as text to take away: an answer's Copy text, the conversation as Markdown and as JSON."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from rag.types import REFUSAL_TEXT, Answer, Citation
from ui.export import answer_markdown, conversation_json, conversation_markdown
from ui.format import copy_button
from ui.handlers import EXPORT_NAME, export_files, new_session

RHODES = Citation(
    n=1, article_id="000_d8ed5a87b2fc358e", title="Obama, Putin discuss Syria, Iran and Ukraine", source="CNN",
    published="2014-11-11", quote="Rhodes said the arms were in “complete violation of the spirit” of a ceasefire.",
    start=10, end=90, speaker="Ben Rhodes",
)
FERRY = Citation(
    n=2, article_id="ferry", title="Harbor <council>", url="https://example.org/ferry?a=1&b=2",
    quote="The ferry will run in spring.", start=0, end=29,
)
ANSWER = Answer(
    question="What did Rhodes say?", answer="He called it a violation [1]; the ferry runs in spring [2].",
    answerable=True, citations=[FERRY, RHODES], as_of="2014-11-12", timings={"total_s": 1.5},
)
REFUSAL = Answer(question="Goulash?", answer=REFUSAL_TEXT, answerable=False, refusal_reason="nothing_relevant",
                 refusal_detail="No article is about this.")


def test_an_answer_copies_as_text_with_its_quotes_titles_dates_and_addresses():
    assert answer_markdown(ANSWER) == (
        "He called it a violation [1]; the ferry runs in spring [2].\n\n"
        "Sources:\n\n"
        "[1] Obama, Putin discuss Syria, Iran and Ukraine — CNN — 2014-11-11\n"
        "> Ben Rhodes said: “Rhodes said the arms were in “complete violation of the spirit” of a ceasefire.”\n\n"
        "[2] Harbor <council> — undated — https://example.org/ferry?a=1&b=2\n"
        "> “The ferry will run in spring.”\n"
    )
    assert answer_markdown(REFUSAL) == f"Not in the articles: {REFUSAL_TEXT} No article is about this.\n"


def test_the_copy_link_carries_that_text_on_one_line():
    link = copy_button(ANSWER)
    assert "\n" not in link and "<council>" not in link
    carried = re.search(r'<span class="copy-text">([^<]*)</span>', link).group(1)
    assert html.unescape(carried) == answer_markdown(ANSWER)


def test_the_conversation_as_markdown_has_each_question_its_answer_and_sources():
    text = conversation_markdown([ANSWER, REFUSAL])
    assert text.startswith("# newsrag conversation\n\n## Q1: What did Rhodes say?\n\n_As of 2014-11-12._\n\n")
    assert answer_markdown(ANSWER).strip() in text
    assert "## Q2: Goulash?\n\nNot in the articles: " in text and text.endswith("No article is about this.\n")


def test_the_conversation_as_json_is_the_objects_ask_json_prints():
    objects = json.loads(conversation_json([ANSWER, REFUSAL]))
    assert objects == [ANSWER.contract(), REFUSAL.contract()]
    assert objects[0]["citations"][0]["url"] == "https://example.org/ferry?a=1&b=2"
    assert "“complete violation" in conversation_json([ANSWER])  # characters kept, not \\u escapes


def test_export_files_are_written_per_conversation_and_none_before_an_answer(tmp_path):
    assert export_files(new_session(), tmp_path) == (None, None)
    md, js = export_files(dict(new_session(), turns=[ANSWER]), tmp_path)
    assert Path(md).name == f"{EXPORT_NAME}.md" and Path(js).name == f"{EXPORT_NAME}.json"
    assert Path(md).read_text(encoding="utf-8") == conversation_markdown([ANSWER])
    assert json.loads(Path(js).read_text(encoding="utf-8")) == [ANSWER.contract()]
    other, _ = export_files(dict(new_session(), turns=[ANSWER, REFUSAL]), tmp_path)
    assert Path(other).parent != Path(md).parent and Path(md).exists()  # another session's file is kept
