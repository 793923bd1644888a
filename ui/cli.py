"""``newsrag serve``: the chat in the browser, over the configured store and LLM backend."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from rag.errors import NewsragError

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


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
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="Port (default 7860)."),
    store: Optional[Path] = typer.Option(None, "--store", help="Store folder (default: NEWSRAG_STORE or .newsrag)."),
    llm: Optional[str] = typer.Option(None, "--llm", help="Answer backend: llamacpp, openai or extractive."),
) -> None:
    """Serve the chat (loopback by default); the seed articles are ingested on first run."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from rag.settings import Settings
    from ui.app import build_app, launch_options
    from ui.backend import ChatBackend

    overrides = {"host": host, "port": port, "store": store, "llm": llm}
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as err:  # pydantic validation: one line, bad usage
        typer.echo(f"Error: {str(err).splitlines()[0]} ({', '.join(k for k, v in overrides.items() if v)})", err=True)
        raise typer.Exit(2) from None
    backend = ChatBackend(settings)
    try:
        summary = ingest_seeds_if_empty(backend)
        if summary:
            typer.echo(f"Seed articles ingested: {summary}")
        typer.echo(f"Loading the answer pipeline ({settings.llm})…")
        backend.warm_up()
    except NewsragError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(1) from None
    demo = build_app(backend, store_dir=Path(settings.store), max_upload_mb=settings.max_upload_mb)
    demo.queue(default_concurrency_limit=4)
    typer.echo(f"Chat on http://{settings.host}:{settings.port}  (Ctrl+C to stop)")
    demo.launch(
        **launch_options(
            host=settings.host,
            port=settings.port,
            max_upload_mb=settings.max_upload_mb,
            auth_username=settings.auth_username,
            auth_password=settings.auth_password,
        ),
        inbrowser=False,
        quiet=True,
    )


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the ``newsrag`` app.

    Args:
        app: the typer application.
    """
    app.command("serve")(serve_command)
