"""Pipelines under evaluation: ``default`` (our ``rag.ask``) and ``langchain-tutorial`` (baseline).

Each preset is built once per run (model and store loaded once) into an ``EvalPipeline``: the
answer function, its retrieval cut-off ``k``, an article lookup for citation support, and the
configuration recorded in ``metrics.json``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.corpus import cached_store_dir, corpus_hash, is_complete, mark_complete
from evals.questions import Question
from rag.errors import NewsragError
from rag.text import parse_date
from rag.types import Answer, Article, content_hash

PRESETS = ("default", "langchain-tutorial")
TUTORIAL_COLLECTION = "lctutorial"
# settings never written into a run: every key and password, whatever service it is for
_SECRET_SUFFIXES = ("api_key", "password")


class PresetError(NewsragError):
    """An unknown preset, or a preset that cannot run with the given settings."""


@dataclass
class EvalPipeline:
    """A pipeline ready to answer, plus what the scorer and the report need."""

    name: str
    answer: Callable[[Question], Answer]
    k: int
    get_article: Callable[[str], Article | None]
    config: dict[str, Any] = field(default_factory=dict)


def as_of_date(asked_on: str | None) -> dt.date | None:
    """A question's ``asked_on`` as a date (None when absent or not YYYY-MM-DD)."""
    try:
        return parse_date(asked_on)
    except ValueError:
        return None


def settings_record(settings: Any) -> dict[str, Any]:
    """Every setting as JSON-ready values, secrets left out."""
    data = settings.model_dump(mode="json")
    return {k: v for k, v in data.items() if not k.endswith(_SECRET_SUFFIXES)}


def _embedder_key(name: str) -> str:
    return name if len(name) <= 32 and "/" not in name else "emb" + content_hash(name, 10)


def build_pipeline(
    preset: str, settings: Any, corpus: Path | None = None, progress: bool = True
) -> EvalPipeline:
    """Build a preset's pipeline, ingesting ``corpus`` into its cached store first when given.

    Args:
        preset: one of ``PRESETS``.
        settings: a ``rag.settings.Settings`` (store, LLM, chunking, embedder).
        corpus: a corpus file or folder (None: use the configured store).
        progress: show ingest progress bars.

    Returns:
        The pipeline.

    Raises:
        PresetError: unknown preset, or the tutorial preset without an LLM backend.
    """
    if preset == "default":
        return _default_pipeline(settings, corpus, progress)
    if preset == "langchain-tutorial":
        return _tutorial_pipeline(settings, corpus, progress)
    raise PresetError(f"Unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}.")


def default_store_dir(settings: Any, corpus: Path, digest: str | None = None) -> Path:
    """Where ``newsrag eval --corpus`` caches the default preset's store of ``corpus``.

    Args:
        settings: the settings whose chunking and embedder cut the store.
        corpus: the articles (file or folder).
        digest: ``corpus_hash(corpus)`` when already computed.
    """
    from ingest.pipeline import CHUNKER_VERSION

    # the chunker's version is part of the key: a store cut by an older chunker is not reused
    key = (f"cs{settings.chunk_size}-co{settings.chunk_overlap}-v{CHUNKER_VERSION}-"
           f"{_embedder_key(settings.embedding_model)}")
    return cached_store_dir(settings.cache_dir, digest or corpus_hash(corpus), key)


def _default_pipeline(settings: Any, corpus: Path | None, progress: bool) -> EvalPipeline:
    from rag.embeddings import embeddings_from_settings
    from rag.pipeline import build_answerer
    from rag.store import Store

    extra: dict[str, Any] = {}
    if corpus is not None:
        digest = corpus_hash(corpus)
        store_dir = default_store_dir(settings, corpus, digest)
        settings = settings.model_copy(update={"store": store_dir, "chroma_host": None})
        extra = {"corpus": str(corpus), "corpus_hash": digest}
    store = Store.from_settings(
        settings, embeddings_from_settings(settings)
    )
    if corpus is not None and not is_complete(settings.store):
        from ingest.pipeline import ingest_paths

        ingest_paths(
            [corpus],
            store,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            progress=progress,
        )
        mark_complete(settings.store)
    answerer = build_answerer(settings, store=store)  # model and indexes load once per run

    def answer(q: Question) -> Answer:
        return answerer.ask(q.question, as_of=as_of_date(q.asked_on))

    config = {"preset": "default", **extra, **settings_record(settings)}
    return EvalPipeline("default", answer, settings.top_k, store.get_article, config)


def _tutorial_articles(settings: Any, corpus: Path | None) -> tuple[str, list[Article]]:
    if corpus is not None:
        from ingest.loaders import load_paths

        articles = [a for a in load_paths([corpus]) if isinstance(a, Article)]
        return corpus_hash(corpus), articles
    from rag.store import Store

    source = Store.from_settings(settings)
    ids = sorted({c.article_id for c in source.all_chunks()})
    articles = [a for a in (source.get_article(i) for i in ids) if a is not None]
    return "store" + content_hash(str(source.revision()), 12), articles


def _tutorial_pipeline(settings: Any, corpus: Path | None, progress: bool) -> EvalPipeline:
    if settings.llm == "extractive":
        raise PresetError(
            "The langchain-tutorial preset needs an LLM backend (--llm llamacpp or --llm openai), "
            "not extractive."
        )
    from evals import tutorial
    from rag.embeddings import embeddings_from_settings
    from rag.llm import chat_model_from_settings
    from rag.store import Store

    llm = chat_model_from_settings(settings)
    digest, articles = _tutorial_articles(settings, corpus)
    key = f"lc{tutorial.CHUNK_SIZE}-{tutorial.CHUNK_OVERLAP}-{_embedder_key(settings.embedding_model)}"
    store_dir = cached_store_dir(settings.cache_dir, digest, key)
    embeddings = embeddings_from_settings(settings)
    store = Store(store_dir, TUTORIAL_COLLECTION, embeddings)
    if not is_complete(store_dir):
        tutorial.build_store(store, articles, progress=progress)
        mark_complete(store_dir)
    pipeline = tutorial.TutorialPipeline(store, llm)
    config = {
        "preset": "langchain-tutorial",
        "corpus": str(corpus) if corpus else None,
        "corpus_hash": digest,
        "splitter": "RecursiveCharacterTextSplitter",
        "chunk_size": tutorial.CHUNK_SIZE,
        "chunk_overlap": tutorial.CHUNK_OVERLAP,
        "top_k": tutorial.TOP_K,
        "retrieval": "dense similarity",
        "prompt": tutorial.PROMPT,
        "citations": "none (citation metrics n/a)",
        "refusal": "answerable false only when the answer says it doesn't know",
        "store": str(store_dir),
        **{k: v for k, v in settings_record(settings).items() if k in _LLM_KEYS},
    }
    return EvalPipeline(
        "langchain-tutorial",
        lambda q: pipeline.ask(q.question),
        tutorial.TOP_K,
        store.get_article,
        config,
    )


_LLM_KEYS = {
    "embedding_model",
    "embedding_batch_size",
    "llm",
    "model_path",
    "n_ctx",
    "n_threads",
    "n_batch",
    "max_tokens",
    "temperature",
    "openai_base_url",
    "openai_model",
    "cache_dir",
}
