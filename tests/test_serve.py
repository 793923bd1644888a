"""``newsrag serve`` before the chat starts: the login, a warning off loopback, a busy port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time

import pytest
from typer.testing import CliRunner

from servers import free_port
from ui import cli as serve_cli
from ui.backend import ChatBackend as RealBackend
from ui_server import newsrag_exe

WARNING = (
    "serving on 0.0.0.0 without a login: anyone who can reach this machine can read and add articles; "
    "set NEWSRAG_AUTH_USERNAME and NEWSRAG_AUTH_PASSWORD"
)


@pytest.fixture
def busy_port():
    """A port with a listener on 127.0.0.1, as another server would have."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run(*args: str):
    from newsrag.cli import app

    return CliRunner().invoke(app, ["serve", *map(str, args)])


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost", "LocalHost"])
def test_loopback_hosts(host):
    assert serve_cli.is_loopback(host)
    assert serve_cli.exposure_warning(host, login=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org", ""])
def test_other_hosts_are_warned_about_without_a_login(host):
    assert not serve_cli.is_loopback(host)
    assert serve_cli.exposure_warning(host, login=True) is None
    assert serve_cli.exposure_warning(host, login=False).startswith(f"serving on {host} without a login")


def test_the_warning_says_what_is_exposed_and_what_to_set():
    assert serve_cli.exposure_warning("0.0.0.0", login=False) == WARNING


def test_port_problem_names_a_busy_port(busy_port):
    assert serve_cli.port_problem("127.0.0.1", busy_port) == (
        f"port {busy_port} on 127.0.0.1 is in use; choose another with --port"
    )
    assert serve_cli.port_problem("127.0.0.1", free_port()) is None


def test_port_problem_names_an_address_that_is_not_here():
    problem = serve_cli.port_problem("192.0.2.1", free_port())  # TEST-NET-1: no interface has it
    assert problem is not None and problem.startswith("cannot listen on 192.0.2.1 port")


def test_half_a_login_is_bad_usage(monkeypatch):
    monkeypatch.setenv("NEWSRAG_AUTH_USERNAME", "admin")
    res = run("--port", free_port())
    assert res.exit_code == 2
    assert res.stderr == (
        "Error: NEWSRAG_AUTH_USERNAME is set but NEWSRAG_AUTH_PASSWORD is not: a login needs both (or neither)\n"
    )


def test_non_loopback_without_login_warns_then_a_busy_port_stops_it():
    with socket.socket() as wide:  # the port busy on every address, so 0.0.0.0 cannot have it
        wide.bind(("0.0.0.0", 0))
        wide.listen()
        port = wide.getsockname()[1]
        res = run("--host", "0.0.0.0", "--port", port)
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        f"Warning: {WARNING}",
        f"Error: port {port} on 0.0.0.0 is in use; choose another with --port",
    ]
    assert "Chat on" not in res.stdout


class _FakeBackend:
    """Loads its parts at once (``fail``: the model part raises this)."""

    fail: Exception | None = None

    def __init__(self, settings):
        self.settings = settings
        self.real = RealBackend(settings)

    def stats(self):
        return {"articles": 1}

    def loading(self):
        return self.real.loading()

    def load(self, parts, report=None):
        self.real.load(parts, report)

    def _model(self):
        if self.fail:
            raise self.fail
        return "m.gguf"

    def startup_parts(self):
        return [("the store (x)", lambda: "1 article, 8 chunks")], [("the model", self._model)]


class _FakeDemo:
    def __init__(self, fail: OSError | None):
        self.fail, self.launched = fail, None

    def queue(self, **kwargs):
        return self

    def launch(self, **kwargs):
        if self.fail:
            raise self.fail
        self.launched = kwargs

    def block_thread(self):
        pass

    def close(self):
        self.closed = True


@pytest.fixture
def fake_chat(monkeypatch):
    """``serve`` with the backend and the Gradio app replaced; returns a setter for launch's failure."""
    import ui.app
    import ui.backend

    demo = _FakeDemo(None)
    monkeypatch.setattr(ui.backend, "ChatBackend", _FakeBackend)
    monkeypatch.setattr(ui.app, "build_app", lambda backend, **kw: demo)
    return demo


def test_chat_on_is_printed_once_the_server_listens(fake_chat):
    port = free_port()
    res = run("--port", port, "--llm", "extractive")
    assert res.exit_code == 0, res.output
    assert fake_chat.launched["server_port"] == port and fake_chat.launched["prevent_thread_lock"] is True
    assert f"Chat on http://127.0.0.1:{port}" in res.stdout and res.stderr == ""


def test_each_part_is_a_line_with_its_time_before_the_chat_is_ready(fake_chat):
    port = free_port()
    res = run("--port", port, "--llm", "extractive")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert re.fullmatch(r"Loading the store \(x\)… 1 article, 8 chunks, \d+\.\d s", lines[0])
    assert lines[1] == f"The page is up on http://127.0.0.1:{port}; it answers once the rest is loaded"
    assert re.fullmatch(r"Loading the model… m\.gguf, \d+\.\d s", lines[2])
    assert lines[3] == f"Chat on http://127.0.0.1:{port}  (Ctrl+C to stop)"


def test_a_part_that_cannot_load_is_one_line_and_the_server_stops(fake_chat, monkeypatch):
    from rag.errors import ModelMissingError

    monkeypatch.setattr(_FakeBackend, "fail", ModelMissingError("no model file: run `newsrag model pull`"))
    res = run("--port", free_port(), "--llm", "extractive")
    assert res.exit_code == 1
    assert res.stderr == "Error: no model file: run `newsrag model pull`\n"
    assert fake_chat.closed and "Chat on" not in res.stdout


def test_a_failing_launch_is_one_line(fake_chat, monkeypatch):
    fake_chat.fail = OSError("Cannot find empty port in range: 1-1.")
    monkeypatch.setattr(serve_cli, "port_problem", lambda host, port: None)  # free when checked
    res = run("--port", free_port(), "--llm", "extractive")
    assert res.exit_code == 1
    assert res.stderr == "Error: cannot start the chat server: Cannot find empty port in range: 1-1.\n"
    assert "Chat on" not in res.stdout


def test_the_real_serve_on_a_busy_port_is_one_line_and_exit_1(busy_port, tmp_path):
    env = dict(os.environ, NEWSRAG_STORE=str(tmp_path / "store"), GRADIO_ANALYTICS_ENABLED="False")
    started = time.monotonic()
    proc = subprocess.run(
        [str(newsrag_exe()), "serve", "--port", str(busy_port), "--llm", "extractive"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == f"Error: port {busy_port} on 127.0.0.1 is in use; choose another with --port\n"
    assert proc.stdout == ""  # no "Chat on", nothing loaded
    assert time.monotonic() - started < 60
