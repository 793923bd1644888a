"""A real HTTP server on 127.0.0.1 serving feeds and article pages, for the feed tests.

Routes are set per path: a body (with an ETag, so a repeated request with ``If-None-Match`` gets
304), a status, a redirect, or a delay. Every request is recorded (path, User-Agent), so a test can
count what a run fetched.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import typer
from typer.testing import CliRunner

SYLLABLES = ["ka", "lo", "mi", "ren", "tu", "sa", "vek", "no", "pi", "dar", "el", "fu", "gor", "hi", "jas", "ul"]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None  # for redirects
    delay: float = 0.0  # seconds before answering


class FeedServer:
    """``with FeedServer() as server:``; ``server.url(path)``; ``server.routes[path] = Route(...)``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []  # (path, User-Agent)
        self._closing = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append((self.path, self.headers.get("User-Agent", "")))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.delay and server._closing.wait(route.delay):
                    return
                if route.location:
                    self.send_response(route.status)
                    self.send_header("Location", route.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.status != 200:
                    self.send_error(route.status)
                    return
                etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(route.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FeedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths_requested(self) -> list[str]:
        with self._lock:
            return [p for p, _ in self.requests]

    def forget_requests(self) -> None:
        with self._lock:
            self.requests.clear()


def made_up_text(seed: int, sentences: int = 12) -> str:
    """Sentences of made-up words drawn from ``seed``: articles of different seeds share little
    wording, so none is taken for a near-duplicate of another."""
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))

    out = []
    for _ in range(sentences):
        words = [word() for _ in range(rng.randint(8, 14))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def article_page(title: str, text: str) -> bytes:
    """An article page, as a news site would serve it (navigation, the article, a footer)."""
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
    return (
        f"<!doctype html><html><head><title>{escape(title)}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{escape(title)}</h1>{paragraphs}</article>"
        f"<footer>Copyright the publisher</footer></body></html>"
    ).encode("utf-8")


@dataclass
class Item:
    title: str
    link: str
    summary: str = ""
    content: str | None = None  # HTML content; None: a summary-only entry
    published: str = "Tue, 11 Nov 2014 10:00:00 GMT"


def rss(title: str, items: list[Item]) -> bytes:
    """An RSS 2.0 document with ``items`` (content in ``content:encoded`` when given)."""
    parts = []
    for it in items:
        content = (f"<content:encoded>{escape(it.content)}</content:encoded>" if it.content is not None else "")
        parts.append(
            f"<item><title>{escape(it.title)}</title><link>{escape(it.link)}</link>"
            f"<guid>{escape(it.link)}</guid><pubDate>{it.published}</pubDate>"
            f"<description>{escape(it.summary)}</description>{content}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link><description>test</description>"
        + "".join(parts) + "</channel></rss>"
    ).encode("utf-8")


def summary_feed(server: FeedServer, n: int, *, name: str = "wire", seed: int = 0) -> str:
    """Serve a feed of ``n`` summary-only entries, each linking to its own article page.

    Returns:
        The feed's path on the server.
    """
    items = []
    for i in range(n):
        path = f"/{name}/story-{i}.html"
        title = f"Story {i} of the {name}"
        server.routes[path] = Route(body=article_page(title, made_up_text(seed * 1000 + i)))
        items.append(Item(title=title, link=server.url(path), summary=f"Brief {i}."))
    feed_path = f"/{name}.rss"
    server.routes[feed_path] = Route(body=rss(f"The {name.capitalize()}", items), content_type="application/rss+xml")
    return feed_path


def ingest_commands(monkeypatch, *first: str):
    """Run the ingest package's commands (``ingest``, ``watch``) as ``newsrag`` would, with the
    fake embedding; ``first`` is put before every call's arguments (e.g. ``"watch"``)."""
    import rag.embeddings
    from conftest import FakeEmbeddings
    from ingest.cli import register

    monkeypatch.setattr(rag.embeddings, "get_embeddings", lambda *a, **k: FakeEmbeddings())
    app = typer.Typer()
    register(app)

    def run(*args):
        return CliRunner().invoke(app, [*first, *map(str, args)])

    return run
