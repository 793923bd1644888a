"""``newsrag watch``: keep a list of feeds current, one round every interval.

Rounds run one after another in one thread, never two at once: a round that takes longer than the
interval delays the next, which then starts at once. Each round reads every feed first, then writes
what is new under the store's write lock (``ingest.feeds.ingest_sources`` with ``prefetch``), so a
chat upload is never held up by a slow server. A stop request (Ctrl-C, or SIGTERM) ends the watch
cleanly: while the feeds are being read the round is abandoned and nothing is written; while it
writes, the articles already handed to the pipeline are written whole and the record of feeds
saved, then it stops. A second Ctrl-C quits at once (the store's write order keeps even that safe:
an article counts as stored only once all its chunks are in).

Two watches on one store would write the same feeds twice over: each holds ``<store>/watch.lock``
(a ``filelock`` lock, the same kind as the store's write lock, released by the system if the
process dies) for as long as it runs, and a second one stops with one line.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingest.feeds import FeedRun
from rag.errors import NewsragError

WATCH_LOCK = "watch.lock"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


class WatchBusy(NewsragError):
    """Another watch is keeping feeds current in the same store."""


def parse_every(text: str) -> float:
    """An interval such as ``30s``, ``15m``, ``1h`` or ``1h30m``, in seconds.

    Args:
        text: the interval as given.

    Returns:
        Seconds (more than 0).

    Raises:
        ValueError: not such an interval.
    """
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"--every {text!r}: give an interval such as 30s, 15m, 1h or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"--every {text!r}: the interval must be longer than 0")
    return seconds


@contextmanager
def watch_lock(folder: Path) -> Iterator[None]:
    """Hold ``<folder>/watch.lock`` for the block: one watch per store.

    Args:
        folder: the store folder (created when missing).

    Raises:
        WatchBusy: another process holds it.
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / WATCH_LOCK), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise WatchBusy(
            f"another newsrag watch is already keeping feeds current in {folder}; stop it first "
            "(one watch per store, it can follow any number of feeds)"
        ) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def stop_on_signals(stop: threading.Event, on_stop: Callable[[], None]) -> Iterator[None]:
    """Turn Ctrl-C and SIGTERM into a stop request for the block; a second Ctrl-C quits at once.

    Outside the main thread (where signals cannot be handled) the block runs unchanged.

    Args:
        stop: set on the first signal.
        on_stop: called once, on the first signal (e.g. to say that the watch is stopping).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        on_stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass
class Round:
    """One round of a watch, as its line says it."""

    number: int
    started: float  # wall-clock time (``time.time()``)
    seconds: float
    run: FeedRun | None = None
    error: str | None = None  # the round failed as a whole (e.g. the store could not be opened)
    stopped: bool = False  # a stop came during the round


def round_line(r: Round, next_at: float | None) -> str:
    """One line for a round: when, what came in, how long, and when the next one starts.

    Args:
        r: the round.
        next_at: wall-clock time of the next round (None: no next round).

    Returns:
        E.g. ``round 2 at 12:00:05: 1 new, 1 changed, 48 unchanged, 0 failed; 12 chunks added; 0.8 s;
        next at 12:15:05``.
    """
    head = f"round {r.number} at {time.strftime('%H:%M:%S', time.localtime(r.started))}"
    if r.error is not None:
        body = f"failed: {r.error}"
    elif r.run is None or r.run.abandoned:
        body = "stopped while reading the feeds; nothing written"
    else:
        body = f"{r.run.counts()}; {r.run.report.chunks_added} chunks added"
        if r.stopped:
            body += " (stopped: what was taken was written whole)"
    tail = f"; next at {time.strftime('%H:%M:%S', time.localtime(next_at))}" if next_at is not None else ""
    return f"{head}: {body}; {r.seconds:.1f} s{tail}"


def watch(
    do_round: Callable[[], FeedRun],
    every: float,
    *,
    stop: threading.Event,
    on_round: Callable[[Round, float | None], None],
    rounds: int | None = None,
) -> int:
    """Run ``do_round`` every ``every`` seconds until ``stop`` is set (or ``rounds`` have run).

    Rounds never overlap: the next starts ``every`` seconds after the last one started, or at once
    when that one took longer. Waiting ends as soon as ``stop`` is set.

    Args:
        do_round: one round (reads the feeds, writes what is new); a ``NewsragError`` it raises
            fails that round only.
        every: seconds between the starts of two rounds.
        stop: set to stop (by a signal handler, or another thread).
        on_round: called after each round with it and the wall-clock time of the next (None: last).
        rounds: stop after this many rounds (None: until stopped).

    Returns:
        The number of rounds run.
    """
    number = 0
    next_start = time.monotonic()
    while not stop.is_set():
        if stop.wait(max(0.0, next_start - time.monotonic())):
            break
        number += 1
        started, wall = time.monotonic(), time.time()
        r = Round(number=number, started=wall, seconds=0.0)
        try:
            r.run = do_round()
        except NewsragError as err:
            r.error = str(err)
        r.seconds = time.monotonic() - started
        r.stopped = stop.is_set()
        last = r.stopped or (rounds is not None and number >= rounds)
        next_start = max(started + every, time.monotonic())
        on_round(r, None if last else wall + (next_start - started))
        if last:
            break
    return number
