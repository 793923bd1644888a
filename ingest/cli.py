"""``newsrag ingest PATH...``: load, chunk, embed and store articles (files, folders, RSS/Atom feeds),
then print a summary; ``newsrag watch FEED...``: keep feeds current; ``newsrag remove ID...``: take
articles out of the store; ``newsrag reembed``: embed a store's chunks again with another embedder."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Optional

import typer

from ingest.feeds import FEED_SUFFIXES, is_feed
from ingest.fetch import DEFAULT_TIMEOUT_S
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


def _timeout_option() -> float:
    return typer.Option(
        DEFAULT_TIMEOUT_S, "--timeout", min=0.1, help="Seconds a feed or page request may take in all."
    )


def ingest_command(
    paths: list[str] = typer.Argument(
        ..., help=f"Files and folders ({' '.join(sorted(SUPPORTED_SUFFIXES))}), and RSS/Atom feeds "
        f"(http(s) addresses, {' '.join(sorted(FEED_SUFFIXES))} files)."
    ),
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
    timeout: float = _timeout_option(),
    workers: int = typer.Option(
        1, "--workers", min=1,
        help="Processes that embed and write side by side to a Chroma server (NEWSRAG_CHROMA_HOST); "
        "files and folders only.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Name each near-duplicate and the stored article it matched."
    ),
) -> None:
    """Ingest articles into the store; exit 0 when all went in, 1 when some failed."""
    from ingest.feeds import ingest_sources
    from ingest.fetch import FetchOptions
    from ingest.pipeline import ingest_paths
    from rag.cli import settings_or_exit
    from rag.store import Store

    settings = settings_or_exit(
        store=store, chunk_size=chunk_size, chunk_overlap=chunk_overlap, max_file_mb=max_file_mb
    )
    if workers > 1 and not settings.chroma_host:
        typer.echo("error: --workers writes from several processes to a Chroma server: set NEWSRAG_CHROMA_HOST "
                   "(the store in a folder takes one writer at a time)", err=True)
        raise typer.Exit(2)
    if workers > 1 and any(is_feed(p) for p in paths):
        typer.echo("error: --workers applies to files and folders; ingest feeds without it", err=True)
        raise typer.Exit(2)
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    common = dict(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap, progress=not quiet,
                  on_event=lambda event: _print_event(event, verbose), wait=not no_wait, ids_from_path=ids_from_path)
    try:
        opened = Store.from_settings(settings)
        if any(is_feed(p) for p in paths):
            run = ingest_sources(paths, opened, fetch_options=FetchOptions(timeout=timeout, max_bytes=max_bytes), **common)
            report = run.report
            for line in run.feed_lines():
                typer.echo(line)
        else:
            report = ingest_paths([Path(p) for p in paths], opened, max_bytes=max_bytes, workers=workers,
                                  settings=settings, **common)
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


def watch_command(
    feeds: list[str] = typer.Argument(
        ..., help=f"RSS/Atom feeds: http(s) addresses or {' '.join(sorted(FEED_SUFFIXES))} files."
    ),
    every: str = typer.Option("15m", "--every", help="Interval between the starts of two rounds: 30s, 15m, 1h, 1h30m."),
    rounds: Optional[int] = typer.Option(None, "--rounds", min=1, help="Stop after this many rounds (default: until Ctrl-C)."),
    store: Optional[Path] = _store_option(),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Target chunk size in characters."),
    chunk_overlap: Optional[int] = typer.Option(None, "--chunk-overlap", help="Whole sentences shared by adjacent chunks."),
    timeout: float = _timeout_option(),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Name each near-duplicate as it is found."),
) -> None:
    """Keep feeds current: read them every interval and ingest what is new or changed, one line a round.

    Ctrl-C stops after the current write (a second Ctrl-C quits at once); exit 0.
    """
    from ingest.feeds import ingest_sources
    from ingest.fetch import FetchOptions
    from ingest.watch import parse_every, round_line, stop_on_signals, watch, watch_lock
    from rag.cli import settings_or_exit
    from rag.store import Store

    not_feeds = [f for f in feeds if not is_feed(f)]
    if not_feeds:
        typer.echo(f"error: {not_feeds[0]!r} is not a feed: give http(s) addresses or "
                   f"{'/'.join(sorted(FEED_SUFFIXES))} files (newsrag ingest takes other files)", err=True)
        raise typer.Exit(2)
    try:
        interval = parse_every(every)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    settings = settings_or_exit(store=store, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    options = FetchOptions(timeout=timeout, max_bytes=int(settings.max_file_mb * 1024 * 1024))
    stop = threading.Event()

    def one_round():
        return ingest_sources(
            feeds, opened, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap,
            fetch_options=options, progress=False, on_event=lambda e: _print_event(e, verbose),
            prefetch=True, stop=stop,
        )

    def said(r, next_at) -> None:
        typer.echo(round_line(r, next_at))

    try:
        with watch_lock(Path(settings.store)):
            opened = Store.from_settings(settings)
            typer.echo(f"watching {len(feeds)} feed{'s' * (len(feeds) != 1)} every {every} into {opened.location}; "
                       "Ctrl-C stops", err=True)
            with stop_on_signals(stop, lambda: typer.echo(
                    "stopping after the current write… (Ctrl-C again to quit at once)", err=True)):
                done = watch(one_round, interval, stop=stop, on_round=said, rounds=rounds)
    except NewsragError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:  # the second Ctrl-C: the store keeps only whole articles, feeds.json its last state
        typer.echo("interrupted: the round in progress was cut short; the next run takes up its entries", err=True)
        raise typer.Exit(130) from None
    typer.echo(f"stopped after {done} round{'s' * (done != 1)}", err=True)


def reembed_command(
    store: Optional[Path] = _store_option(),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Embed every chunk of the store again with the embedder the settings name (NEWSRAG_EMBEDDING_MODEL).

    The articles stay; the new vectors replace the old ones only once all are made, so an interrupted
    run loses nothing and the next one takes up where it stopped. Exit 0 when done, 1 on an error.
    """
    from rag.cli import settings_or_exit
    from rag.store import Store

    settings = settings_or_exit(store=store)
    bar = None
    try:
        opened = Store.for_reading(settings, check_embedder=False)
        if not quiet:
            from tqdm import tqdm

            bar = tqdm(total=opened.stats()["chunks"], unit="chunk", desc="re-embed", dynamic_ncols=True)

        def progress(done: int, total: int) -> None:
            if bar is not None:
                bar.update(done - bar.n)

        done = opened.reembed(on_progress=progress)
    except NewsragError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    finally:
        if bar is not None:
            bar.close()
    typer.echo(f"{done.summary()}; the store at {opened.location} now uses it")


def register(app: typer.Typer) -> None:
    """Add the ``ingest``, ``watch``, ``remove`` and ``reembed`` commands to the ``newsrag`` app.

    Args:
        app: the typer application.
    """
    app.command("ingest")(ingest_command)
    app.command("watch")(watch_command)
    app.command("remove")(remove_command)
    app.command("reembed")(reembed_command)
