"""``newsrag ingest PATH...``: load, chunk, embed and store articles, then print a summary;
``newsrag remove ID...``: take articles out of the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ingest.loaders import SUPPORTED_SUFFIXES
from ingest.report import IngestEvent
from rag.errors import NewsragError


def _print_event(event: IngestEvent, verbose: bool = False) -> None:
    if event.kind in ("problem", "waiting") or (verbose and event.status == "near_duplicate"):
        from tqdm import tqdm

        tqdm.write(event.message, file=sys.stderr)


def _no_wait_option() -> bool:
    return typer.Option(
        False, "--no-wait", help="When another ingest is writing to the store, exit 1 at once instead of waiting."
    )


def _store_option() -> Optional[Path]:
    return typer.Option(None, "--store", help="Store folder (default: NEWSRAG_STORE or .newsrag).")


def ingest_command(
    paths: list[Path] = typer.Argument(..., help=f"Files and folders ({' '.join(sorted(SUPPORTED_SUFFIXES))})."),
    store: Optional[Path] = _store_option(),
    chunk_size: Optional[int] = typer.Option(
        None, "--chunk-size", help="Target chunk size in characters (default: NEWSRAG_CHUNK_SIZE)."
    ),
    chunk_overlap: Optional[int] = typer.Option(
        None, "--chunk-overlap", help="Whole sentences shared by adjacent chunks."
    ),
    max_file_mb: Optional[float] = typer.Option(
        None, "--max-file-mb", help="Refuse files larger than this many MB."
    ),
    no_wait: bool = _no_wait_option(),
    ids_from_path: bool = typer.Option(
        False, "--ids-from-path",
        help="Name articles that carry no id by their path relative to this folder (a/news.txt -> a/news), "
        "so files with the same name in different folders stay apart.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Name each near-duplicate and the stored article it matched."
    ),
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
            on_event=lambda event: _print_event(event, verbose),
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


def remove_command(
    ids: list[str] = typer.Argument(..., help="Ids of the articles to remove (as `newsrag articles` lists them)."),
    store: Optional[Path] = _store_option(),
    no_wait: bool = _no_wait_option(),
) -> None:
    """Remove articles and all their chunks; exit 0 when all were removed, 1 when some id is unknown."""
    from rag.cli import settings_or_exit
    from rag.removal import remove

    settings = settings_or_exit(store=store)
    try:
        removal = remove(ids, settings, wait=not no_wait, on_wait=lambda m: typer.echo(m, err=True))
    except NewsragError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    for aid in removal.unknown:
        typer.echo(f"error: no article {aid!r} in the store at {removal.location}; nothing removed for it", err=True)
    typer.echo(removal.summary() + (f": {', '.join(removal.removed)}" if removal.removed else ""))
    if removal.unknown:
        typer.echo(f"{len(removal.unknown)} unknown (named above); the others were removed.", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` and ``remove`` commands to the ``newsrag`` app.

    Args:
        app: the typer application.
    """
    app.command("ingest")(ingest_command)
    app.command("remove")(remove_command)
