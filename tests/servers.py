"""Shared by tests that start real servers (Chroma, llama.cpp's OpenAI server, the chat)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a server process, killing it if it has not exited within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for_llama_server(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    """Wait until llama.cpp's OpenAI server at ``url`` lists its model (or fail if it exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as resp:
                if json.load(resp).get("data"):
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"llama_cpp.server did not answer at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def llama_server(gguf: Path, log_dir: Path, *extra: str) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on ``gguf`` (2 threads, 2,048-token window,
    ``extra`` arguments on top), on a free loopback port; yields its ``/v1`` base URL and stops it
    afterwards. Its output goes to ``log_dir/server.log``."""
    port = free_port()
    with (Path(log_dir) / "server.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
             "--port", str(port), "--n_threads", "2", "--n_ctx", "2048", *extra],
            stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/v1"
        try:
            wait_for_llama_server(url, proc)
            yield url
        finally:
            stop_process(proc)
