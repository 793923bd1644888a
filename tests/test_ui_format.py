"""The chat's HTML: escaping, quote highlighting by offsets, [n] links, the refusal look, uploads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.types import REFUSAL_TEXT, Answer, Article, Citation
from ui.format import (
    copy_button,
    format_answer,
    format_sources,
    format_stats,
    format_streaming,
    link_markers,
    quote_in_paragraph,
    source_anchor,
)
from ui.uploads import UploadRejected, safe_name, store_upload

TEXT = (
    "Obama, Putin discuss Ukraine\n\n"
    "Officials met in Beijing.\n\n"
    "Rhodes said the arms were in “complete violation of the spirit” of a ceasefire. "
    "He added more.\n\n"
    "Last paragraph."
)
QUOTE = "Rhodes said the arms were in “complete violation of the spirit” of a ceasefire."
START = TEXT.index(QUOTE)
END = START + len(QUOTE)


def article(text: str = TEXT) -> Article:
    return Article(id="a1", title="Obama, Putin discuss Ukraine", text=text, published="2014-11-11", source="CNN")


def citation(n: int = 1, **kw) -> Citation:
    base = dict(
        n=n, article_id="a1", title="Obama, Putin discuss Ukraine", url="https://example.com/a1",
        published="2014-11-11", source="CNN", quote=QUOTE, start=START, end=END,
    )
    base.update(kw)
    return Citation(**base)


def answer(text: str = "Rhodes called it a violation [1].", **kw) -> Answer:
    base = dict(question="What did Rhodes say about Ukraine?", answer=text, answerable=True, citations=[citation()])
    base.update(kw)
    return Answer(**base)


def test_quote_is_marked_inside_its_paragraph_only():
    out = quote_in_paragraph(TEXT, START, END)
    assert out.startswith("<mark>")  # the quote opens its paragraph
    assert "<mark>Rhodes said the arms were in “complete violation of the spirit” of a ceasefire.</mark>" in out
    assert out.endswith(" He added more.")
    assert "Officials met" not in out and "Last paragraph" not in out


def test_quote_in_middle_of_paragraph_keeps_both_sides():
    start = TEXT.index("“complete")
    end = TEXT.index("” of") + 1
    out = quote_in_paragraph(TEXT, start, end)
    assert out == (
        "Rhodes said the arms were in <mark>“complete violation of the spirit”</mark> of a ceasefire. He added more."
    )


def test_long_paragraph_is_trimmed_around_the_quote():
    text = "word " * 400 + "THE QUOTE" + " tail" * 400
    start = text.index("THE QUOTE")
    out = quote_in_paragraph(text, start, start + len("THE QUOTE"), context=50)
    assert "<mark>THE QUOTE</mark>" in out
    assert out.startswith("… ") and out.endswith(" …")
    assert len(out) < 200


def test_article_text_is_escaped_never_html():
    evil = "Intro\n\n<script>alert(1)</script> said <b>x</b> & <img src=x onerror=alert(2)>"
    q = "<b>x</b>"
    start = evil.index(q)
    out = quote_in_paragraph(evil, start, start + len(q))
    assert "<script>" not in out and "<img" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<mark>&lt;b&gt;x&lt;/b&gt;</mark>" in out
    assert "&amp;" in out


def test_markers_link_to_their_source_entries_and_unknown_ones_stay_text():
    out = link_markers("A [1] and B [2] and <i>[3]</i>", turn=4, known={1, 2})
    assert '<a class="cite" href="#src-4-1"' in out and '<a class="cite" href="#src-4-2"' in out
    assert "#src-4-3" not in out and "[3]" in out
    assert "&lt;i&gt;" in out and "<i>" not in out


def test_answer_bubble_links_markers_and_sources_carry_matching_ids():
    a = answer()
    bubble = format_answer(a, turn=2)
    assert 'href="#src-2-1"' in bubble and 'class="answer"' in bubble and "refusal" not in bubble
    panel = format_sources([answer(question="earlier"), a], lambda _id: article())
    assert f'id="{source_anchor(2, 1)}"' in panel and f'id="{source_anchor(1, 1)}"' in panel
    assert panel.index('id="src-2-1"') < panel.index('id="src-1-1"')  # newest answer first
    for piece in ("Obama, Putin discuss Ukraine", "2014-11-11", "CNN", 'href="https://example.com/a1"', "<mark>"):
        assert piece in panel


def test_refusal_has_its_own_look_and_no_links():
    bubble = format_answer(Answer(question="q", answer=REFUSAL_TEXT, answerable=False), turn=1)
    assert 'class="refusal"' in bubble and "Not in the articles" in bubble
    assert 'class="answer"' not in bubble and "cite" not in bubble
    assert "The articles don&#x27;t say." in bubble
    assert bubble.endswith(copy_button(Answer(question="q", answer=REFUSAL_TEXT, answerable=False)))


def test_sources_fall_back_to_the_quote_when_article_is_missing_or_differs():
    panel = format_sources([answer()], lambda _id: None)
    assert f"<mark>{QUOTE}</mark>" in panel
    changed = article("Completely different text now, offsets no longer match anything here at all." * 3)
    panel = format_sources([answer()], lambda _id: changed)
    assert f"<mark>{QUOTE}</mark>" in panel and "Completely different" not in panel


def test_only_http_links_are_clickable():
    a = answer(citations=[citation(url="javascript:alert(1)")])
    panel = format_sources([a], lambda _id: article())
    assert "javascript:" not in panel


def test_title_and_question_are_escaped():
    a = answer(question="<img src=x>?", citations=[citation(title="<script>x</script>")])
    panel = format_sources([a], lambda _id: article())
    assert "<script>" not in panel and "<img" not in panel
    assert "&lt;script&gt;" in panel


def test_streaming_text_is_escaped():
    assert format_streaming("<b>bold</b> [1]") == '<div class="answer streaming">&lt;b&gt;bold&lt;/b&gt; [1]</div>'


def test_stats_line():
    line = format_stats({"articles": 3, "chunks": 17, "last_ingest": "2026-11-28T08:00:00", "sources": ["CNN", "<x>"]})
    assert "**3** articles" in line and "**17** chunks" in line and "2026-11-28" in line
    assert "&lt;x&gt;" in line


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd.txt", "/abs/path/a.md", "..\\..\\win.json", "a/b/../c.jsonl", "x.HTML"],
)
def test_upload_names_are_generated_never_paths(name):
    out = safe_name(name, "ab" * 32)
    assert "/" not in out and "\\" not in out and ".." not in out
    assert out.endswith(("-abababababab.txt", "-abababababab.md", "-abababababab.json",
                         "-abababababab.jsonl", "-abababababab.html"))


def test_uploads_accept_exactly_what_ingest_reads():
    from ingest.loaders import SUPPORTED_SUFFIXES
    from ui.uploads import ACCEPTED_EXTENSIONS

    assert set(ACCEPTED_EXTENSIONS) == SUPPORTED_SUFFIXES and ".markdown" in ACCEPTED_EXTENSIONS
    assert safe_name("notes.Markdown", "ab" * 32) == "notes-abababababab.markdown"


def test_upload_of_unsupported_type_is_rejected():
    with pytest.raises(UploadRejected, match="not a supported type"):
        safe_name("evil.sh", "00" * 32)


def test_store_upload_copies_under_store_uploads(tmp_path):
    src = tmp_path / "in" / "..weird name.txt"
    src.parent.mkdir()
    src.write_text("Title\n\nBody.", encoding="utf-8")
    store = tmp_path / "store"
    out = store_upload(src, "../../../escape.txt", store, max_bytes=1000)
    assert out.parent == (store / "uploads").resolve()
    assert out.read_text(encoding="utf-8") == "Title\n\nBody."
    assert not (tmp_path / "escape.txt").exists()
    # the same content lands on the same name (re-upload adds nothing new)
    assert store_upload(src, "../../../escape.txt", store, max_bytes=1000) == out
    with pytest.raises(UploadRejected, match="limit"):
        store_upload(src, "big.txt", store, max_bytes=5)
    assert sorted(p.name for p in Path(store, "uploads").iterdir()) == [out.name]


def test_sources_say_where_else_a_near_duplicate_article_was_found_escaped_and_linked_only_over_http():
    from rag.store import Origin

    copies = [
        Origin(id="c1", url="https://wire.example/ada?a=1&b=2", source="Wire"),
        Origin(id="c2", path="/data/in/<b>copy.txt", source="<i>Gazette</i>"),
        Origin(id="c3", url="javascript:alert(1)", path="C:\\news\\evil.html"),
        Origin(id="<x>"),
    ]
    panel = format_sources([answer()], lambda _id: article(), lambda _id: copies)
    (line,) = re.findall(r'<div class="source-also">.*?</div>', panel)
    assert line == (
        '<div class="source-also">also in: <a href="https://wire.example/ada?a=1&amp;b=2" target="_blank" '
        'rel="noopener noreferrer">https://wire.example/ada?a=1&amp;b=2</a> (Wire); '
        "&lt;b&gt;copy.txt (&lt;i&gt;Gazette&lt;/i&gt;); evil.html; &lt;x&gt;</div>"
    )
    assert "javascript:" not in panel
    assert "source-also" not in format_sources([answer()], lambda _id: article(), lambda _id: [])
    assert "source-also" not in format_sources([answer()], lambda _id: article())
