"""``newsrag serve --mcp``: the tools ``ask`` and ``search`` over Gradio's MCP server, behind the chat's login.

Fast tests call the tool functions over a fake backend, check the login guard as an ASGI app and
``--mcp`` reaching the settings; the slow one starts ``newsrag serve`` (real store, embedder, the
extractive backend, a login) and talks to it with the official MCP client.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request

import pytest
import typer
from typer.testing import CliRunner

from ui import handlers
from ui.mcp import McpLogin, basic_credentials, tools
from ui_server import FakeBackend, free_port, start_server, stop_server

LOGIN = ("reader", "s3cret pass")
Q = "What did Rhodes say about Ukraine?"


class SearchingBackend(FakeBackend):
    """The UI tests' fake backend, with a search that finds one passage (or fails on "boom")."""

    def search(self, query, k):
        if query == "boom":
            raise RuntimeError("disk on fire")
        return [{"text": "Ada is here today.", "article_id": "a-Ada", "start": 7, "end": 25, "score": 0.5}][:k]


def test_the_tools_return_json_text_of_the_ask_contract_and_of_passages():
    backend, line = SearchingBackend(), handlers.AnswerLine()
    ask, search = tools(backend, line)
    assert (ask.__name__, search.__name__) == ("ask", "search")  # Gradio names each tool after its function
    answered = json.loads(ask("Who is Ada?"))
    assert answered == handlers.ask_api(backend, "Who is Ada?") and answered["answerable"] is True
    found = json.loads(search("Ada", k=0))  # at least one passage
    assert found == {"query": "Ada", "passages": [backend.search("Ada", 1)[0]]}
    failed = json.loads(search("boom"))
    assert failed["error"]["code"] == "internal_error" and "disk" not in failed["error"]["message"]


def test_the_tools_docstrings_describe_every_argument():
    """Gradio takes a tool's description and its arguments' from the docstring."""
    from gradio.utils import get_function_description

    for tool in tools(SearchingBackend(), handlers.AnswerLine()):
        description, arguments, _ = get_function_description(tool)
        assert description and set(arguments) == set(tool.__code__.co_varnames[: tool.__code__.co_argcount])


def basic(name: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{name}:{password}".encode())


def test_basic_credentials_are_read_or_refused():
    assert basic_credentials(basic(*LOGIN)) == LOGIN
    assert basic_credentials(b"Basic !!!") is None and basic_credentials(b"Bearer x") is None
    assert basic_credentials(b"Basic " + base64.b64encode(b"no-colon")) is None and basic_credentials(None) is None


@pytest.mark.parametrize(
    ("path", "header", "status"),
    [
        ("/gradio_api/mcp/", None, 401),
        ("/gradio_api/mcp/sse", basic("reader", "wrong"), 401),
        ("/gradio_api/mcp/", basic(*LOGIN), 200),
        ("/gradio_api/info", None, 200),  # not MCP: the chat's own login applies there
    ],
)
def test_the_login_guard_asks_mcp_requests_for_the_chat_s_login(path, header, status):
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = []

    async def send(message):
        sent.append(message)

    headers = [(b"authorization", header)] if header else []
    scope = {"type": "http", "path": path, "headers": headers}
    asyncio.run(McpLogin(app, *LOGIN)(scope, None, send))
    assert sent[0]["status"] == status and (seen == [path]) == (status == 200)
    if status == 401:
        assert (b"www-authenticate", b'Basic realm="newsrag", charset="UTF-8"') in sent[0]["headers"]


def test_serve_mcp_flag_and_setting_reach_the_settings(monkeypatch):
    import rag.cli
    from newsrag.cli import app

    given = []

    def settings_or_exit(**overrides):
        given.append(overrides["mcp"])
        raise typer.Exit(3)

    monkeypatch.setattr(rag.cli, "settings_or_exit", settings_or_exit)
    assert CliRunner().invoke(app, ["serve", "--mcp"]).exit_code == 3
    assert CliRunner().invoke(app, ["serve"]).exit_code == 3
    assert given == [True, None]
    monkeypatch.setenv("NEWSRAG_MCP", "1")
    from rag.settings import load_settings

    assert load_settings().mcp is True


# --- a real server --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mcp_server(tmp_path_factory):
    """``newsrag serve`` with NEWSRAG_MCP=1 and a login, over the seed articles (extractive answers)."""
    store = tmp_path_factory.mktemp("mcp") / "store"
    port = free_port()
    env = {"NEWSRAG_MCP": "1", "NEWSRAG_AUTH_USERNAME": LOGIN[0], "NEWSRAG_AUTH_PASSWORD": LOGIN[1]}
    proc = start_server(store, port, llm="extractive", extra_env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)


async def mcp_session(url: str, calls: list[tuple[str, dict]]) -> tuple[list, list]:
    """The tool list and the results of ``calls``, through the official MCP client (streamable HTTP)."""
    import httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with httpx.AsyncClient(auth=httpx.BasicAuth(*LOGIN), timeout=120) as http:
        async with streamable_http_client(f"{url}/gradio_api/mcp/", http_client=http) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = (await session.list_tools()).tools
                results = [await session.call_tool(name, arguments) for name, arguments in calls]
    return listed, results


@pytest.mark.slow
def test_mcp_clients_list_the_tools_and_get_answers_with_citations_and_refusals(mcp_server):
    from gradio_client import Client

    calls = [("ask", {"question": Q}), ("ask", {"question": "Who won the 1950 World Cup final?"}),
             ("search", {"query": "Rhodes Ukraine ceasefire", "k": 3})]
    listed, (answered, refused, searched) = asyncio.run(mcp_session(mcp_server, calls))

    assert sorted(t.name for t in listed) == ["ask", "search"]
    ask_tool = next(t for t in listed if t.name == "ask")
    assert "cited" in ask_tool.description and ask_tool.inputSchema["required"] == ["question"]
    assert ask_tool.inputSchema["properties"]["question"]["description"]

    answer = json.loads(answered.content[0].text)
    assert not answered.isError and answer["answerable"] is True and answer["citations"]
    assert "complete violation of the spirit" in answer["answer"]
    assert {"n", "article_id", "title", "quote", "start", "end"} <= set(answer["citations"][0])
    # the same answer as the chat's /ask API (still callable, with the login)
    same = Client(mcp_server + "/", auth=LOGIN, verbose=False).predict(Q, api_name="/ask")
    assert same["citations"] == answer["citations"] and same["answer"] == answer["answer"]

    refusal = json.loads(refused.content[0].text)
    assert refusal["answerable"] is False and refusal["refusal_reason"] and not refusal["citations"]

    passages = json.loads(searched.content[0].text)["passages"]
    assert len(passages) == 3 and all(p["end"] - p["start"] == len(p["text"]) for p in passages)
    assert any("Rhodes" in p["text"] for p in passages)


@pytest.mark.slow
def test_mcp_without_the_login_is_refused(mcp_server):
    request = urllib.request.Request(
        f"{mcp_server}/gradio_api/mcp/", method="POST", data=b"{}",
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
