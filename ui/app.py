"""The Gradio chat: ask, watch the answer stream in, click [n] to see its passage highlighted.

Thin by design: it converts the chat history, calls the backend (``rag`` and ``ingest``) and formats
with ``ui.format``. No retrieval or prompting happens here.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import NewsragError
from rag.types import Answer
from ui.backend import Backend
from ui.format import format_answer, format_sources, format_stats, format_streaming
from ui.uploads import ACCEPTED_EXTENSIONS, UploadRejected, store_upload

log = logging.getLogger(__name__)

EXAMPLES = [
    "What did Rhodes say about Ukraine?",
    "Which topics did Obama and Putin discuss in Beijing?",
    "Where is the G-20 meeting being held?",
]
QUEUED_HTML = '<div class="queued">Waiting in line: other answers are being written…</div>'
ANSWER_QUEUE = "answer"  # answering and the API share one worker: the LLM and CPU are single
INGEST_QUEUE = "ingest"  # uploads have their own worker, so a long upload never holds up an answer


def new_session() -> dict[str, Any]:
    """A fresh per-browser-session state: the answers so far and the plain-text history."""
    return {"turns": [], "history": []}


def message_text(message: dict) -> str:
    """The text of a chat message, whether its content is a string or a list of parts.

    Args:
        message: a message of the Chatbot's value (``{"role", "content"}``).

    Returns:
        The text (parts joined).
    """
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


UNEXPECTED_ERROR = "Sorry, answering failed because of an internal error; the server log has the details."


def error_code(err: NewsragError) -> str:
    """A short code for a domain error: its ``code``, else its class name in snake case without
    "Error" (``BackendError`` -> ``backend``, ``StoreError`` -> ``store``)."""
    code = getattr(err, "code", None)
    if code:
        return str(code)
    name = type(err).__name__.removesuffix("Error") or "newsrag"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def api_error(question: str, code: str, message: str) -> dict:
    """The ``/ask`` API's answer when there is no answer: ``{"question", "error": {"code", "message"}}``."""
    return {"question": question, "error": {"code": code, "message": message}}


def filters_from(sources: list[str] | None, date_from: str | None, date_to: str | None) -> dict | None:
    """The ``rag`` filters dict from the Library tab's controls (None when nothing is set).

    Args:
        sources: selected source names.
        date_from: first publication day, ``YYYY-MM-DD`` (blank: open).
        date_to: last publication day, ``YYYY-MM-DD`` (blank: open).

    Returns:
        ``{"sources", "date_from", "date_to"}`` with only the set keys, or None.

    Raises:
        gr.Error: a date that is not ``YYYY-MM-DD``.
    """
    from rag.text import parse_date

    filters: dict[str, Any] = {}
    if sources:
        filters["sources"] = list(sources)
    for key, value in (("date_from", date_from), ("date_to", date_to)):
        value = (value or "").strip()
        if not value:
            continue
        try:
            day = parse_date(value)
        except (ValueError, TypeError):
            day = None
        if day is None:
            raise gr.Error(f"Filter date {value!r} is not a date like 2014-11-11.")
        filters[key] = day.isoformat()
    return filters or None


def display_name(where: str, names: dict[str, str]) -> str:
    """The upload's own name for a stored path, or ``stored:line`` (a ``.jsonl`` line), else as is.

    Args:
        where: a failure location from the ingest report (a path, or ``path:line``).
        names: stored path -> name the file was uploaded under.

    Returns:
        What to show the user.
    """
    for stored, original in names.items():
        if where == stored or where.startswith(stored + ":"):
            return original + where[len(stored):]
    return Path(where).name


def build_app(backend: Backend, *, store_dir: Path, max_upload_mb: int = 20) -> gr.Blocks:
    """The chat as a ``gr.Blocks`` (not launched).

    Args:
        backend: answers, articles, stats and ingest (``ui.backend.ChatBackend`` or a fake).
        store_dir: the store folder; uploads are copied into ``<store_dir>/uploads``.
        max_upload_mb: largest accepted upload, in MB.

    Returns:
        The Blocks, with the events ``ask`` (API: question in, ``ask --json`` object out),
        and the chat and library events (not part of the API).
    """
    max_bytes = int(max_upload_mb * 1024 * 1024)

    # --- event functions -----------------------------------------------------------------------
    def submit(message: str, chat: list, session: dict) -> tuple:
        question = (message or "").strip()
        if not question:
            return message, chat, session, gr.update()
        chat = list(chat or []) + [
            {"role": "user", "content": html.escape(question)},
            {"role": "assistant", "content": QUEUED_HTML},
        ]
        session = dict(session, pending=question)
        return "", chat, session, gr.update(interactive=False)

    def answer(
        chat: list, session: dict, sources: list[str] | None, date_from: str, date_to: str
    ) -> Iterator[tuple]:
        question = session.get("pending")
        if not question:
            yield chat, gr.update(), session, gr.update(interactive=True)
            return
        turns: list[Answer] = list(session["turns"])
        history: list[dict] = list(session["history"])
        chat = list(chat)
        try:
            filters = filters_from(sources, date_from, date_to)
            partial = ""
            final: Answer | None = None
            for item in backend.stream(question, history, filters):
                if isinstance(item, Answer):
                    final = item
                    break
                partial += item
                chat[-1] = {"role": "assistant", "content": format_streaming(partial)}
                yield chat, gr.update(), session, gr.update()
        except gr.Error as err:
            chat[-1] = {"role": "assistant", "content": f'<div class="error">{html.escape(err.message)}</div>'}
            yield chat, gr.update(), dict(session, pending=None), gr.update(interactive=True)
            return
        except NewsragError as err:
            chat[-1] = {"role": "assistant", "content": f'<div class="error">{html.escape(str(err))}</div>'}
            yield chat, gr.update(), dict(session, pending=None), gr.update(interactive=True)
            return
        except Exception:  # the edge: one plain sentence in the chat, the details in the log
            log.exception("answering %r failed", question)
            line = UNEXPECTED_ERROR
            chat[-1] = {"role": "assistant", "content": f'<div class="error">{html.escape(line)}</div>'}
            yield chat, gr.update(), dict(session, pending=None), gr.update(interactive=True)
            return
        if final is None:  # the stream ended without its Answer: show what came, keep no turn
            yield chat, gr.update(), dict(session, pending=None), gr.update(interactive=True)
            return
        turns.append(final)
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": final.answer},
        ]
        chat[-1] = {"role": "assistant", "content": format_answer(final, len(turns))}
        session = {"turns": turns, "history": history, "pending": None}
        yield chat, format_sources(turns, backend.get_article), session, gr.update(interactive=True)

    def stopped(chat: list) -> tuple:
        chat = list(chat or [])
        if chat and chat[-1].get("role") == "assistant":
            text = message_text(chat[-1])
            if 'class="queued"' in text:
                text = '<div class="note">Stopped before the answer began.</div>'
            elif "answer streaming" in text:
                text = text.replace("answer streaming", "answer stopped") + '<div class="note">Stopped.</div>'
            chat[-1] = {"role": "assistant", "content": text}
        return chat, gr.update(interactive=True)

    def clear() -> tuple:
        return [], format_sources([], backend.get_article), new_session(), gr.update(interactive=True)

    def ask_api(question: str) -> dict:
        """Answer one question; returns the JSON object of ``newsrag ask --json``, or, when the
        question cannot be answered at all, ``{"question", "error": {"code", "message"}}``
        (e.g. code ``question_too_long``)."""
        final: Answer | None = None
        try:
            for item in backend.stream(question, [], None):
                if isinstance(item, Answer):
                    final = item
        except NewsragError as err:
            return api_error(question, error_code(err), str(err))
        except Exception:  # the edge: a structured error for the client, the details in the log
            log.exception("answering %r failed", question)
            return api_error(question, "internal_error", UNEXPECTED_ERROR)
        if final is None:
            return api_error(question, "no_answer", "No answer was produced.")
        return final.contract()

    def stats_and_sources() -> tuple:
        stats = backend.stats()
        choices = list(stats.get("sources") or [])
        return format_stats(stats), gr.update(choices=choices)

    def add_files(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple:
        if not files:
            return "Choose one or more files first.", *stats_and_sources()
        names: dict[str, str] = {}
        problems: list[str] = []
        for path in files:
            original = Path(path).name
            try:
                stored = store_upload(Path(path), original, store_dir, max_bytes)
            except UploadRejected as err:
                problems.append(str(err))
                continue
            names[str(stored)] = original
        report_lines: list[str] = []
        if names:
            total = len(names)
            seen: set[str] = set()
            progress((0, total), desc="Reading and indexing")

            def on_event(event: Any) -> None:
                if event.kind == "waiting":  # another ingest (say, from the command line) is writing
                    progress((0, total), desc=event.message)
                    return
                path = str(event.path or "")
                seen.update(s for s in names if path == s or path.startswith(s + ":"))
                progress(
                    (min(len(seen), total), total),
                    desc=f"{event.articles_done} articles, {event.chunks_done} chunks",
                )

            try:
                report = backend.ingest([Path(p) for p in names], on_event=on_event)
            except NewsragError as err:
                problems.append(str(err))
                report = None
                for stored in names:  # nothing of this batch went in: keep none of its copies
                    Path(stored).unlink(missing_ok=True)
            if report is not None:
                for where, reason in report.failed:
                    problems.append(f"{display_name(str(where), names)}: {reason}")
                    if str(where) in names:  # the whole file failed: do not keep its copy
                        Path(where).unlink(missing_ok=True)
                report_lines.append(
                    f"Added **{report.added}**, updated {report.updated}, unchanged {report.unchanged}, "
                    f"duplicate {report.duplicate}, failed {len(report.failed)}; "
                    f"chunks added: {report.chunks_added}; {report.seconds:.1f} s."
                )
        if problems:
            report_lines.append("Not added:\n\n" + "\n".join(f"- {html.escape(p)}" for p in problems))
        return "\n\n".join(report_lines), *stats_and_sources()

    # --- layout --------------------------------------------------------------------------------
    with gr.Blocks(title="newsrag: ask the news") as demo:
        session = gr.State(new_session())
        gr.Markdown("## newsrag · ask the news\nEvery answer cites the articles it comes from: click a **[n]** to see the passage.")
        with gr.Tab("Chat"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chat = gr.Chatbot(
                        label="Chat", elem_id="chat", height=480, sanitize_html=True, render_markdown=True,
                        latex_delimiters=[],  # "$5 million ... $10" in news text is not LaTeX
                        buttons=["copy", "copy_all"], feedback_options=None,
                        placeholder="Ask a question about the articles in the library. "
                        "Each claim in the answer is cited: click its **[n]** to see the passage.",
                    )
                    with gr.Row():
                        box = gr.Textbox(
                            placeholder="Ask about the news…", show_label=False, scale=5,
                            elem_id="question", autofocus=True, max_lines=4,
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    with gr.Row():
                        stop = gr.Button("Stop", variant="stop", size="sm", elem_id="stop")
                        clear_btn = gr.Button("Clear chat", size="sm", elem_id="clear")
                    gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[box], label="Try")
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    sources_panel = gr.HTML(format_sources([], backend.get_article), elem_id="sources")
        with gr.Tab("Library"):
            with gr.Row(equal_height=True):
                stats_md = gr.Markdown(elem_id="stats")
                refresh = gr.Button("Refresh", size="sm", scale=0, min_width=100)
            gr.Markdown("#### Add articles\nFiles `ingest` reads: " + " ".join(ACCEPTED_EXTENSIONS))
            upload = gr.File(
                file_count="multiple", file_types=list(ACCEPTED_EXTENSIONS), type="filepath",
                label="Articles", elem_id="upload",
            )
            add_btn = gr.Button("Add to library", variant="primary", elem_id="add")
            ingest_report = gr.Markdown(elem_id="ingest-report")
            gr.Markdown("#### Filters (apply to the next question)")
            with gr.Row():
                source_filter = gr.Dropdown(
                    choices=[], multiselect=True, label="Sources", elem_id="filter-sources"
                )
                date_from = gr.Textbox(label="Published from", placeholder="YYYY-MM-DD", elem_id="date-from")
                date_to = gr.Textbox(label="Published to", placeholder="YYYY-MM-DD", elem_id="date-to")

        # --- events ----------------------------------------------------------------------------
        ask_inputs = [chat, session, source_filter, date_from, date_to]
        ask_outputs = [chat, sources_panel, session, send]
        events = []
        for trigger in (box.submit, send.click):
            ev = trigger(
                submit, [box, chat, session], [box, chat, session, send],
                queue=False, api_visibility="private",
            ).then(
                answer, ask_inputs, ask_outputs,
                concurrency_limit=1, concurrency_id=ANSWER_QUEUE, api_visibility="private",
            )
            events.append(ev)
        stop.click(stopped, [chat], [chat, send], cancels=events, queue=False, api_visibility="private")
        clear_btn.click(clear, None, [chat, sources_panel, session, send], cancels=events,
                        queue=False, api_visibility="private")
        chat.clear(lambda: (format_sources([], backend.get_article), new_session()), None,
                   [sources_panel, session], cancels=events, queue=False, api_visibility="private")
        add_btn.click(add_files, [upload], [ingest_report, stats_md, source_filter],
                      concurrency_limit=1, concurrency_id=INGEST_QUEUE, api_visibility="private")
        refresh.click(stats_and_sources, None, [stats_md, source_filter], api_visibility="private")
        demo.load(stats_and_sources, None, [stats_md, source_filter], api_visibility="private")
        gr.api(ask_api, api_name="ask", concurrency_limit=1, concurrency_id=ANSWER_QUEUE)
    return demo


CSS = """
#chat .answer, #chat .refusal, #chat .queued, #chat .error { line-height: 1.5; }
#chat .refusal { border-left: 4px solid #d97706; background: #fffbeb; color: #78350f;
  padding: 8px 12px; border-radius: 6px; }
#chat .refusal-badge { font-weight: 600; text-transform: uppercase; font-size: 0.75em;
  letter-spacing: 0.05em; display: block; margin-bottom: 2px; }
#chat .queued { color: #6b7280; font-style: italic; }
#chat .error { color: #b91c1c; }
#chat .note { color: #6b7280; font-size: .85em; margin-top: 4px; }
#chat .streaming::after { content: "▍"; animation: blink 1s steps(1) infinite; }
@keyframes blink { 50% { opacity: 0; } }
a.cite { font-weight: 600; text-decoration: none; padding: 0 1px; cursor: pointer; color: #2563eb; }
a.cite:hover { text-decoration: underline; }
#sources .turn-sources { margin-bottom: 14px; }
#sources .turn-question { font-weight: 600; color: #6b7280; margin-bottom: 6px; }
#sources .source { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 10px; margin-bottom: 8px;
  transition: box-shadow .3s, border-color .3s; }
#sources .source.flash { border-color: #2563eb; box-shadow: 0 0 0 3px rgba(37, 99, 235, .35); }
#sources .source-n { font-weight: 700; }
#sources .source-meta { color: #6b7280; font-size: .85em; }
#sources .source-quote { margin: 6px 0 0; padding-left: 8px; border-left: 3px solid #e5e7eb;
  white-space: pre-wrap; }
#sources mark { background: #fde68a; padding: 0 1px; }
"""

# Clicking [n] scrolls the sources panel to that entry and makes it flash (links may be opened
# in a new tab by the chat's markdown renderer otherwise).
HEAD = """
<script>
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("a.cite");
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var id = (link.getAttribute("href") || "").replace(/^#/, "");
  var entry = document.getElementById(id);
  if (!entry) return;
  entry.scrollIntoView({behavior: "smooth", block: "center"});
  document.querySelectorAll("#sources .source.flash").forEach(function (e) { e.classList.remove("flash"); });
  entry.classList.add("flash");
  setTimeout(function () { entry.classList.remove("flash"); }, 2500);
}, true);
</script>
"""


def launch_options(
    *,
    host: str,
    port: int,
    max_upload_mb: int,
    auth_username: str | None = None,
    auth_password: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch``: loopback by default, no share link, size limit.

    Args:
        host: address to listen on.
        port: port to listen on.
        max_upload_mb: largest accepted upload, in MB.
        auth_username: login name (login required only when both name and password are set).
        auth_password: login password.

    Returns:
        The keyword arguments.
    """
    options: dict[str, Any] = dict(
        server_name=host,
        server_port=port,
        share=False,
        max_file_size=f"{int(max_upload_mb)}mb",
        show_error=True,
        css=CSS,
        head=HEAD,
        footer_links=[],
    )
    if auth_username and auth_password:
        options["auth"] = (auth_username, auth_password)
    return options
