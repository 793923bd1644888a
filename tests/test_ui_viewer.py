"""The article viewer: a source clicked in the sources panel opens its article in full, the cited
sentence highlighted by its offsets, everything escaped, paragraphs kept."""

from __future__ import annotations

from rag.types import Article, Citation
from ui.format import format_article
from ui.handlers import new_session, open_article
from ui_server import FakeBackend
from test_ui_handlers import ask_in_chat

TEXT = (
    "Harbor <script>alert(1)</script> news\n\n"
    "The council met on Monday.\n\n"
    "The mayor said the ferry & the bus would run. More followed.\n\n"
    "Last paragraph."
)
QUOTE = "The mayor said the ferry & the bus would run."
START = TEXT.index(QUOTE)


def citation(**kw) -> Citation:
    base = dict(n=2, article_id="harbor", title="Harbor news", quote=QUOTE, start=START, end=START + len(QUOTE))
    return Citation(**{**base, **kw})


def article(**kw) -> Article:
    return Article(**{**dict(id="harbor", title="Harbor <b>news</b>", text=TEXT, published="2014-11-11",
                             source="Wire", url="https://example.org/harbor?a=1&b=2"), **kw})


def test_the_whole_article_is_shown_escaped_in_its_paragraphs_with_the_cited_sentence_marked():
    shown = format_article(article(), citation(), 3)
    assert shown.count("<p>") == 4
    assert "<p>Harbor &lt;script&gt;alert(1)&lt;/script&gt; news</p>" in shown and "<script>" not in shown
    assert ('<p><mark class="cited" id="cited">The mayor said the ferry &amp; the bus would run.</mark>'
            " More followed.</p>") in shown
    assert '<div class="viewer-title">Harbor &lt;b&gt;news&lt;/b&gt;</div>' in shown
    assert "2014-11-11 · Wire · " in shown
    assert 'href="https://example.org/harbor?a=1&amp;b=2" target="_blank" rel="noopener noreferrer"' in shown
    assert "[2] of answer 3" in shown


def test_an_article_without_a_web_address_or_date_and_a_bad_address_show_no_link():
    for url in (None, "javascript:alert(1)", "data:text/html,x"):
        shown = format_article(article(url=url, published=None), citation(), 1)
        assert "<a " not in shown and "javascript" not in shown
        assert '<div class="viewer-meta">undated · Wire</div>' in shown


def test_a_quote_across_paragraphs_is_marked_in_each_and_scrolled_to_at_its_start():
    start = TEXT.index("Monday.")
    end = TEXT.index("The mayor said") + len("The mayor said")
    shown = format_article(article(), citation(quote=TEXT[start:end], start=start, end=end), 1)
    assert '<mark class="cited" id="cited">Monday.</mark>' in shown
    assert '<mark class="cited">The mayor said</mark>' in shown


def test_a_moved_quote_is_found_and_a_vanished_one_is_said():
    moved = format_article(article(), citation(start=0, end=len(QUOTE)), 1)
    assert '<mark class="cited" id="cited">The mayor said the ferry &amp; the bus would run.</mark>' in moved
    gone = format_article(article(text="Other text.\n\nNothing here."), citation(), 1)
    assert "no longer in this article as stored" in gone and "<p>Nothing here.</p>" in gone
    missing = format_article(None, citation(), 1)
    assert "no longer in the library" in missing and "Harbor news" in missing


def test_clicking_a_source_opens_its_article_from_the_backend():
    backend = FakeBackend()
    _, _, session, _ = ask_in_chat(backend, "Who is Ada?")[-1]
    shown = open_article(backend, session, "src-1-1")
    assert '<mark class="cited" id="cited">Ada is here today.</mark>' in shown
    assert "<p>Intro.</p>" in shown and '<div class="viewer-meta">undated · Wire</div>' in shown
    for anchor in ("src-2-1", "src-1-9", "src-0-1", "x", "", None):
        assert open_article(backend, session, anchor) is None
    assert open_article(backend, new_session(), "src-1-1") is None
