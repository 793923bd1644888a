"""One settings object for the whole project.

Every field can be given as an environment variable ``NEWSRAG_<NAME>`` (e.g. ``NEWSRAG_STORE``,
``NEWSRAG_LLM``, ``NEWSRAG_CHROMA_HOST``); CLI flags override both. Only the CLI and the UI read
settings, through ``load_settings``, which checks every value and names a bad one by where it came
from; library code receives values (or a ``Settings``) as arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import SettingsError

LLMName = Literal["llamacpp", "openai", "extractive"]
LexicalRankerName = Literal["bm25"]  # the keys of rag.lexical.LEXICAL_RANKERS
GroupT = TypeVar("GroupT", bound=BaseModel)
ENV_PREFIX = "NEWSRAG_"
REMOTE_PREFIX = "openai:"  # embedding_model "openai:<model>": an OpenAI-compatible embedding server
COLLECTION_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$"


def default_cache_dir() -> Path:
    """Folder for built model files: ``$XDG_CACHE_HOME/newsrag`` or ``~/.cache/newsrag``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsrag"


class Settings(BaseSettings):
    """All tunables of newsrag, with defaults chosen by measurement on rtqa-dev."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # --- store -------------------------------------------------------------------------------
    store: Path = Field(default=Path(".newsrag"), description="Folder of the embedded Chroma store.")
    collection: str = Field(
        default="news",
        min_length=3,
        max_length=512,
        pattern=COLLECTION_PATTERN,
        description="Chroma collection name: 3-512 characters from a-z A-Z 0-9 . _ -, starting and "
        "ending with a letter or digit (Chroma's rule; the name is also a folder name).",
    )
    chroma_host: str | None = Field(
        default=None, description="Chroma server host; when set, HttpClient is used instead."
    )
    chroma_port: int = Field(default=8000, ge=1, le=65535, description="Chroma server port.")

    # --- embedding & chunking ------------------------------------------------------------------
    embedding_model: str = Field(
        default="minilm-int8",
        description="'minilm-int8' (int8 ONNX all-MiniLM-L6-v2), 'minilm' (same model, "
        "sentence-transformers), a local sentence-transformers model folder, or 'openai:<model>' "
        "(any OpenAI-compatible /v1/embeddings server at embedding_base_url).",
    )
    embedding_base_url: str | None = Field(
        default=None,
        description="Base URL of the OpenAI-compatible embedding server for 'openai:<model>' "
        "(e.g. http://127.0.0.1:8080/v1).",
    )
    embedding_api_key: str = Field(default="not-needed", description="API key for the embedding server.")
    embedding_retries: int = Field(
        default=5,
        ge=0,
        le=10,
        description="Retries of an embedding request on a transient error (connection refused, timeout, "
        "429, 5xx), with exponential backoff (0.5 s doubling to 8 s; the server's Retry-After is honoured).",
    )
    embedding_timeout_s: float = Field(
        default=60.0, gt=0, description="Seconds one embedding request may take before it is retried."
    )
    embedding_batch_size: int = Field(default=32, ge=1, description="Texts per embedding batch.")
    chunk_size: int = Field(default=600, ge=50, description="Target chunk size in characters.")
    chunk_overlap: int = Field(default=1, ge=0, description="Whole sentences shared by adjacent chunks.")
    max_file_mb: float = Field(default=20.0, gt=0, description="Ingest refuses files larger than this (MB).")

    # --- retrieval -----------------------------------------------------------------------------
    top_k: int = Field(default=5, ge=1, description="Passages retrieved and given to the LLM.")
    fetch_k: int = Field(default=30, ge=1, description="Candidates per retriever before fusion.")
    rrf_k: int = Field(default=60, ge=0, description="Reciprocal-rank-fusion constant.")
    recency_weight: float = Field(
        default=2.0,
        ge=0,
        description="Weight (in rank-1 votes) of the 'published shortly before as_of' prior in fusion; "
        "rtqa-dev recall@5 0.786 without it, 0.940 at 2.0 with a 30-day decay.",
    )
    recency_tau_days: float = Field(
        default=30.0, gt=0, description="Age (days before as_of) at which the recency prior falls to 1/e."
    )
    recent_window_days: int = Field(
        default=10,
        ge=0,
        description="Questions about the last few days ('this week', 'yesterday') use only articles "
        "published at most this many days before as_of (undated ones too); 0: no window.",
    )
    speaker_weight: float = Field(
        default=1.0, ge=0, description="Bonus (in rank-1 votes) for chunks quoting the person asked about."
    )
    lexical_ranker: LexicalRankerName = Field(
        default="bm25",
        description="Lexical side of hybrid retrieval: 'bm25', the in-process BM25 index over every chunk "
        "(rag.lexical; a ranker inside a distributed store would be another name, docs/scaling.md).",
    )
    min_relevance: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="Refuse without calling the LLM below this retrieval relevance, a shortcut only: "
        "the model and grounding refuse the rest (default model: refuses 4 of 14 unanswerable and "
        "none of 84 answerable rtqa-dev questions; on rtqa-check 6 of 15 and none answerable).",
    )
    context_chars: int = Field(
        default=600,
        ge=0,
        description="Characters of passage text in the prompt, in total: the best sentences of the "
        "retrieved chunks (0: whole chunks). Every prompt token delays the first answer token.",
    )
    sentence_similarity: bool = Field(
        default=True, description="Pick context sentences by embedding similarity as well as word overlap."
    )
    support_threshold: float = Field(
        default=0.34, ge=0, le=1, description="Share of a claim's content words its quote must contain."
    )
    extractive_sentences: int = Field(
        default=2, ge=1, description="Sentences the extractive backend (no LLM) quotes in its answer."
    )

    # --- LLM -----------------------------------------------------------------------------------
    llm: LLMName = Field(default="llamacpp", description="Answer backend.")
    model_path: Path | None = Field(
        default=None, description="GGUF file for llamacpp; default: the pulled Qwen2.5 1.5B."
    )
    n_ctx: int = Field(default=2048, ge=256, description="llama.cpp context window.")
    n_threads: int = Field(default=2, ge=1, description="llama.cpp threads.")
    n_batch: int = Field(default=512, ge=1, description="llama.cpp prompt batch (LangChain's 8 is slow).")
    max_tokens: int = Field(default=160, ge=1, description="Maximum answer tokens.")
    max_question_chars: int = Field(
        default=2000,
        ge=1,
        description="Longer questions are refused with a clear message before anything is retrieved "
        "(prompts are also measured in tokens against n_ctx, so none can overflow the model).",
    )
    temperature: float = Field(default=0.0, ge=0, description="Sampling temperature.")
    openai_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    openai_api_key: str = Field(default="not-needed", description="API key for the endpoint.")
    openai_model: str = Field(default="local", description="Model name at the endpoint.")

    # --- UI ------------------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Chat server address (loopback).")
    port: int = Field(default=7860, ge=1, le=65535, description="Chat server port.")
    auth_username: str | None = Field(
        default=None, description="Chat login name; a login needs it and auth_password, or neither."
    )
    auth_password: str | None = Field(
        default=None, description="Chat login password; a login needs it and auth_username, or neither."
    )
    max_upload_mb: int = Field(default=20, ge=1, description="Largest file accepted by the upload box.")
    mcp: bool = Field(
        default=False,
        description="newsrag serve also serves the tools ask and search to MCP clients, at /gradio_api/mcp/ "
        "on the chat's address, behind its login.",
    )

    # --- misc ----------------------------------------------------------------------------------
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Model cache folder.")

    @model_validator(mode="after")
    def _remote_embedder_has_url(self) -> Settings:
        """An 'openai:<model>' embedder needs the server's address, and a model name."""
        if self.embedding_model.startswith(REMOTE_PREFIX) and not (
            self.embedding_base_url and self.embedding_model[len(REMOTE_PREFIX):]
        ):
            raise PydanticCustomError(
                "remote_embedder_incomplete",
                "embedding_model {model} needs a model name after 'openai:' and embedding_base_url",
                {"model": self.embedding_model},
            )
        return self

    @model_validator(mode="after")
    def _login_has_both_parts(self) -> Settings:
        """A login needs a name and a password: with only one, the chat would silently have none."""
        if bool(self.auth_username) != bool(self.auth_password):
            given, missing = (
                ("auth_username", "auth_password") if self.auth_username else ("auth_password", "auth_username")
            )
            raise PydanticCustomError(
                "login_incomplete",
                "{given} is set but {missing} is not: a login needs both (or neither)",
                {"given": given, "missing": missing},
            )
        return self

    # --- the groups each part of the answer path is built from -----------------------------------
    def _group(self, group: type[GroupT]) -> GroupT:
        """The parameter group ``group`` filled with these settings' values of its fields."""
        return group(**{name: getattr(self, name) for name in group.model_fields})

    @property
    def retrieval_params(self) -> RetrievalParams:
        """The retriever's parameters (``rag.retrieval.HybridRetriever``)."""
        return self._group(RetrievalParams)

    @property
    def answer_params(self) -> AnswerParams:
        """The answerer's parameters (``rag.answerer.Answerer``)."""
        return self._group(AnswerParams)

    @property
    def model_params(self) -> ModelParams:
        """The chat model's parameters (``rag.llm.get_chat_model``)."""
        return self._group(ModelParams)


class RetrievalParams(BaseModel):
    """How chunks are found and ranked. Built from ``Settings.retrieval_params``; no defaults here."""

    model_config = ConfigDict(frozen=True)

    fetch_k: int = Field(description="Candidates per retriever (dense, BM25) before fusion.")
    rrf_k: int = Field(description="Reciprocal-rank-fusion constant.")
    recency_weight: float = Field(description="Weight, in rank-1 votes, of the recency prior.")
    recency_tau_days: float = Field(description="Age in days before as_of at which the recency prior is 1/e.")
    recent_window_days: int = Field(description="'This week' questions read only this many days (0: off).")
    speaker_weight: float = Field(description="Bonus, in rank-1 votes, for chunks quoting the person asked about.")
    lexical_ranker: LexicalRankerName = Field(description="Lexical ranker (rag.lexical.LEXICAL_RANKERS).")


class AnswerParams(BaseModel):
    """How an answer is made from retrieved chunks. Built from ``Settings.answer_params``."""

    model_config = ConfigDict(frozen=True)

    top_k: int = Field(description="Chunks retrieved; their best sentences make the context.")
    min_relevance: float = Field(description="Refuse without calling the model below this relevance.")
    context_chars: int = Field(description="Characters of passage text in the prompt (0: whole chunks).")
    sentence_similarity: bool = Field(description="Choose context sentences by embedding similarity too.")
    support_threshold: float = Field(description="Share of a claim's content words its quote must hold.")
    extractive_sentences: int = Field(description="Sentences quoted by the extractive backend.")
    max_question_chars: int = Field(description="Longer questions are refused up front.")
    n_ctx: int = Field(description="The model's window in tokens: prompt + answer must fit.")
    max_tokens: int = Field(description="Tokens kept free for the answer.")


class ModelParams(BaseModel):
    """Which chat model answers, and how it runs. Built from ``Settings.model_params``."""

    model_config = ConfigDict(frozen=True)

    llm: LLMName = Field(description="Backend: llamacpp, openai or extractive.")
    model_path: Path | None = Field(description="GGUF file for llamacpp (None: the pulled default).")
    cache_dir: Path = Field(description="Folder of built model files.")
    n_ctx: int = Field(description="llama.cpp context window.")
    n_threads: int = Field(description="llama.cpp threads.")
    n_batch: int = Field(description="llama.cpp prompt batch.")
    max_tokens: int = Field(description="Maximum answer tokens.")
    temperature: float = Field(description="Sampling temperature.")
    openai_base_url: str | None = Field(description="OpenAI-compatible base URL.")
    openai_api_key: str = Field(description="API key for the endpoint.")
    openai_model: str = Field(description="Model name at the endpoint.")


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment with command-line values on top, every value checked.

    The one way the CLI, the UI and ``rag.ask`` (without ``settings``) build a ``Settings``.

    Args:
        **overrides: field values given as command-line options; ``None`` means "not given".
            A bad one is named as its option (``top_k`` as ``--top-k``).

    Returns:
        The settings.

    Raises:
        SettingsError: one line per bad value, naming its environment variable (``NEWSRAG_TOP_K=0``)
            or option (``--llm foo``), and what is allowed.
        TypeError: an override names no setting.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    unknown = sorted(set(given) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"load_settings() got unknown settings: {', '.join(unknown)}")
    try:
        return Settings(**given)
    except ValidationError as err:
        raise SettingsError("\n".join(_problem(e, given) for e in err.errors())) from err


def _env_key(name: str) -> str | None:
    """The environment variable that set field ``name`` (names are case-insensitive), if any."""
    wanted = (ENV_PREFIX + name).upper()
    return next((key for key in os.environ if key.upper() == wanted), None)


def _source(name: str, given: dict[str, Any]) -> str:
    """Where field ``name`` is set: its option, else its environment variable."""
    if name in given:
        return "--" + name.replace("_", "-")
    return _env_key(name) or (ENV_PREFIX + name).upper()


def _problem(error: dict[str, Any], given: dict[str, Any]) -> str:
    """One line for one pydantic error: the setting with its value, then what it allows."""
    if error["type"] == "remote_embedder_incomplete":
        return (
            f"{_source('embedding_model', given)}={error['ctx']['model']}: a remote embedder is 'openai:<model>' with {_source('embedding_base_url', given)} "
            "set to the server's base URL (e.g. http://127.0.0.1:8080/v1)"
        )
    if error["type"] == "login_incomplete":
        ctx = error["ctx"]
        return (
            f"{_source(ctx['given'], given)} is set but {_source(ctx['missing'], given)} is not: "
            "a login needs both (or neither)"
        )
    if not error["loc"] or error["loc"][0] not in Settings.model_fields:
        return str(error["msg"])
    name = str(error["loc"][0])
    if name in given:
        where = f"--{name.replace('_', '-')} {given[name]}"
    else:
        key = _env_key(name)
        where = f"{key}={os.environ[key]}" if key else f"{name}={error.get('input')!r}"
    return f"{where}: {_allowed(name, error['type']) or error['msg']}"


def _allowed(name: str, error_type: str) -> str:
    """What field ``name`` accepts, in words, from its type and constraints ('' when unknown).

    The kind of value ("a whole number") is named only when the value was not of that kind.
    """
    field = Settings.model_fields[name]
    choices = get_args(field.annotation)
    if choices and all(isinstance(c, str) for c in choices):
        return "must be one of " + ", ".join(choices)
    if name == "collection":
        return "must be 3 to 512 characters from a-z A-Z 0-9 . _ -, starting and ending with a letter or digit"
    bounds = {}
    for item in field.metadata:
        for key in ("ge", "gt", "le", "lt"):
            if isinstance(item, getattr(annotated_types, key.capitalize())):
                bounds[key] = f"{getattr(item, key):g}"
    if "ge" in bounds and "le" in bounds:
        limits = f"between {bounds['ge']} and {bounds['le']}"
    else:
        words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
        limits = " and ".join(f"{words[key]} {value}" for key, value in bounds.items())
    kind = {int: "a whole number", float: "a number", bool: "true or false"}.get(field.annotation)
    wrong_kind = error_type.endswith(("_parsing", "_type")) or error_type == "int_from_float"
    if kind and wrong_kind:
        return f"must be {kind}, {limits}" if limits else f"must be {kind}"
    return f"must be {limits}" if limits else ""
