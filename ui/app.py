"""The Gradio chat: ask, watch the answer stream in, click [n] to see its passage highlighted.

Thin by design: this file lays out the page and wires its events to ``ui.handlers`` (plain
functions over the backend, which call ``rag`` and ``ingest`` and format with ``ui.format``). The
page's CSS and script are files in ``ui/assets``. No retrieval or prompting happens here.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

import gradio as gr

from ui import handlers
from ui.backend import Backend
from ui.format import LIBRARY_SORTS, format_sources
from ui.handlers import new_session
from ui.mcp import launch_options as mcp_launch_options
from ui.mcp import tools as mcp_tools
from ui.uploads import ACCEPTED_EXTENSIONS

EXAMPLES = [
    "What did Rhodes say about Ukraine?",
    "Which topics did Obama and Putin discuss in Beijing?",
    "Where is the G-20 meeting being held?",
]
ANSWER_QUEUE = "answer"  # answering and the API share one worker: the LLM and CPU are single
INGEST_QUEUE = "ingest"  # uploads have their own worker, so a long upload never holds up an answer


def asset(name: str) -> str:
    """The text of a file in ``ui/assets`` (installed with the package).

    Args:
        name: the file's name, e.g. ``chat.css``.

    Returns:
        Its text.
    """
    return files("ui").joinpath("assets", name).read_text(encoding="utf-8")


CSS = asset("chat.css")
TODAY_JS = "() => new Date().toLocaleDateString('sv-SE')"  # the local date as YYYY-MM-DD
HEAD = asset("head.html")  # clicking [n] scrolls the sources panel to that entry and makes it flash
# clicking a source entry (not its web link) asks for its article in the viewer
SOURCES_JS = """element.addEventListener('click', (event) => {
  if (event.target.closest('a[href]')) return;
  const entry = event.target.closest('.source');
  if (entry) trigger('open_source', {anchor: entry.id});
});"""
# the viewer scrolls to the cited sentence each time it shows an article; × closes it
VIEWER_JS = """watch('value', () => {
  const cited = element.querySelector('#cited');
  if (cited) cited.scrollIntoView({block: 'center'});
});
element.addEventListener('click', (event) => {
  if (event.target.closest('.viewer-close')) props.value = '';
});"""
# ticking articles in the library table tells the server which ones "Remove selected" removes
LIBRARY_JS = """element.addEventListener('change', (event) => {
  if (!event.target.closest('.library-pick')) return;
  const ids = [...element.querySelectorAll('.library-pick:checked')].map((box) => box.value);
  trigger('pick', {ids: ids});
});"""


LOADING_EVERY_S = 1.0  # how often a page opened while the chat loads asks whether it is ready


def loading_banner(what: str | None) -> Any:
    """The banner a page shows while the chat loads: what is loading, and that questions wait.

    Args:
        what: the part loading now (``ChatBackend.loading_status``), None once the chat is ready.

    Returns:
        The banner's update: shown with its text while loading, hidden once ready.
    """
    if what is None:
        return gr.update(value="", visible=False)
    text = f"Getting ready: loading {escape(what)}… A question asked now is answered as soon as it is done."
    style = "padding:8px 12px;border:1px solid #f0c36d;border-radius:6px;background:#fff8e6"
    return gr.update(value=f'<div role="status" class="loading" style="{style}">{text}</div>', visible=True)


def _kept(value: Any) -> Any:
    """A handler's ``None`` ("leave this output as it is") as Gradio's no-change update."""
    return gr.update() if value is None else value


def _ask_button(ready: bool | None) -> Any:
    """The Ask button's update from a handler's "ready" value."""
    return gr.update() if ready is None else gr.update(interactive=ready)


def filter_controls(prefix: str) -> tuple:
    """The source and publication-date filters, in a row (the Chat and Library tabs each have a
    set, kept the same); element ids ``<prefix>filter-sources``, ``<prefix>date-from``, ``<prefix>date-to``."""
    with gr.Row():
        sources = gr.Dropdown(choices=[], multiselect=True, label="Sources", elem_id=f"{prefix}filter-sources")
        date_from = gr.Textbox(label="Published from", placeholder="YYYY-MM-DD", elem_id=f"{prefix}date-from")
        date_to = gr.Textbox(label="Published to", placeholder="YYYY-MM-DD", elem_id=f"{prefix}date-to")
    return sources, date_from, date_to


def _download(path: str | None) -> Any:
    """A download button's update: the file to download, clickable only when there is one."""
    return gr.update(value=path, interactive=path is not None)


def build_app(backend: Backend, *, store_dir: Path, max_upload_mb: int = 20, mcp: bool = False) -> gr.Blocks:
    """The chat as a ``gr.Blocks`` (not launched).

    Args:
        backend: answers, articles, stats and ingest (``ui.backend.ChatBackend`` or a fake).
        store_dir: the store folder; uploads are copied into ``<store_dir>/uploads``.
        max_upload_mb: largest accepted upload, in MB.
        mcp: also the MCP tools ``ask`` and ``search`` (``ui.mcp``; the backend needs ``search``),
            launched with ``launch_options(mcp=True)``.

    Returns:
        The Blocks, with the events ``ask`` (API: question in, ``ask --json`` object out; with
        ``mcp``, still callable but left out of the API's listing, where the tools are), the
        tools' (``mcp_ask``, ``mcp_search``), and the chat and library events (not part of the API).
    """
    max_bytes = int(max_upload_mb * 1024 * 1024)
    line = handlers.AnswerLine()  # answers being written now, in every session
    export_dir = Path(tempfile.mkdtemp(prefix="newsrag-export-"))  # the conversations to download

    # --- the handlers, bound to this backend, their plain values turned into Gradio updates ----
    def submit(message: str, chat: list, session: dict, as_of: str, sources, date_from: str, date_to: str) -> tuple:
        box, chat, session, ready = handlers.submit(
            message, chat, session, waiting=line.busy, as_of=as_of, sources=sources, date_from=date_from,
            date_to=date_to,
        )
        return box, chat, session, _ask_button(ready), handlers.check_inputs(as_of, sources, date_from, date_to)

    def answer(chat: list, session: dict, as_of: str, sources: list[str] | None, date_from: str, date_to: str):
        with line.writing():
            for shown, panel, state, ready in handlers.answer(
                backend, chat, session, sources, date_from, date_to, as_of
            ):
                yield shown, _kept(panel), state, _ask_button(ready)

    def typed(as_of: str, sources, date_from: str, date_to: str) -> tuple:
        """A filter or the as-of date changed: say what is wrong at once, show the filters, and
        copy them to the other tab's controls."""
        shown = handlers.filters_line(sources, date_from, date_to)
        return handlers.check_inputs(as_of, sources, date_from, date_to), shown, shown, sources, date_from, date_to

    def stopped(chat: list) -> tuple:
        chat, ready = handlers.stopped(chat)
        return chat, _ask_button(ready)

    def clear() -> tuple:
        chat, panel, session, ready = handlers.clear(backend)
        return chat, panel, session, _ask_button(ready), "", _download(None), _download(None)

    def chat_cleared() -> tuple:  # the chat's own trash button: the chat is empty already
        _, panel, state, _, *rest = clear()
        return panel, state, *rest

    def exports(session: dict) -> tuple:
        return tuple(_download(path) for path in handlers.export_files(session, export_dir))

    def open_source(session: dict, evt: gr.EventData) -> Any:
        return _kept(handlers.open_article(backend, session, (evt._data or {}).get("anchor")))

    def ask(question: str) -> dict:
        """Answer one question; returns the JSON object of ``newsrag ask --json``, or, when the
        question cannot be answered at all, ``{"question", "error": {"code", "message"}}``
        (e.g. code ``question_too_long``)."""
        with line.writing():
            return handlers.ask_api(backend, question)

    def stats_and_sources() -> tuple:
        stats, names = handlers.stats_and_sources(backend)
        return stats, gr.update(choices=names), gr.update(choices=names)

    def library(search: str, sort: str) -> tuple:
        return handlers.library_table(backend, search, sort), []  # the table drawn anew: nothing ticked

    def pick(evt: gr.EventData) -> list[str]:
        return handlers.picked_ids((evt._data or {}).get("ids"))

    def ask_removal(ids: list[str]) -> tuple:
        question, ask = handlers.confirm_removal(backend, ids)
        return question, gr.update(visible=ask)

    def remove(ids: list[str], progress: gr.Progress = gr.Progress()) -> tuple:
        report, stats, names = handlers.remove_articles(backend, ids, progress=progress)
        return report, "", gr.update(visible=False), stats, gr.update(choices=names), gr.update(choices=names)

    def add_files(uploads: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple:
        report, stats, names = handlers.add_files(
            backend, uploads, store_dir=store_dir, max_bytes=max_bytes, progress=progress
        )
        return report, stats, gr.update(choices=names), gr.update(choices=names)

    # a backend that loads before it is ready (``newsrag serve``) says what is loading; a page
    # opened meanwhile shows it, asking every LOADING_EVERY_S until the chat is ready
    status = getattr(backend, "loading_status", None)

    def loading_now() -> tuple:
        what = status() if status else None
        return loading_banner(what), gr.Timer(active=what is not None)

    # --- layout --------------------------------------------------------------------------------
    with gr.Blocks(title="newsrag: ask the news") as demo:
        session = gr.State(new_session())
        gr.Markdown("## newsrag · ask the news\nEvery answer cites the articles it comes from: click a **[n]** to see the passage.")
        loading = gr.HTML(elem_id="loading", visible=False)
        loading_timer = gr.Timer(LOADING_EVERY_S, active=False)
        with gr.Tab("Chat"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chat = gr.Chatbot(
                        label="Chat", elem_id="chat", height=480, sanitize_html=True, render_markdown=True,
                        latex_delimiters=[],  # "$5 million ... $10" in news text is not LaTeX
                        # no copy buttons of Gradio's (they copy a bubble's HTML): each answer has
                        # its own Copy link, and the conversation downloads as Markdown or JSON
                        buttons=[], feedback_options=None,
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
                    with gr.Row(elem_id="export-row"):
                        download_md = gr.DownloadButton(
                            "Download conversation (Markdown)", size="sm", interactive=False, elem_id="download-md"
                        )
                        download_json = gr.DownloadButton(
                            "Download conversation (JSON)", size="sm", interactive=False, elem_id="download-json"
                        )
                    with gr.Row(equal_height=True):
                        as_of = gr.Textbox(
                            value=handlers.today(), label="As of (the day “this week” means)", placeholder="YYYY-MM-DD",
                            max_lines=1, scale=1, elem_id="as-of",
                        )
                        active_filters = gr.Markdown(handlers.filters_line([], "", ""), elem_id="active-filters")
                    notice = gr.HTML(elem_id="ask-notice")
                    with gr.Accordion("Filters (also on the Library tab)", open=False, elem_id="chat-filters"):
                        chat_sources, chat_from, chat_to = filter_controls("chat-")
                    gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[box], label="Try")
                with gr.Column(scale=2):
                    viewer = gr.HTML("", elem_id="article-viewer", js_on_load=VIEWER_JS)
                    gr.Markdown("### Sources\nClick a source to read its article.")
                    sources_panel = gr.HTML(
                        format_sources([], backend.get_article), elem_id="sources", js_on_load=SOURCES_JS
                    )
        with gr.Tab("Library"):
            with gr.Row(equal_height=True):
                stats_md = gr.Markdown(elem_id="stats")
                refresh = gr.Button("Refresh", size="sm", scale=0, min_width=100)
            with gr.Row(equal_height=True):
                library_search = gr.Textbox(
                    label="Search titles and sources", placeholder="words, e.g. obama cnn", max_lines=1, scale=3,
                    elem_id="library-search",
                )
                library_sort = gr.Radio(
                    [(label.capitalize(), key) for key, label in LIBRARY_SORTS.items()], value="newest",
                    label="Order", scale=2, elem_id="library-sort",
                )
            library_table = gr.HTML(elem_id="library", js_on_load=LIBRARY_JS)
            picked = gr.State([])  # the ids ticked in the table
            remove_btn = gr.Button("Remove selected…", size="sm", variant="secondary", elem_id="remove")
            remove_ask = gr.HTML(elem_id="remove-ask")
            with gr.Row(visible=False, elem_id="remove-confirm") as remove_confirm:
                confirm_btn = gr.Button("Remove", variant="stop", size="sm", elem_id="remove-yes")
                cancel_btn = gr.Button("Cancel", size="sm", elem_id="remove-no")
            remove_report = gr.Markdown(elem_id="remove-report")
            gr.Markdown("#### Add articles\nFiles `ingest` reads: " + " ".join(ACCEPTED_EXTENSIONS))
            upload = gr.File(
                file_count="multiple", file_types=list(ACCEPTED_EXTENSIONS), type="filepath",
                label="Articles", elem_id="upload",
            )
            add_btn = gr.Button("Add to library", variant="primary", elem_id="add")
            ingest_report = gr.Markdown(elem_id="ingest-report")
            gr.Markdown("#### Filters (apply to the next question; also on the Chat tab)")
            source_filter, date_from, date_to = filter_controls("")
            library_filters = gr.Markdown(handlers.filters_line([], "", ""), elem_id="library-filters")

        # --- events ----------------------------------------------------------------------------
        listing = [library_search, library_sort]  # what the library table shows, and in what order
        chat_side, library_side = [chat_sources, chat_from, chat_to], [source_filter, date_from, date_to]
        for side, other in ((chat_side, library_side), (library_side, chat_side)):
            for control in [as_of, *side] if side is chat_side else side:
                control.input(typed, [as_of, *side], [notice, active_filters, library_filters, *other],
                              queue=False, trigger_mode="always_last", api_visibility="private")
        ask_inputs = [chat, session, as_of, *chat_side]
        ask_outputs = [chat, sources_panel, session, send]
        downloads = [download_md, download_json]
        events = []
        for trigger in (box.submit, send.click):
            ev = trigger(
                submit, [box, chat, session, as_of, *chat_side], [box, chat, session, send, notice],
                queue=False, api_visibility="private",
            ).then(
                answer, ask_inputs, ask_outputs,
                concurrency_limit=1, concurrency_id=ANSWER_QUEUE, api_visibility="private",
            )
            ev.then(exports, [session], downloads, queue=False, api_visibility="private")
            events.append(ev)
        stop.click(stopped, [chat], [chat, send], cancels=events, queue=False, api_visibility="private")
        clear_btn.click(clear, None, [chat, sources_panel, session, send, viewer, *downloads], cancels=events,
                        queue=False, api_visibility="private")
        chat.clear(chat_cleared, None, [sources_panel, session, viewer, *downloads],
                   cancels=events, queue=False, api_visibility="private")
        sources_panel.open_source(open_source, [session], [viewer], queue=False, api_visibility="private")
        add_btn.click(add_files, [upload], [ingest_report, stats_md, source_filter, chat_sources],
                      concurrency_limit=1, concurrency_id=INGEST_QUEUE, api_visibility="private",
                      show_progress_on=[ingest_report],  # under the button, not over the filters
                      ).then(library, listing, [library_table, picked], api_visibility="private")
        for control in (library_search.input, library_sort.change):
            control(library, listing, [library_table, picked], trigger_mode="always_last", api_visibility="private")
        library_table.pick(pick, None, [picked], queue=False, api_visibility="private")
        remove_btn.click(ask_removal, [picked], [remove_ask, remove_confirm], queue=False, api_visibility="private")
        cancel_btn.click(lambda: ("", gr.update(visible=False)), None, [remove_ask, remove_confirm],
                         queue=False, api_visibility="private")
        # a removal writes to the store like an upload: on the uploads' worker, one at a time
        confirm_btn.click(remove, [picked], [remove_report, remove_ask, remove_confirm, stats_md, source_filter,
                                             chat_sources],
                          concurrency_limit=1, concurrency_id=INGEST_QUEUE, api_visibility="private",
                          show_progress_on=[remove_report],
                          ).then(library, listing, [library_table, picked], api_visibility="private")
        for trigger in (refresh.click, demo.load):
            trigger(stats_and_sources, None, [stats_md, source_filter, chat_sources], api_visibility="private",
                    ).then(library, listing, [library_table, picked], api_visibility="private")
        if status is not None:
            for trigger in (demo.load, loading_timer.tick):
                trigger(loading_now, None, [loading, loading_timer], queue=False, api_visibility="private")
        # today in the reader's browser (not the day the server started), set as the page loads
        demo.load(None, None, [as_of], js=TODAY_JS, queue=False, api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_limit=1, concurrency_id=ANSWER_QUEUE,
               api_visibility="undocumented" if mcp else "public")
        if mcp:  # Gradio's MCP server makes each listed API function a tool, named as the function
            for tool in mcp_tools(backend, line):
                gr.api(tool, api_name=f"mcp_{tool.__name__}", queue=False)
    weakref.finalize(demo, shutil.rmtree, export_dir, ignore_errors=True)
    return demo


def launch_options(
    *,
    host: str,
    port: int,
    max_upload_mb: int,
    auth_username: str | None = None,
    auth_password: str | None = None,
    mcp: bool = False,
) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch``: loopback by default, no share link, size limit.

    Args:
        host: address to listen on.
        port: port to listen on.
        max_upload_mb: largest accepted upload, in MB.
        auth_username: login name (login required only when both name and password are set).
        auth_password: login password.
        mcp: serve the MCP tools too (``ui.mcp``), behind the same login.

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
    if mcp:
        options.update(mcp_launch_options(options.get("auth")))
    return options
