"""The chat while it loads: ``newsrag serve`` loads every part before it is ready, a line each; a page
opened meanwhile says it is loading, and a question asked then is answered once loading ends."""

from __future__ import annotations

import threading
import time

import pytest

from rag.errors import ModelMissingError
from ui.app import loading_banner
from ui.backend import ChatBackend
from ui_server import FakeBackend, free_port


class SlowAnswerer:
    """Stands in for the ``rag`` answerer: records when it was asked."""

    def __init__(self) -> None:
        self.asked_at: float | None = None

    def stream(self, question, **kwargs):
        self.asked_at = time.monotonic()
        yield "Answered."


def test_answers_wait_while_the_chat_loads(tmp_path):
    from rag.settings import load_settings

    backend = ChatBackend(load_settings(store=tmp_path / "store", llm="extractive"))
    backend._answerer = answerer = SlowAnswerer()
    assert backend.loading_status() is None
    got: list[str] = []
    with backend.loading():
        asking = threading.Thread(target=lambda: got.extend(backend.stream("Q?", [], None)))
        asking.start()
        backend.load([("the model", lambda: time.sleep(0.3))])
        assert backend.loading_status() == "the model" and answerer.asked_at is None and got == []
        loaded_at = time.monotonic()
    asking.join(5)
    assert got == ["Answered."] and answerer.asked_at >= loaded_at
    assert backend.loading_status() is None


def test_each_part_is_reported_as_it_starts_and_with_its_time(tmp_path):
    from rag.settings import load_settings

    backend = ChatBackend(load_settings(store=tmp_path / "store", llm="extractive"))
    seen: list[tuple] = []
    backend.load([("the store", lambda: "3 articles"), ("the index", lambda: None)],
                 lambda what, s, detail: seen.append((what, s is None or s >= 0, detail)))
    assert seen == [("the store", True, None), ("the store", True, "3 articles"),
                    ("the index", True, None), ("the index", True, None)]
    with pytest.raises(ModelMissingError), backend.loading():
        backend.load([("the model", lambda: (_ for _ in ()).throw(ModelMissingError("no model")))])
    assert backend.loading_status() is None  # a failed load leaves nothing waiting


def test_the_startup_parts_load_the_model_and_fill_its_prompt_cache_only_for_llamacpp(tmp_path):
    from rag.settings import load_settings

    def names(llm: str) -> list[str]:
        store_parts, answer_parts = ChatBackend(load_settings(store=tmp_path / "s", llm=llm)).startup_parts()
        return [what for what, _ in store_parts + answer_parts]

    assert names("llamacpp") == [
        "the embedder (minilm-int8)", f"the store ({tmp_path / 's'})", "the answer pipeline (llamacpp)",
        "the keyword index", "the answer instructions into the model's cache",
    ]
    assert names("extractive")[-1] == "the keyword index"


def test_the_banner_says_what_is_loading_and_goes_once_ready():
    shown = loading_banner("the answer pipeline (llamacpp) <b>")
    assert shown["visible"] is True
    assert "Getting ready: loading the answer pipeline (llamacpp) &lt;b&gt;…" in shown["value"]
    assert loading_banner(None)["visible"] is False


class LoadingBackend(FakeBackend):
    """A backend still loading until ``ready`` is set; answers wait for it."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = threading.Event()

    def loading_status(self):
        return None if self.ready.is_set() else "the model"

    def stream(self, question, history, filters, as_of=None):
        self.ready.wait()
        yield from super().stream(question, history, filters, as_of)


@pytest.mark.slow
def test_browser_a_page_opened_while_loading_says_so_and_answers_once_ready(tmp_path):
    from test_ui_browser import chromium
    from ui.app import build_app, launch_options

    backend = LoadingBackend()
    demo = build_app(backend, store_dir=tmp_path / "store")
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    demo.launch(**launch_options(host="127.0.0.1", port=port, max_upload_mb=1), prevent_thread_lock=True, quiet=True)
    try:
        with chromium() as browser:
            pg = browser.new_context().new_page()
            pg.goto(f"http://127.0.0.1:{port}/")
            pg.wait_for_selector("#loading .loading", timeout=60_000)
            assert "Getting ready: loading the model" in pg.locator("#loading").inner_text()
            pg.locator("#question textarea").fill("Who is Ann?")
            pg.locator("#ask").click()
            pg.wait_for_timeout(1500)
            assert pg.locator("#chat .answer:not(.streaming)").count() == 0  # waiting, not failed
            backend.ready.set()
            pg.wait_for_function(
                "() => document.querySelectorAll('#chat .answer:not(.streaming)').length >= 1", timeout=60_000
            )
            assert pg.locator("#chat .answer").last.inner_text().strip() == "Ann is here [1]."
            pg.wait_for_selector("#loading .loading", state="detached", timeout=10_000)
            again = browser.new_context().new_page()  # a page opened once ready shows no banner
            again.goto(f"http://127.0.0.1:{port}/")
            again.wait_for_selector("#question textarea", timeout=60_000)
            again.wait_for_timeout(1500)
            assert again.locator("#loading .loading").count() == 0
    finally:
        demo.close()
