"""One settings object for the whole project.

Every field can be given as an environment variable ``NEWSRAG_<NAME>`` (e.g. ``NEWSRAG_STORE``,
``NEWSRAG_LLM``, ``NEWSRAG_CHROMA_HOST``); CLI flags override both. Only the CLI and the UI read
settings; library code receives values (or a ``Settings``) as arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Works offline, always: no telemetry, no hub.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

LLMName = Literal["llamacpp", "openai", "extractive"]


def default_cache_dir() -> Path:
    """Folder for built model files: ``$XDG_CACHE_HOME/newsrag`` or ``~/.cache/newsrag``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsrag"


class Settings(BaseSettings):
    """All tunables of newsrag, with defaults chosen by measurement on rtqa-dev."""

    model_config = SettingsConfigDict(env_prefix="NEWSRAG_", extra="ignore")

    # --- store -------------------------------------------------------------------------------
    store: Path = Field(default=Path(".newsrag"), description="Folder of the embedded Chroma store.")
    collection: str = Field(default="news", description="Chroma collection name (3-512 chars).")
    chroma_host: str | None = Field(
        default=None, description="Chroma server host; when set, HttpClient is used instead."
    )
    chroma_port: int = Field(default=8000, description="Chroma server port.")

    # --- embedding & chunking ------------------------------------------------------------------
    embedding_model: str = Field(
        default="minilm-int8",
        description="'minilm-int8' (int8 ONNX all-MiniLM-L6-v2), 'minilm' (same model, "
        "sentence-transformers), or a local sentence-transformers model folder.",
    )
    embedding_batch_size: int = Field(default=32, description="Texts per embedding batch.")
    chunk_size: int = Field(default=600, description="Target chunk size in characters.")
    chunk_overlap: int = Field(default=1, description="Whole sentences shared by adjacent chunks.")
    max_file_mb: float = Field(default=20.0, description="Ingest refuses files larger than this (MB).")

    # --- retrieval -----------------------------------------------------------------------------
    top_k: int = Field(default=5, description="Passages retrieved and given to the LLM.")
    fetch_k: int = Field(default=30, description="Candidates per retriever before fusion.")
    rrf_k: int = Field(default=60, description="Reciprocal-rank-fusion constant.")
    recency_weight: float = Field(
        default=2.0,
        description="Weight (in rank-1 votes) of the 'published shortly before as_of' prior in fusion; "
        "rtqa-dev recall@5 0.786 without it, 0.940 at 2.0 with a 30-day decay.",
    )
    recency_tau_days: float = Field(
        default=30.0, description="Age (days before as_of) at which the recency prior falls to 1/e."
    )
    recent_window_days: int = Field(
        default=10,
        description="Questions about the last few days ('this week', 'yesterday') use only articles "
        "published at most this many days before as_of (undated ones too); 0: no window.",
    )
    speaker_weight: float = Field(
        default=1.0, description="Bonus (in rank-1 votes) for chunks quoting the person asked about."
    )
    min_relevance: float = Field(
        default=0.45,
        description="Refuse without calling the LLM below this retrieval relevance (on rtqa-dev: "
        "refuses 57% of unanswerable and 2.4% of answerable questions).",
    )
    context_chars: int = Field(
        default=600,
        description="Characters of passage text in the prompt, in total: the best sentences of the "
        "retrieved chunks (0: whole chunks). Every prompt token delays the first answer token.",
    )
    sentence_similarity: bool = Field(
        default=True, description="Pick context sentences by embedding similarity as well as word overlap."
    )
    support_threshold: float = Field(
        default=0.34, description="Share of a claim's content words its quote must contain."
    )

    # --- LLM -----------------------------------------------------------------------------------
    llm: LLMName = Field(default="llamacpp", description="Answer backend.")
    model_path: Path | None = Field(
        default=None, description="GGUF file for llamacpp; default: the pulled Qwen2.5 1.5B."
    )
    n_ctx: int = Field(default=2048, description="llama.cpp context window.")
    n_threads: int = Field(default=2, description="llama.cpp threads.")
    n_batch: int = Field(default=512, description="llama.cpp prompt batch (LangChain's 8 is slow).")
    max_tokens: int = Field(default=160, description="Maximum answer tokens.")
    temperature: float = Field(default=0.0, description="Sampling temperature.")
    openai_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    openai_api_key: str = Field(default="not-needed", description="API key for the endpoint.")
    openai_model: str = Field(default="local", description="Model name at the endpoint.")

    # --- UI ------------------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Chat server address (loopback).")
    port: int = Field(default=7860, description="Chat server port.")
    auth_username: str | None = Field(default=None, description="Optional chat login name.")
    auth_password: str | None = Field(default=None, description="Optional chat login password.")
    max_upload_mb: int = Field(default=20, description="Largest file accepted by the upload box.")

    # --- misc ----------------------------------------------------------------------------------
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Model cache folder.")
