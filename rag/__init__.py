"""newsrag's answer side: ``rag.ask`` and ``rag.stream``; ``rag.chain()`` (the answer path as a
LangChain ``Runnable``) and ``rag.retriever()`` (its retrieval as a LangChain ``BaseRetriever``);
and ``rag.remove`` to take articles out of the store (loaded lazily: importing ``rag`` is cheap)."""

from __future__ import annotations

from typing import Any

from rag.offline import apply_offline_defaults

apply_offline_defaults()

__all__ = ["ask", "stream", "chain", "retriever", "get_answerer", "Answerer", "remove"]


def __getattr__(name: str) -> Any:
    if name in ("ask", "stream", "chain", "retriever", "get_answerer"):
        from rag import pipeline

        return getattr(pipeline, name)
    if name == "remove":
        from rag.removal import remove

        return remove
    if name == "Answerer":
        from rag.answerer import Answerer

        return Answerer
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
