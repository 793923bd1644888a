"""Answers as text to take away: one answer for the clipboard, the whole conversation to download.

Markdown that reads as plain text (each claim's ``[n]``, then each source: title, source, date, web
address and the quote), and JSON of the objects ``newsrag ask --json`` prints, one per answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from rag.types import Answer, Citation


def source_markdown(citation: Citation) -> str:
    """One source of an answer: ``[n] Title — Source, 2014-11-11 — URL`` then the quote as a
    block quote (with who says it, when the article names them).

    Args:
        citation: the citation.

    Returns:
        Markdown (plain text), no trailing newline.
    """
    about = [citation.title or citation.article_id]
    about += [x for x in (citation.source, citation.published or "undated", citation.url) if x]
    said = f"{citation.speaker} said: " if citation.speaker else ""
    quote = "\n".join(f"> {line}" if line else ">" for line in f"{said}“{citation.quote}”".split("\n"))
    return f"[{citation.n}] {' — '.join(about)}\n{quote}"


def answer_markdown(answer: Answer) -> str:
    """An answer as the chat's Copy button copies it: its text with the ``[n]`` markers, then its
    sources; a refusal says it is not in the articles, and why.

    Args:
        answer: the answer.

    Returns:
        Markdown (plain text), ending in a newline.
    """
    if not answer.answerable:
        why = f" {answer.refusal_detail}" if answer.refusal_detail else ""
        return f"Not in the articles: {answer.answer}{why}\n"
    parts = [answer.answer.strip()]
    if answer.citations:
        parts.append("Sources:\n\n" + "\n\n".join(source_markdown(c) for c in sorted(answer.citations, key=lambda c: c.n)))
    return "\n\n".join(parts) + "\n"


def conversation_markdown(turns: Sequence[Answer]) -> str:
    """The whole conversation: each question as a heading, its answer and sources under it.

    Args:
        turns: the chat's answers in order.

    Returns:
        A Markdown document.
    """
    blocks = ["# newsrag conversation"]
    for i, answer in enumerate(turns, 1):
        asked = f"\n\n_As of {answer.as_of}._" if answer.as_of else ""
        blocks.append(f"## Q{i}: {answer.question.strip()}{asked}\n\n{answer_markdown(answer).rstrip()}")
    return "\n\n".join(blocks) + "\n"


def conversation_json(turns: Sequence[Answer]) -> str:
    """The whole conversation as a JSON array of the objects ``newsrag ask --json`` prints.

    Args:
        turns: the chat's answers in order.

    Returns:
        JSON text (UTF-8 characters kept, indented).
    """
    return json.dumps([a.contract() for a in turns], ensure_ascii=False, indent=2) + "\n"
