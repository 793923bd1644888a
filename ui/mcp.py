"""The chat's MCP tools, ``ask`` and ``search``, served by Gradio's own MCP server (``newsrag serve --mcp``).

Gradio turns each public API function of the page into an MCP tool: its name is the function's,
its description and argument descriptions come from the docstring, its input schema from the
type hints. The tools answer as ``/ask`` does and search as ``rag.retriever()`` does, each result
one JSON text. They are not queued (Gradio runs a queued tool through an HTTP client of its own,
which cannot log in), so each answer still counts on the page's answer line while it is written;
the model itself is used by one answer at a time (``rag.llm`` holds its lock).

Gradio leaves its MCP endpoint open even when the chat needs a login: ``McpLogin`` asks MCP
clients for the same name and password, as HTTP Basic authentication.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ui import handlers
from ui.backend import Backend

MCP_PATH = "/gradio_api/mcp"  # where Gradio serves MCP (streamable HTTP at <MCP_PATH>/, SSE at <MCP_PATH>/sse)
SEARCH_MAX_K = 20  # the most passages one search returns


def tools(backend: Backend, line: handlers.AnswerLine) -> list[Callable[..., str]]:
    """The MCP tools over ``backend``: ``ask`` and ``search``, each returning one JSON text.

    Args:
        backend: answers and searches (``ui.backend.ChatBackend``).
        line: the page's count of answers being written (an MCP answer counts too).

    Returns:
        The tool functions, named as the tools.
    """

    def ask(question: str) -> str:
        """Answer a question from the news articles in the library, every claim cited by a verbatim
        quote of an article. When the articles do not say, the answer is a refusal (answerable false,
        with refusal_reason) instead of a guess.

        Args:
            question: the question, in plain words (one question, no chat history).

        Returns:
            JSON: question, answer (text with [n] markers), answerable, citations (n, article_id, title, url, published, quote, start, end: quote is the article's text between start and end), timings, refusal_reason; or question and error (code, message)
        """
        with line.writing():
            return json.dumps(handlers.ask_api(backend, question), ensure_ascii=False)

    def search(query: str, k: int = 5) -> str:
        """Search the news articles in the library for the passages that best match a query (keyword
        and meaning search combined), best first.

        Args:
            query: what to look for.
            k: how many passages to return (1 to 20).

        Returns:
            JSON: query and passages, each with text, article_id, title, url, published, source, chunk_id, start and end (its offsets in the article's text) and score; or query and error (code, message)
        """
        try:
            passages = backend.search(query, max(1, min(int(k), SEARCH_MAX_K)))
        except Exception as err:  # the edge: one sentence for the client, the details in the log
            code, message = handlers.describe_error(err, query)
            return json.dumps({"query": query, "error": {"code": code, "message": message}}, ensure_ascii=False)
        return json.dumps({"query": query, "passages": passages}, ensure_ascii=False)

    return [ask, search]


def basic_credentials(header: bytes | None) -> tuple[str, str] | None:
    """The name and password of an ``Authorization: Basic`` header (None: absent or malformed)."""
    if not header or not header[:6].lower() == b"basic ":
        return None
    try:
        name, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (name, password) if sep else None


class McpLogin:
    """ASGI middleware: requests to the MCP endpoint need the chat's login, as HTTP Basic.

    Args:
        app: the web app (Gradio's).
        username: the chat's login name.
        password: its password.
    """

    def __init__(self, app: ASGIApp, username: str, password: str) -> None:
        self.app = app
        self.login = (username.encode("utf-8"), password.encode("utf-8"))

    def allowed(self, scope: Scope) -> bool:
        """Whether a request may go on: it is not for the MCP endpoint, or it carries the login."""
        if scope["type"] != "http" or not scope.get("path", "").startswith(MCP_PATH):
            return True
        given = basic_credentials(dict(scope.get("headers") or []).get(b"authorization"))
        if given is None:
            return False
        name, password = (part.encode("utf-8") for part in given)
        # both compared, whatever the first gives: the time taken says nothing about either
        same_name = hmac.compare_digest(name, self.login[0])
        return hmac.compare_digest(password, self.login[1]) and same_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allowed(scope):
            await self.app(scope, receive, send)
            return
        body = b"The MCP tools need the chat's login: HTTP Basic authentication with its name and password.\n"
        await send({
            "type": "http.response.start", "status": 401,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                        (b"www-authenticate", b'Basic realm="newsrag", charset="UTF-8"')],
        })
        await send({"type": "http.response.body", "body": body})


def launch_options(auth: tuple[str, str] | None) -> dict[str, Any]:
    """The keyword arguments of ``Blocks.launch`` that serve the MCP tools (behind ``auth``, if any)."""
    from starlette.middleware import Middleware

    options: dict[str, Any] = {"mcp_server": True}
    if auth:
        options["app_kwargs"] = {"middleware": [Middleware(McpLogin, username=auth[0], password=auth[1])]}
    return options
