"""Shared by the UI tests: a fake chat backend, and starting/stopping ``newsrag serve``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from ingest.report import IngestReport
from rag.types import Answer, Article, Citation
from servers import free_port, stop_process  # noqa: F401  (free_port is used by the UI tests)


def newsrag_exe() -> Path:
    """The ``newsrag`` console script of the running interpreter's environment."""
    return Path(sys.executable).with_name("newsrag")


def start_server(store: Path, port: int, llm: str = "extractive", extra_env: dict | None = None):
    """Start ``newsrag serve`` and wait until it answers; returns the process.

    Its output goes to ``serve.log`` beside the store (shown when it fails to start).
    """
    log_path = store.parent / f"serve-{port}.log"
    log = open(log_path, "w", encoding="utf-8")
    env = dict(os.environ, NEWSRAG_STORE=str(store), GRADIO_ANALYTICS_ENABLED="False", **(extra_env or {}))
    proc = subprocess.Popen(
        [str(newsrag_exe()), "serve", "--port", str(port), "--store", str(store), "--llm", llm],
        stdout=log, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(store.parent),
    )
    deadline = time.time() + 240
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log_path.read_text(encoding='utf-8')[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            time.sleep(1)
    proc.kill()
    raise AssertionError(f"server did not start in time: {log_path.read_text(encoding='utf-8')[-3000:]}")


def stop_server(proc) -> None:
    """Stop a server started by ``start_server``."""
    stop_process(proc)


class FakeBackend:
    """Answers "Who is X?" with "X is here [1]." citing an article about X; records calls."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[str, list, dict | None]] = []
        self.ingested: list[Path] = []
        self.removed: list[str] = []
        self.lock = threading.Lock()

    def _article(self, name: str) -> Article:
        return Article(id=f"a-{name}", title=f"About {name}", text=f"Intro.\n\n{name} is here today.", source="Wire")

    def stream(self, question, history, filters, as_of=None):
        with self.lock:
            self.calls.append((question, list(history), filters))
        m = re.search(r"Who is (\w+)", question)
        if not m:
            yield "The articles don't say."
            yield Answer(question=question, answer="The articles don't say.", answerable=False)
            return
        name = m.group(1)
        text = f"{name} is here [1]."
        for word in text.split(" "):
            time.sleep(self.delay)
            yield word + " "
        art = self._article(name)
        start = art.text.index(name)
        quote = f"{name} is here today."
        yield Answer(
            question=question, answer=text, answerable=True,
            citations=[Citation(n=1, article_id=art.id, title=art.title, source="Wire", quote=quote,
                                start=start, end=start + len(quote))],
        )

    def get_article(self, article_id):
        return self._article(article_id.removeprefix("a-"))

    def also_in(self, article_id):
        return []

    def stats(self):
        return {"articles": 2, "chunks": 5, "last_ingest": "2026-11-28T08:00:00", "sources": ["Wire", "CNN"]}

    def list_articles(self, search=None, limit=None):
        from rag.store import ArticleListing, ArticleSummary

        articles = [
            ArticleSummary(id="a-Ada", title="About Ada", source="Wire", url=None, published="2014-11-11",
                           n_chunks=3, quoted=(("Ada Lovelace", 2),)),
            ArticleSummary(id="a-Bob", title="About Bob", source="CNN", url=None, published=None, n_chunks=2),
        ]
        words = (search or "").casefold().split()
        articles = [a for a in articles if a.id not in self.removed
                    and all(w in f"{a.title} {a.source or ''}".casefold() for w in words)]
        return ArticleListing(articles=articles[:limit], total=len(articles))

    def remove_articles(self, ids, on_wait=None):
        from rag.store import Removal

        held = {a.id for a in self.list_articles().articles}
        removed = [i for i in ids if i in held]
        self.removed += removed
        return Removal(removed=removed, unknown=[i for i in ids if i not in held], chunks_removed=3 * len(removed))

    def ingest(self, paths, on_event=None):
        report = IngestReport()
        for p in paths:
            self.ingested.append(Path(p))
            if Path(p).read_bytes().strip():
                report.added += 1
                report.chunks_added += 1
            else:
                report.failed.append((str(p), "empty file"))
        return report


def too_long(question, history, filters, as_of=None):
    """A backend ``stream`` that refuses every question as too long (over 2,000 characters)."""
    from rag.answerer import check_question

    check_question(question, 2000)
    yield "never"
