"""``newsrag ingest PATH...``: load, chunk, embed and store articles, then print a summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ingest.loaders import SUPPORTED_SUFFIXES
from ingest.report import IngestEvent
from rag.errors import NewsragError


def _print_event(event: IngestEvent) -> None:
    if event.kind in ("problem", "waiting"):
        from tqdm import tqdm

        tqdm.write(event.message, file=sys.stderr)


def ingest_command(
    paths: list[Path] = typer.Argument(..., help=f"Files and folders ({' '.join(sorted(SUPPORTED_SUFFIXES))})."),
    store: Optional[Path] = typer.Option(None, "--store", help="Store folder (default: NEWSRAG_STORE or .newsrag)."),
    chunk_size: Optional[int] = typer.Option(
        None, "--chunk-size", help="Target chunk size in characters (default: NEWSRAG_CHUNK_SIZE)."
    ),
    chunk_overlap: Optional[int] = typer.Option(
        None, "--chunk-overlap", help="Whole sentences shared by adjacent chunks."
    ),
    max_file_mb: Optional[float] = typer.Option(
        None, "--max-file-mb", help="Refuse files larger than this many MB."
    ),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="When another ingest is writing to the store, exit 1 at once instead of waiting."
    ),
    ids_from_path: bool = typer.Option(
        False, "--ids-from-path",
        help="Name articles that carry no id by their path relative to this folder (a/news.txt -> a/news), "
        "so files with the same name in different folders stay apart.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Ingest articles into the store; exit 0 when all went in, 1 when some failed."""
    from ingest.pipeline import ingest_paths
    from rag.cli import settings_or_exit
    from rag.store import Store

    settings = settings_or_exit(
        store=store, chunk_size=chunk_size, chunk_overlap=chunk_overlap, max_file_mb=max_file_mb
    )
    try:
        opened = Store.from_settings(settings)
        report = ingest_paths(
            paths,
            opened,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            max_bytes=int(settings.max_file_mb * 1024 * 1024),
            progress=not quiet,
            on_event=_print_event,
            wait=not no_wait,
            ids_from_path=ids_from_path,
        )
    except NewsragError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(report.summary())
    if report.failed:
        typer.echo(f"{len(report.failed)} failed (named above); everything else went in.", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command to the ``newsrag`` app.

    Args:
        app: the typer application.
    """
    app.command("ingest")(ingest_command)
