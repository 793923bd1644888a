"""The chat's handlers called directly with the fake backend: no Gradio app, no server."""

from __future__ import annotations

import copy
import logging

import pytest

from rag.errors import BackendError, StoreBusy
from ui import handlers
from ui.handlers import (
    QUEUED_HTML,
    UNEXPECTED_ERROR,
    FilterError,
    add_files,
    answer,
    ask_api,
    clear,
    filters_from,
    new_session,
    stats_and_sources,
    stopped,
    submit,
)
from ui.format import copy_button, format_stage
from ui_server import FakeBackend, too_long


def broken(question, history, filters, as_of=None):
    raise ValueError("Requested tokens (4183) exceed context window of 2048")
    yield  # pragma: no cover


def backend_down(question, history, filters, as_of=None):
    raise BackendError("Cannot reach the OpenAI-compatible server at http://127.0.0.1:9/v1: refused")
    yield  # pragma: no cover


def ask_in_chat(backend, question, chat=None, session=None, filters=([], "", "")):
    """Submit ``question`` and run the answer handler; returns every state it yielded."""
    box, chat, session, ready = submit(question, chat or [], session or new_session())
    assert box == "" and ready is False and chat[-1]["content"] == format_stage(None)  # nobody else is answering
    assert session["pending"] == question
    return [copy.deepcopy(state) for state in answer(backend, chat, session, *filters)]


# --- submit, answer, stopped, clear --------------------------------------------------------------


def test_a_blank_question_changes_nothing():
    session = new_session()
    assert submit("   ", [], session) == ("   ", [], session, None)


def test_an_answer_streams_then_is_finalised_with_linked_markers_and_sources():
    backend = FakeBackend()
    states = ask_in_chat(backend, "Who is Ada?")
    assert len(states) >= 3  # several partial bubbles before the final one
    for chat, panel, session, ready in states[:-1]:
        assert 'class="answer streaming"' in chat[-1]["content"]
        assert panel is None and ready is None and session["pending"] == "Who is Ada?"
    chat, panel, session, ready = states[-1]
    assert chat[-1]["content"] == (
        '<div class="answer">Ada is here <a class="cite" href="#src-1-1" data-target="src-1-1" '
        'title="Show source 1">[1]</a>.</div>' + copy_button(session["turns"][0])
    )
    assert 'id="src-1-1"' in panel and "<mark>Ada is here today.</mark>" in panel
    assert ready is True and session["pending"] is None and len(session["turns"]) == 1
    assert session["history"] == [
        {"role": "user", "content": "Who is Ada?"},
        {"role": "assistant", "content": "Ada is here [1]."},
    ]


def test_follow_ups_pass_plain_history_and_the_library_filters():
    backend = FakeBackend()
    chat, _, session, _ = ask_in_chat(backend, "Who is Ada?")[-1]
    chat, panel, session, _ = ask_in_chat(
        backend, "Who is Bob then?", chat, session, (["Wire"], "2014-11-01", "")
    )[-1]
    assert 'href="#src-2-1"' in chat[-1]["content"] and 'id="src-2-1"' in panel and 'id="src-1-1"' in panel
    question, history, filters = backend.calls[-1]
    assert question == "Who is Bob then?"
    assert history == [{"role": "user", "content": "Who is Ada?"}, {"role": "assistant", "content": "Ada is here [1]."}]
    assert filters == {"sources": ["Wire"], "date_from": "2014-11-01"}
    assert [m["role"] for m in chat] == ["user", "assistant"] * 2


def test_a_refusal_has_its_own_look_and_is_kept_as_a_turn():
    chat, panel, session, ready = ask_in_chat(FakeBackend(), "What is the weather?")[-1]
    assert chat[-1]["content"].startswith('<div class="refusal" role="note">')
    assert "No sources: the articles don" in panel
    assert ready is True and len(session["turns"]) == 1 and session["turns"][0].answerable is False


@pytest.mark.parametrize(
    "stream, shown",
    [
        (too_long, "questions can be at most 2,000 characters"),
        (backend_down, "Cannot reach the OpenAI-compatible server at http://127.0.0.1:9/v1: refused"),
        (broken, UNEXPECTED_ERROR),
    ],
)
def test_a_failed_answer_is_one_sentence_in_the_chat_and_no_turn(stream, shown):
    backend = FakeBackend()
    backend.stream = stream
    (state,) = ask_in_chat(backend, "y" * 20_000)
    chat, panel, session, ready = state
    bubble = chat[-1]["content"]
    assert bubble.startswith('<div class="error">') and shown in bubble
    assert "Traceback" not in bubble and "ValueError" not in bubble and "4183" not in bubble
    assert panel is None and ready is True
    assert session["pending"] is None and session["turns"] == [] and session["history"] == []


def test_an_unexpected_exception_is_logged_with_its_details(caplog):
    backend = FakeBackend()
    backend.stream = broken
    with caplog.at_level(logging.ERROR, logger=handlers.__name__):
        ask_in_chat(backend, "q")
    assert "answering 'q' failed" in caplog.text and "4183" in caplog.text


def test_a_bad_filter_date_is_said_in_the_chat_before_anything_is_asked():
    backend = FakeBackend()
    chat, _, session, _ = ask_in_chat(backend, "Who is Ada?", filters=([], "last tuesday", ""))[-1]
    assert chat[-1]["content"] == "<div class=\"error\">Filter date &#x27;last tuesday&#x27; is not a date like 2014-11-11.</div>"
    assert backend.calls == [] and session["turns"] == []


def test_a_stream_that_ends_without_its_answer_keeps_what_came_and_no_turn():
    backend = FakeBackend()
    backend.stream = lambda q, h, f, d=None: iter(["half an ", "answer"])
    chat, panel, session, ready = ask_in_chat(backend, "q")[-1]
    assert chat[-1]["content"] == '<div class="answer streaming">half an answer</div>'
    assert panel is None and ready is True and session["turns"] == [] and session["pending"] is None


def test_answer_without_a_pending_question_only_re_enables_asking():
    session = new_session()
    assert list(answer(FakeBackend(), [], session, [], "", "")) == [([], None, session, True)]


def test_stop_says_where_the_answer_stopped():
    waiting = [{"role": "user", "content": "q"}, {"role": "assistant", "content": QUEUED_HTML}]
    assert stopped(waiting) == (
        [waiting[0], {"role": "assistant", "content": '<div class="note">Stopped before the answer began.</div>'}],
        True,
    )
    partial = [{"role": "assistant", "content": [{"type": "text", "text": '<div class="answer streaming">Ada</div>'}]}]
    chat, ready = stopped(partial)
    assert chat[-1]["content"] == '<div class="answer stopped">Ada</div><div class="note">Stopped.</div>'
    assert stopped([]) == ([], True)


def test_clear_starts_a_new_conversation():
    chat, panel, session, ready = clear(FakeBackend())
    assert chat == [] and session == new_session() and ready is True
    assert panel == '<div class="sources-empty">Sources of each answer appear here.</div>'


def test_filters_from_the_library_controls():
    assert filters_from(["CNN"], "2014-11-01", " ") == {"sources": ["CNN"], "date_from": "2014-11-01"}
    assert filters_from([], "", "") is None
    with pytest.raises(FilterError, match="not a date like"):
        filters_from([], "last tuesday", "")


# --- the /ask API ---------------------------------------------------------------------------------


def test_ask_api_returns_the_json_contract():
    backend = FakeBackend()
    out = ask_api(backend, "Who is Ada?")
    assert set(out) == {"question", "answer", "answerable", "citations", "timings", "refusal_reason"}
    assert out["question"] == "Who is Ada?" and out["answer"] == "Ada is here [1]." and out["answerable"] is True
    (cite,) = out["citations"]
    assert cite["n"] == 1 and cite["quote"] == "Ada is here today." and cite["article_id"] == "a-Ada"
    assert backend.calls == [("Who is Ada?", [], None)]


def test_ask_api_returns_a_refusal_as_an_answer():
    out = ask_api(FakeBackend(), "What is the weather?")
    assert out["answerable"] is False and out["citations"] == [] and "error" not in out


@pytest.mark.parametrize(
    "stream, error",
    [
        (too_long, {
            "code": "question_too_long",
            "message": "The question is 20,000 characters long; questions can be at most 2,000 characters. "
            "Please ask a shorter question.",
        }),
        (backend_down, {
            "code": "backend", "message": "Cannot reach the OpenAI-compatible server at http://127.0.0.1:9/v1: refused",
        }),
        (broken, {"code": "internal_error", "message": UNEXPECTED_ERROR}),
        (lambda q, h, f, d=None: iter(["no answer"]), {"code": "no_answer", "message": "No answer was produced."}),
    ],
)
def test_ask_api_returns_a_structured_error(stream, error):
    backend = FakeBackend()
    backend.stream = stream
    assert ask_api(backend, "x" * 20_000) == {"question": "x" * 20_000, "error": error}


# --- the library ----------------------------------------------------------------------------------


def test_stats_and_the_source_names_for_the_filter():
    stats, names = stats_and_sources(FakeBackend())
    assert "**2** articles" in stats and names == ["Wire", "CNN"]


def test_upload_keeps_good_files_under_generated_names_and_names_the_others(tmp_path):
    backend = FakeBackend()
    store = tmp_path / "store"
    good = tmp_path / "x" / "..evil name.txt"
    good.parent.mkdir()
    good.write_text("Title\n\nBody text.", encoding="utf-8")
    notes = tmp_path / "x" / "notes.markdown"
    notes.write_text("Notes\n\nMore text.", encoding="utf-8")
    empty = tmp_path / "x" / "empty.md"
    empty.write_text("", encoding="utf-8")
    bad = tmp_path / "x" / "run.sh"
    bad.write_text("echo", encoding="utf-8")
    big = tmp_path / "x" / "big.txt"
    big.write_bytes(b"x" * 1_500_000)
    seen = []
    report, stats, names = add_files(
        backend, [str(good), str(notes), str(empty), str(bad), str(big)],
        store_dir=store, max_bytes=1_000_000, progress=lambda *a, **k: seen.append((a, k)),
    )
    uploads = (store / "uploads").resolve()
    assert len(backend.ingested) == 3 and all(p.parent == uploads for p in backend.ingested)
    assert report.startswith(
        "Added **2**, updated 0, unchanged 0, duplicate 0, near-duplicate 0, failed 1; chunks added: 2;"
    )
    assert "- run.sh: not a supported type" in report and "- big.txt: 1.5 MB is over the 1 MB limit" in report
    assert "- empty.md: empty file" in report
    kept = sorted(p.name for p in uploads.iterdir())
    assert len(kept) == 2 and kept[0].startswith("evil-name-") and kept[1].startswith("notes-")
    assert seen[0] == (((0, 3),), {"desc": "Reading 3 files", "unit": "files"})
    assert "**2** articles" in stats and names == ["Wire", "CNN"]


def test_the_upload_summary_counts_near_duplicates_as_ingest_does(tmp_path):
    class NearDuplicates(FakeBackend):
        def ingest(self, paths, on_event=None):
            report = super().ingest(paths, on_event)
            report.added, report.near_duplicate = 1, 1
            report.near_duplicates.append(("storm", "storm-2024", 0.9))
            return report

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Storm\n\nThe storm came.", encoding="utf-8")
    b.write_text("Storm\n\nThe storm came .", encoding="utf-8")
    report, _, _ = add_files(NearDuplicates(), [str(a), str(b)], store_dir=tmp_path / "store", max_bytes=1000)
    assert report.startswith("Added **1**, updated 0, unchanged 0, duplicate 0, near-duplicate 1, failed 0;"), report


def test_no_files_chosen():
    report, stats, names = add_files(FakeBackend(), None, store_dir=None, max_bytes=1)
    assert report == "Choose one or more files first." and names == ["Wire", "CNN"]


def test_an_upload_batch_that_could_not_be_written_keeps_no_copies(tmp_path):
    class BusyBackend(FakeBackend):
        def ingest(self, paths, on_event=None):
            raise StoreBusy("another ingest is writing to the store at x; try again when it has finished")

    store = tmp_path / "store"
    good = tmp_path / "good.txt"
    good.write_text("Title\n\nBody text.", encoding="utf-8")
    report, _, _ = add_files(BusyBackend(), [str(good)], store_dir=store, max_bytes=1000)
    assert report == (
        "Not added:\n\n- another ingest is writing to the store at x; try again when it has finished"
    )
    assert list((store / "uploads").iterdir()) == []


def test_upload_progress_follows_the_ingest_events(tmp_path):
    from types import SimpleNamespace

    class EventfulBackend(FakeBackend):
        def ingest(self, paths, on_event=None):
            on_event(SimpleNamespace(kind="waiting", message="waiting for another ingest", path=None))
            on_event(SimpleNamespace(kind="article", path=f"{paths[0]}:2", articles_done=1, chunks_done=4))
            on_event(SimpleNamespace(kind="article", path=f"{paths[0]}:3", articles_done=2, chunks_done=9,
                                     articles_total=40))
            return super().ingest(paths, on_event)

    a = tmp_path / "a.jsonl"
    a.write_text('{"text": "x"}\n', encoding="utf-8")
    seen = []
    add_files(EventfulBackend(), [str(a)], store_dir=tmp_path / "store", max_bytes=1000,
              progress=lambda *a, **k: seen.append((a[0], k["desc"], k["unit"])))
    assert seen == [((0, 1), "Reading 1 file", "files"), ((0, 1), "waiting for another ingest", "files"),
                    ((1, 1), "1 article, 4 chunks written", "files"),  # how many articles not known yet
                    ((2, 40), "9 chunks written, 1 of 1 file read", "articles")]


def test_the_library_table_lists_articles_with_who_is_quoted():
    html = handlers.library_table(FakeBackend())
    assert html.startswith('<div class="library-count">2 articles, newest first.</div>')
    assert "<td>2014-11-11</td><td>About Ada" in html and "<td>Ada Lovelace (2)</td>" in html
    assert "<td>undated</td><td>About Bob" in html and 'class="library-nobody">nobody' in html
    assert html.index("About Ada") < html.index("About Bob")


def test_the_library_table_shows_at_most_its_rows_and_says_how_many_there_are(monkeypatch):
    monkeypatch.setattr(handlers, "LIBRARY_ROWS", 1)
    html = handlers.library_table(FakeBackend())
    assert "The newest 1 of 2 articles." in html and "About Ada" in html and "About Bob" not in html


def test_a_malformed_json_reason_is_shown_whole_with_its_line_and_column(tmp_path):
    reason = "malformed JSON (Unterminated string starting at line 1, column 40)"

    class Malformed(FakeBackend):
        def ingest(self, paths, on_event=None):
            report = super().ingest([], on_event)
            report.failed.append((str(paths[0]), reason))
            return report

    bad = tmp_path / "bad.json"
    bad.write_text('{"text": "never closed', encoding="utf-8")
    shown, _, _ = add_files(Malformed(), [str(bad)], store_dir=tmp_path / "store", max_bytes=1000)
    assert shown.endswith(f"Not added:\n\n- bad.json: {reason}"), shown


# --- removing articles from the library -----------------------------------------------------------


def test_ticked_ids_are_kept_once_and_only_when_they_are_ids():
    assert handlers.picked_ids(["a-Ada", "a-Ada", "", 3, None, "a-Bob"]) == ["a-Ada", "a-Bob"]
    assert handlers.picked_ids(None) == [] and handlers.picked_ids("a-Ada") == []


def test_removal_asks_first_naming_each_article_escaped():
    backend = FakeBackend()
    backend.get_article = lambda aid: None if aid == "gone" else FakeBackend._article(backend, "<b>Ada</b>")
    question, ask = handlers.confirm_removal(backend, ["a-Ada", "gone"])
    assert ask is True and "Remove 2 articles" in question
    assert "About &lt;b&gt;Ada&lt;/b&gt;" in question and "<b>" not in question and ">gone<" in question
    assert backend.removed == []  # asking removes nothing
    question, ask = handlers.confirm_removal(backend, [])
    assert ask is False and "Tick one or more" in question


def test_removing_takes_the_articles_out_and_refreshes_the_figures():
    backend = FakeBackend()
    report, stats, names = handlers.remove_articles(backend, ["a-Ada", "a-Gone"])
    assert backend.removed == ["a-Ada"]
    assert report == "Removed 1 article (3 chunks).\n\nNo longer in the library: a-Gone"
    assert stats.startswith("**2** articles") and names == ["Wire", "CNN"]
    table = handlers.library_table(backend)
    assert "a-Ada" not in table and 'value="a-Bob"' in table


def test_a_removal_that_cannot_write_says_why_and_removes_nothing():
    backend = FakeBackend()

    def busy(ids, on_wait=None):
        raise StoreBusy("another ingest is writing to the store at /x")

    backend.remove_articles = busy
    report, _, _ = handlers.remove_articles(backend, ["a-Ada"])
    assert report == "Nothing was removed: another ingest is writing to the store at /x"
    assert handlers.remove_articles(backend, [])[0] == "Tick one or more articles in the table first."


# --- searching and ordering the library table -----------------------------------------------------


class Listed(FakeBackend):
    """Three articles, and the arguments of each listing asked for."""

    def __init__(self):
        super().__init__()
        self.asked = []

    def list_articles(self, search=None, limit=None):
        from rag.store import ArticleListing, ArticleSummary

        self.asked.append((search, limit))
        articles = [
            ArticleSummary(id="c", title="Zebra <crossing>", source="CNN", url=None, published="2014-11-12", n_chunks=1),
            ArticleSummary(id="a", title="apple harvest", source="Wire", url=None, published="2013-01-01", n_chunks=1),
            ArticleSummary(id="b", title="Budget", source="CNN", url=None, published=None, n_chunks=1),
        ]
        words = (search or "").casefold().split()
        articles = [a for a in articles if all(w in f"{a.title} {a.source}".casefold() for w in words)]
        return ArticleListing(articles=articles[:limit], total=len(articles))


def _titles(table: str) -> list[str]:
    import re

    return re.findall(r'aria-label="Select ([^"]*)"', table)


@pytest.mark.parametrize("sort, order, line", [
    ("newest", ["Zebra &lt;crossing&gt;", "apple harvest", "Budget"], "3 articles, newest first."),
    ("oldest", ["apple harvest", "Zebra &lt;crossing&gt;", "Budget"], "3 articles, oldest first."),
    ("title", ["apple harvest", "Budget", "Zebra &lt;crossing&gt;"], "3 articles, by title."),
    ("nonsense", ["Zebra &lt;crossing&gt;", "apple harvest", "Budget"], "3 articles, newest first."),
])
def test_the_library_table_is_ordered_as_asked(sort, order, line):
    backend = Listed()
    table = handlers.library_table(backend, "", sort)
    assert _titles(table) == order and f'<div class="library-count">{line}</div>' in table
    # newest first is the store's own order, cut by the store; the others are ordered here, over all
    assert backend.asked == [(None, handlers.LIBRARY_ROWS if sort in ("newest", "nonsense") else None)]


def test_the_library_search_goes_to_the_store_and_is_named_escaped():
    backend = Listed()
    table = handlers.library_table(backend, "  cnn  ", "title")
    assert backend.asked == [("cnn", None)] and _titles(table) == ["Budget", "Zebra &lt;crossing&gt;"]
    assert "2 articles matching “cnn”, by title." in table
    assert handlers.library_table(backend, "<b>nothing</b>", "newest") == (
        '<div class="library-empty">No article matches “&lt;b&gt;nothing&lt;/b&gt;”.</div>'
    )


def test_a_cut_library_table_says_which_rows_it_shows(monkeypatch):
    monkeypatch.setattr(handlers, "LIBRARY_ROWS", 2)
    assert "The oldest 2 of 3 articles." in handlers.library_table(Listed(), "", "oldest")
    assert "The first 2 by title of 3 articles." in handlers.library_table(Listed(), "", "title")
    monkeypatch.setattr(handlers, "LIBRARY_ROWS", 1)
    assert "The newest 1 of 2 articles matching “cnn”." in handlers.library_table(Listed(), "cnn", "newest")
