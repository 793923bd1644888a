"""The chat-model factory: backends, errors, and the real local 1.5B model."""

from __future__ import annotations

import threading

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from rag import llm
from rag.errors import BackendError, ModelMissingError
from rag.model_files import model_path, status
from rag.settings import Settings, default_cache_dir
from conftest import model_params
from servers import free_port


def test_unknown_backend_names_the_choices():
    with pytest.raises(BackendError, match="llamacpp, openai, extractive"):
        llm.get_chat_model(model_params(llm="gpt-9"))


def test_extractive_has_no_chat_model():
    assert llm.chat_model_from_settings(Settings(llm="extractive")) is None
    assert llm.get_chat_model(model_params(llm="extractive")) is None


def test_missing_local_model_says_how_to_fix_it(tmp_path):
    with pytest.raises(ModelMissingError, match="run `newsrag model pull`"):
        llm.get_chat_model(model_params(llm="llamacpp", cache_dir=tmp_path))
    with pytest.raises(ModelMissingError, match="NEWSRAG_MODEL_PATH"):
        llm.chat_model_from_settings(
            Settings(llm="llamacpp", model_path=tmp_path / "x.gguf", cache_dir=tmp_path))


def test_unloadable_gguf_is_a_backend_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"this is not a gguf file" * 100)
    with pytest.raises(BackendError, match="could not load"):
        llm.get_chat_model(model_params(llm="llamacpp", model_path=bad))


def test_openai_needs_a_base_url():
    with pytest.raises(BackendError, match="NEWSRAG_OPENAI_BASE_URL"):
        llm.get_chat_model(model_params(llm="openai"))


def test_openai_model_is_configured_from_settings():
    settings = Settings(llm="openai", openai_base_url="http://127.0.0.1:9/v1",
                        openai_api_key="k", openai_model="m", max_tokens=42)
    model = llm.chat_model_from_settings(settings)
    assert isinstance(model, ChatOpenAI)
    assert (model.openai_api_base, model.model_name, model.max_tokens) == (
        "http://127.0.0.1:9/v1", "m", 42)
    assert model.streaming and model.temperature == 0.0


def test_openai_requests_send_max_tokens():
    model = llm.get_chat_model(model_params(llm="openai", openai_base_url="http://127.0.0.1:9/v1", max_tokens=42))
    payload = model._get_request_payload([HumanMessage("hi")])
    assert payload["max_tokens"] == 42 and "max_completion_tokens" not in payload
    assert model._get_request_payload([HumanMessage("hi")], max_tokens=7)["max_tokens"] == 7


def test_unreachable_openai_server_is_one_clear_error():
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = llm.get_chat_model(model_params(llm="openai", openai_base_url=url))
    with pytest.raises(BackendError, match=f"Cannot reach the OpenAI-compatible server at {url}"):
        model.invoke("hello")
    with pytest.raises(BackendError, match="Cannot reach"):
        list(model.stream("hello"))


def test_messages_map_to_chat_roles():
    assert [llm._message_to_dict(m) for m in (
        SystemMessage("s"), HumanMessage("h"), AIMessage("a"))] == [
        {"role": "system", "content": "s"}, {"role": "user", "content": "h"},
        {"role": "assistant", "content": "a"}]


# --- llama.cpp's own errors and tokenizer ----------------------------------------------------------
class FakeLlama:
    """Stands in for ``llama_cpp.Llama``: one token per word; fails like llama.cpp on long prompts."""

    def __init__(self, n_ctx: int = 64) -> None:
        self.n_ctx = n_ctx

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(range(len(text.split())))

    def create_chat_completion(self, messages, stream=False, **kwargs):
        used = sum(len(m["content"].split()) for m in messages)
        if used >= self.n_ctx:
            raise ValueError(f"Requested tokens ({used}) exceed context window of {self.n_ctx}")
        if stream:
            return iter([{"choices": [{"delta": {"content": "ok"}, "finish_reason": "stop"}]}])
        return {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}], "usage": {}}


@pytest.fixture
def fake_llama_model(monkeypatch, tmp_path):
    shared = llm.SharedLlama(llama=FakeLlama(), lock=threading.Lock())
    monkeypatch.setattr(llm.LlamaCppChatModel, "shared", lambda self: shared)
    return llm.LlamaCppChatModel(model_path=tmp_path / "m.gguf", n_ctx=64)


def test_llama_context_overflow_is_a_one_line_backend_error(fake_llama_model):
    long = [HumanMessage("word " * 100)]
    for call in (lambda: fake_llama_model.invoke(long), lambda: list(fake_llama_model.stream(long))):
        with pytest.raises(BackendError) as err:
            call()
        message = str(err.value)
        assert "Requested tokens (100) exceed context window of 64" in message and "\n" not in message
    assert fake_llama_model.invoke([HumanMessage("short")]).content == "ok"


def test_llama_counts_tokens_with_its_own_tokenizer(fake_llama_model):
    messages = [SystemMessage("one two three"), HumanMessage("four five")]
    assert fake_llama_model.count_tokens(messages) == 5 + 2 * llm.TEMPLATE_TOKENS + llm.TEMPLATE_TOKENS


# --- the real local model ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_model():
    if not status("qwen2.5-1.5b", default_cache_dir())["verified"]:
        pytest.fail(f"{model_path('qwen2.5-1.5b', default_cache_dir())} missing: run `make model`")
    return llm.get_chat_model(model_params(llm="llamacpp", max_tokens=24))


QUESTION = [
    SystemMessage("Answer in one short sentence using only the passage.\n"
                  "[1] Helsinki, 3 May: The city council of Tampere voted to build a new tram "
                  "line to the harbour, mayor Anna Virtanen said on Monday."),
    HumanMessage("Who is the mayor, according to the passage?"),
]


@pytest.mark.slow
def test_local_model_answers_and_streams(local_model):
    answer = local_model.invoke(QUESTION)
    assert "Virtanen" in answer.content
    assert answer.usage_metadata["input_tokens"] > 20

    chunks = list(local_model.stream(QUESTION))
    assert len(chunks) > 1
    assert "Virtanen" in "".join(c.content for c in chunks)
    assert any(c.response_metadata.get("finish_reason") in ("stop", "length") for c in chunks)
    usage = sum(chunks[1:], chunks[0]).usage_metadata  # the call's token counts, for the timings
    assert usage["input_tokens"] > 20 and usage["output_tokens"] >= 2
    assert 0 <= usage["input_token_details"]["cache_read"] < usage["input_tokens"]


@pytest.mark.slow
def test_local_model_is_loaded_once_and_safe_across_threads(local_model):
    again = llm.get_chat_model(model_params(llm="llamacpp", max_tokens=8))
    assert again.shared() is local_model.shared()

    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(
        local_model.invoke(QUESTION, max_tokens=12).content)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 2 and all("Virtanen" in a for a in answers)


@pytest.mark.slow
def test_shared_prompt_prefix_is_not_evaluated_twice(local_model):
    llama = local_model.shared().llama
    evaluated: list[int] = []
    real_eval = llama.eval

    def counting_eval(tokens):
        evaluated.append(len(tokens))
        return real_eval(tokens)

    system = "Passages:\n" + "\n".join(
        f"[{n}] Passage {n} repeats the council's tram decision for the harbour line."
        for n in range(2, 12)) + "\n" + QUESTION[0].content
    llama.eval = counting_eval
    try:
        local_model.invoke([SystemMessage(system), HumanMessage("Who is the mayor?")],
                           max_tokens=1)
        first_prompt = evaluated[0]
        evaluated.clear()
        local_model.invoke([SystemMessage(system), HumanMessage("Where will the line go?")],
                           max_tokens=1)
    finally:
        del llama.eval
    assert first_prompt > 150
    assert evaluated[0] < 30  # only the new question (and chat-template tail) is evaluated
