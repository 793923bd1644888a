"""Chat-model backends as LangChain chat models: a local GGUF (llama.cpp) or an OpenAI-compatible server.

``llamacpp``: one ``llama_cpp.Llama`` per (file, parameters) per process, shared by every chat
model built for it and guarded by a lock (a llama.cpp context is not re-entrant; the chat UI
serves several users at once). Consecutive calls on the same ``Llama`` reuse its KV cache for
the prompt prefix they share, so a fixed system prompt is processed once.

``openai``: LangChain's ``ChatOpenAI`` pointed at any OpenAI-compatible base URL (vLLM, llama.cpp's
server, Ollama, OpenAI); connection and HTTP failures surface as ``BackendError``.

There is no fallback from one backend to another: a backend that cannot work raises, always as a
one-line ``BackendError`` (llama.cpp's own ``ValueError``/``RuntimeError`` included).
"""

from __future__ import annotations

import atexit

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import Field

from rag.errors import BackendError
from rag.model_files import resolve_model_path
from rag.settings import ModelParams

if TYPE_CHECKING:
    from rag.settings import Settings

BACKENDS = ("llamacpp", "openai", "extractive")


# --- one Llama per (file, parameters) per process ---------------------------------------------


@dataclass
class SharedLlama:
    """A loaded ``llama_cpp.Llama`` and the lock every caller must hold while using it."""

    llama: Any
    lock: threading.Lock


_LOADED: dict[tuple[str, int, int, int], SharedLlama] = {}
_LOADED_LOCK = threading.Lock()


def llama_kwargs(model_path: Path, *, n_ctx: int = 2048, n_threads: int = 2,
                 n_batch: int = 512) -> dict[str, Any]:
    """The ``llama_cpp.Llama()`` keywords the answer path loads ``model_path`` with (the same
    threads for prompt processing and decoding, llama.cpp's own logging off)."""
    return {"model_path": str(model_path), "n_ctx": n_ctx, "n_threads": n_threads,
            "n_threads_batch": n_threads, "n_batch": n_batch, "verbose": False}


def load_llama(model_path: Path, *, n_ctx: int = 2048, n_threads: int = 2,
               n_batch: int = 512) -> SharedLlama:
    """Load a GGUF file once per process and parameter set; later calls return the same object.

    Args:
        model_path: an existing GGUF file.
        n_ctx: context window in tokens.
        n_threads: CPU threads for prompt processing and decoding.
        n_batch: prompt tokens evaluated per batch.

    Returns:
        The shared ``Llama`` with its lock.

    Raises:
        BackendError: llama.cpp could not load the file.
    """
    key = (str(Path(model_path).resolve()), n_ctx, n_threads, n_batch)
    with _LOADED_LOCK:
        shared = _LOADED.get(key)
        if shared is None:
            from llama_cpp import Llama

            try:
                llama = Llama(**llama_kwargs(key[0], n_ctx=n_ctx, n_threads=n_threads, n_batch=n_batch))
            except Exception as exc:  # llama.cpp reports failures as ValueError/RuntimeError
                raise BackendError(f"llama.cpp could not load {key[0]}: {exc}") from exc
            shared = _LOADED[key] = SharedLlama(llama=llama, lock=threading.Lock())
            if len(_LOADED) == 1:
                atexit.register(_close_all)
        return shared


def _close_all() -> None:
    """Free the loaded models before interpreter shutdown (llama.cpp's own finaliser then fails)."""
    with _LOADED_LOCK:
        for shared in _LOADED.values():
            shared.llama.close()
        _LOADED.clear()


# Template tokens llama.cpp adds around each chat message (ChatML, which Qwen uses, spends 5:
# ``<|im_start|>role\n ... <|im_end|>\n``; Llama 3's header spends 5 too), and once for the reply header.
TEMPLATE_TOKENS = 8


def _llama_failure(exc: Exception, model_path: Path, n_ctx: int) -> BackendError:
    """A one-line ``BackendError`` for an exception llama.cpp raised while answering."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "context window" in first:
        return BackendError(
            f"The prompt is too long for the model's context window: {first} (NEWSRAG_N_CTX={n_ctx})."
        )
    return BackendError(f"llama.cpp failed while answering with {model_path.name}: {first}")


def _perf_context(llama: Any) -> Any | None:
    """The llama.cpp context whose own counters of evaluated tokens ``call_usage`` reads (None
    for a stand-in without one)."""
    return getattr(getattr(llama, "_ctx", None), "ctx", None)


def _reset_counters(llama: Any) -> None:
    """Zero llama.cpp's counters of evaluated tokens, so that they count one call (lock held)."""
    ctx = _perf_context(llama)
    if ctx is not None:
        import llama_cpp

        llama_cpp.llama_perf_context_reset(ctx)


def call_usage(llama: Any, completion: str) -> dict[str, Any] | None:
    """The token counts of the call that just ended on ``llama`` (counters reset before it, lock held).

    The prompt's tokens are those in the context before decoding began (llama.cpp counts decoding
    as single-token evaluations); the uncached ones are those it evaluated in batches (the rest
    came from its prefix cache); the completion's are ``completion`` split by the model's tokenizer.

    Args:
        llama: the ``llama_cpp.Llama`` the call ran on.
        completion: the text the call produced.

    Returns:
        LangChain ``UsageMetadata``: ``input_tokens``, ``output_tokens``, ``total_tokens`` and
        ``input_token_details.cache_read`` (prompt tokens reused from the cache); None when
        ``llama`` keeps no counters.
    """
    ctx = _perf_context(llama)
    if ctx is None:
        return None
    import llama_cpp

    counters = llama_cpp.llama_perf_context(ctx)
    prompt = max(0, llama.n_tokens - counters.n_eval)
    output = len(llama.tokenize(completion.encode("utf-8"), add_bos=False, special=False)) if completion else 0
    return {
        "input_tokens": prompt,
        "output_tokens": output,
        "total_tokens": prompt + output,
        "input_token_details": {"cache_read": max(0, prompt - counters.n_p_eval)},
    }


def _message_to_dict(message: BaseMessage) -> dict[str, str]:
    if isinstance(message, SystemMessage):
        role = "system"
    elif isinstance(message, HumanMessage):
        role = "user"
    elif isinstance(message, AIMessage):
        role = "assistant"
    elif isinstance(message, ChatMessage):
        role = message.role
    else:
        raise BackendError(f"The llamacpp backend cannot send a {message.type!r} message.")
    return {"role": role, "content": str(message.text)}


class LlamaCppChatModel(BaseChatModel):
    """LangChain chat model over ``llama_cpp.Llama.create_chat_completion`` with a shared model.

    Call-time keyword arguments ``max_tokens``, ``temperature`` and ``stop`` override the
    defaults (e.g. ``model.invoke(messages, max_tokens=40)`` or ``model.bind(max_tokens=40)``).
    """

    model_path: Path = Field(description="GGUF file.")
    n_ctx: int = Field(default=2048, description="Context window in tokens.")
    n_threads: int = Field(default=2, description="CPU threads.")
    n_batch: int = Field(default=512, description="Prompt tokens per batch (8 doubles TTFT).")
    max_tokens: int = Field(default=160, description="Maximum tokens generated.")
    temperature: float = Field(default=0.0, description="Sampling temperature (0 = greedy).")

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": str(self.model_path), "n_ctx": self.n_ctx,
                "n_batch": self.n_batch, "max_tokens": self.max_tokens,
                "temperature": self.temperature}

    def shared(self) -> SharedLlama:
        """The process-wide loaded model this chat model uses (loaded on first call)."""
        return load_llama(self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                          n_batch=self.n_batch)

    def count_tokens(self, messages: list[BaseMessage]) -> int:
        """Tokens the prompt of ``messages`` takes in this model's context window: each message's
        text as the model's own tokenizer splits it, plus its chat-template tokens.

        Args:
            messages: the prompt's messages.

        Returns:
            The token count (at least what llama.cpp will evaluate).
        """
        llama = self.shared().llama
        total = TEMPLATE_TOKENS
        for m in messages:
            text = str(m.text).encode("utf-8")
            total += len(llama.tokenize(text, add_bos=False, special=False)) + TEMPLATE_TOKENS
        return total

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": kwargs.get("temperature", self.temperature),
            "stop": stop or kwargs.get("stop") or [],
        }

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        shared = self.shared()
        payload = [_message_to_dict(m) for m in messages]
        with shared.lock:
            try:
                response = shared.llama.create_chat_completion(
                    messages=payload, **self._params(stop, kwargs)
                )
            except Exception as exc:  # llama.cpp reports failures as ValueError/RuntimeError
                raise _llama_failure(exc, self.model_path, self.n_ctx) from exc
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            response_metadata={"finish_reason": choice.get("finish_reason"),
                               "model_name": self.model_path.name},
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        shared = self.shared()
        payload = [_message_to_dict(m) for m in messages]
        # The lock is held until the stream ends or the consumer closes the generator.
        with shared.lock:
            try:
                _reset_counters(shared.llama)
                stream = shared.llama.create_chat_completion(
                    messages=payload, stream=True, **self._params(stop, kwargs)
                )
                written = []
                for part in stream:
                    choice = part["choices"][0] if part.get("choices") else None
                    if choice is None:
                        continue
                    text = (choice.get("delta") or {}).get("content") or ""
                    finish = choice.get("finish_reason")
                    if not text and not finish:
                        continue
                    chunk = ChatGenerationChunk(
                        message=AIMessageChunk(
                            content=text,
                            response_metadata={"finish_reason": finish,
                                               "model_name": self.model_path.name} if finish else {},
                        )
                    )
                    if run_manager and text:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    written.append(text)
                    yield chunk
                usage = call_usage(shared.llama, "".join(written))
                if usage is not None:  # the call's token counts, in a last chunk without text
                    yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))
            except Exception as exc:  # llama.cpp reports failures as ValueError/RuntimeError
                raise _llama_failure(exc, self.model_path, self.n_ctx) from exc


# --- OpenAI-compatible servers -----------------------------------------------------------------


def _openai_failure(exc: Exception, base_url: str) -> BackendError | None:
    import openai

    if isinstance(exc, openai.APIConnectionError):
        return BackendError(f"Cannot reach the OpenAI-compatible server at {base_url}: {exc}")
    if isinstance(exc, openai.APIStatusError):
        return BackendError(
            f"The OpenAI-compatible server at {base_url} answered HTTP {exc.status_code}: "
            f"{exc.message}"
        )
    return None


class OpenAICompatibleChatModel(ChatOpenAI):
    """``ChatOpenAI`` whose connection and HTTP failures become one-line ``BackendError``s."""

    def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None,
                             **kwargs: Any) -> dict:
        # ChatOpenAI sends ``max_completion_tokens``, which llama.cpp's server and older vLLM and
        # Ollama ignore (answers then run to the context limit); every server honours ``max_tokens``.
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        if "max_completion_tokens" in payload:
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        return payload

    def _reraise(self, exc: Exception) -> None:
        mapped = _openai_failure(exc, str(self.openai_api_base))
        if mapped is not None:
            raise mapped from exc
        raise exc

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            return super()._generate(*args, **kwargs)
        except Exception as exc:
            self._reraise(exc)
            raise

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        try:
            yield from super()._stream(*args, **kwargs)
        except Exception as exc:
            self._reraise(exc)
            raise

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            return await super()._agenerate(*args, **kwargs)
        except Exception as exc:
            self._reraise(exc)
            raise

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        try:
            async for chunk in super()._astream(*args, **kwargs):
                yield chunk
        except Exception as exc:
            self._reraise(exc)
            raise


# --- the factory -------------------------------------------------------------------------------


def get_chat_model(params: ModelParams) -> BaseChatModel | None:
    """Build the chat model of a backend.

    Args:
        params: the backend (``llamacpp``: local GGUF, ``model_path`` or the default model built
            by ``newsrag model pull`` in ``cache_dir``; ``openai``: an OpenAI-compatible server at
            ``openai_base_url``; ``extractive``: none) and how it runs (``Settings.model_params``).

    Returns:
        A LangChain chat model supporting ``invoke`` and ``stream`` (for ``llamacpp`` the model
        file is loaded here, once per process), or None for the ``extractive`` backend.

    Raises:
        ModelMissingError: the llamacpp model file does not exist (message says how to fix it).
        BackendError: unknown backend, missing base URL, or a model llama.cpp cannot load.
    """
    if params.llm == "llamacpp":
        path = resolve_model_path(params.model_path, Path(params.cache_dir))
        model = LlamaCppChatModel(model_path=path, n_ctx=params.n_ctx, n_threads=params.n_threads,
                                  n_batch=params.n_batch, max_tokens=params.max_tokens,
                                  temperature=params.temperature)
        model.shared()
        return model
    if params.llm == "openai":
        if not params.openai_base_url:
            raise BackendError(
                "The openai backend needs a server: set NEWSRAG_OPENAI_BASE_URL (e.g. "
                "http://127.0.0.1:8000/v1 for llama.cpp's server, https://api.openai.com/v1 for "
                "OpenAI), NEWSRAG_OPENAI_MODEL and, if required, NEWSRAG_OPENAI_API_KEY."
            )
        return OpenAICompatibleChatModel(
            base_url=params.openai_base_url, api_key=params.openai_api_key, model=params.openai_model,
            max_tokens=params.max_tokens, temperature=params.temperature, streaming=True,
            max_retries=1, timeout=300,
        )
    if params.llm == "extractive":
        return None
    raise BackendError(
        f"Unknown LLM backend {params.llm!r}; choose one of: {', '.join(BACKENDS)}."
    )


def chat_model_from_settings(settings: Settings) -> BaseChatModel | None:
    """The chat model the settings ask for (``get_chat_model(settings.model_params)``).

    Args:
        settings: the project settings.

    Returns:
        The chat model, or None for the ``extractive`` backend.

    Raises:
        ModelMissingError, BackendError: as ``get_chat_model``.
    """
    return get_chat_model(settings.model_params)
