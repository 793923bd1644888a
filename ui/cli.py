"""``newsrag serve``: the chat in the browser, over the configured store and LLM backend."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from pathlib import Path
from typing import Optional

import typer

from rag.errors import NewsragError

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (``localhost``, ``127.x.x.x``, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, login: bool) -> str | None:
    """The warning for serving the chat to other machines without a login.

    Args:
        host: the address the chat listens on.
        login: whether a login (name and password) is configured.

    Returns:
        One line, or None when the chat is on loopback only or needs a login.
    """
    if login or is_loopback(host):
        return None
    return (
        f"serving on {host} without a login: anyone who can reach this machine can read and add "
        "articles; set NEWSRAG_AUTH_USERNAME and NEWSRAG_AUTH_PASSWORD"
    )


def port_problem(host: str, port: int) -> str | None:
    """Why the chat could not listen on ``host``:``port`` right now, or None when it can.

    Binds a socket there and closes it at once, with address reuse as the web server sets it (so a
    port whose last connections are still closing counts as free, one with a listener as busy).

    Args:
        host: the address to listen on.
        port: the port.

    Returns:
        One line saying what is wrong, or None.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as err:
        return f"cannot listen on {host}: {err.strerror}"
    with socket.socket(family, kind, proto) as sock:
        if os.name != "nt":  # on Windows this option would let the bind share a busy port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is in use; choose another with --port"
            return f"cannot listen on {host} port {port}: {err.strerror or err}"
    return None


def ingest_seeds_if_empty(backend, seeds: Path = SEEDS_DIR) -> str | None:
    """On first run (an empty store), ingest the shipped seed articles.

    Args:
        backend: a ``ui.backend.ChatBackend``.
        seeds: the seed folder.

    Returns:
        The ingest summary line, or None when the store already had articles (or no seeds exist).
    """
    if backend.stats().get("articles", 0) or not seeds.is_dir():
        return None
    report = backend.ingest(sorted(p for p in seeds.iterdir() if p.is_file()))
    return report.summary()


def serve_command(
    host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (default 7860)."),
    store: Optional[Path] = typer.Option(None, "--store", help="Store folder (default: NEWSRAG_STORE or .newsrag)."),
    llm: Optional[str] = typer.Option(None, "--llm", help="Answer backend: llamacpp, openai or extractive."),
    mcp: Optional[bool] = typer.Option(
        None, "--mcp", help="Also serve the tools ask and search to MCP clients, behind the chat's login "
        "(default: NEWSRAG_MCP).", show_default=False,
    ),
) -> None:
    """Serve the chat (loopback by default); the seed articles are ingested on first run."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from rag.cli import settings_or_exit

    settings = settings_or_exit(host=host, port=port, store=store, llm=llm, mcp=mcp)
    warning = exposure_warning(settings.host, login=bool(settings.auth_username and settings.auth_password))
    if warning:
        typer.echo(f"Warning: {warning}", err=True)
    problem = port_problem(settings.host, settings.port)
    if problem:  # before loading anything: say it now, not after the model has loaded
        typer.echo(f"Error: {problem}", err=True)
        raise typer.Exit(1)

    from ui.app import build_app
    from ui.backend import ChatBackend

    backend = ChatBackend(settings)
    store_parts, answer_parts = backend.startup_parts()
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    with backend.loading():  # answers wait until every part is loaded; the page says so meanwhile
        try:  # the articles first: the page shows them from the start
            backend.load(store_parts, print_loading)
            summary = ingest_seeds_if_empty(backend)
            if summary:
                typer.echo(f"Seed articles ingested: {summary}")
        except NewsragError as err:
            typer.echo(f"Error: {err}", err=True)
            raise typer.Exit(1) from None
        demo = build_app(
            backend, store_dir=Path(settings.store), max_upload_mb=settings.max_upload_mb, mcp=settings.mcp
        )
        demo.queue(default_concurrency_limit=4)
        launch(demo, settings)
        typer.echo(f"The page is up on http://{shown}:{settings.port}; it answers once the rest is loaded")
        try:
            backend.load(answer_parts, print_loading)
        except NewsragError as err:
            typer.echo(f"Error: {err}", err=True)
            demo.close()
            raise typer.Exit(1) from None
    typer.echo(f"Chat on http://{shown}:{settings.port}  (Ctrl+C to stop)")
    if settings.mcp:
        from ui.mcp import MCP_PATH

        login = " (HTTP Basic: the chat's login)" if settings.auth_username else ""
        typer.echo(f"MCP tools ask and search on http://{shown}:{settings.port}{MCP_PATH}/{login}")
    demo.block_thread()


def launch(demo, settings) -> None:
    """Start the chat's web server (not blocking); a failure to listen is one line and exit 1.

    Args:
        demo: the ``gr.Blocks`` of ``ui.app.build_app``.
        settings: host, port, upload limit and login.
    """
    from ui.app import launch_options

    options = launch_options(
        host=settings.host, port=settings.port, max_upload_mb=settings.max_upload_mb,
        auth_username=settings.auth_username, auth_password=settings.auth_password, mcp=settings.mcp,
    )
    try:
        demo.launch(**options, inbrowser=False, quiet=True, prevent_thread_lock=True)
    except OSError as err:  # the port was taken since it was checked, or another bind failure
        reason = port_problem(settings.host, settings.port)
        typer.echo(f"Error: {reason or f'cannot start the chat server: {err}'}", err=True)
        raise typer.Exit(1) from None


def print_loading(what: str, seconds: float | None, detail: str | None) -> None:
    """One terminal line per part loaded, begun as it starts and ended with what it took:
    ``Loading the answer pipeline (llamacpp)… qwen2.5-1.5b.gguf, 8.9 s``.

    Args:
        what: the part.
        seconds: None as it starts, then the seconds it took.
        detail: what was loaded, or None.
    """
    if seconds is None:
        typer.echo(f"Loading {what}…", nl=False)
        return
    typer.echo(f" {detail + ', ' if detail else ''}{seconds:.1f} s")


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the ``newsrag`` app.

    Args:
        app: the typer application.
    """
    app.command("serve")(serve_command)
