"""newsrag's answer side: ``rag.ask`` and ``rag.stream`` (loaded lazily: importing ``rag`` is cheap)."""

from __future__ import annotations

from typing import Any

from rag.offline import apply_offline_defaults

apply_offline_defaults()

__all__ = ["ask", "stream", "get_answerer", "Answerer"]


def __getattr__(name: str) -> Any:
    if name in ("ask", "stream", "get_answerer"):
        from rag import pipeline

        return getattr(pipeline, name)
    if name == "Answerer":
        from rag.chain import Answerer

        return Answerer
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
