"""The ``openai`` backend against a real OpenAI-compatible server (llama-cpp-python's, 0.5B model)."""

from __future__ import annotations

import pytest

from conftest import model_params
from rag.llm import get_chat_model
from rag.model_files import pull
from rag.settings import default_cache_dir
from servers import llama_server

pytestmark = pytest.mark.slow

QUESTION = [
    ("system", "Answer with one word, copied from the passage.\n"
               "[1] The harbour of Turku froze on Tuesday, the port authority said."),
    ("human", "Which harbour froze?"),
]


@pytest.fixture(scope="session")
def small_gguf():
    """The 0.5B model file, built once (fast when already in the cache)."""
    return pull("qwen2.5-0.5b", default_cache_dir(), progress=False)


@pytest.fixture(scope="module")
def server_url(small_gguf, tmp_path_factory):
    with llama_server(small_gguf, tmp_path_factory.mktemp("server")) as url:
        yield url


def test_openai_backend_invokes_a_real_server(server_url):
    model = get_chat_model(model_params(llm="openai", openai_base_url=server_url, openai_model="local",
                                        max_tokens=16))
    answer = model.invoke(QUESTION)
    assert "Turku" in answer.content


def test_openai_backend_streams_from_a_real_server(server_url):
    model = get_chat_model(model_params(llm="openai", openai_base_url=server_url, max_tokens=16))
    chunks = [c.content for c in model.stream(QUESTION)]
    assert len([c for c in chunks if c]) > 1
    assert "Turku" in "".join(chunks)


def test_openai_backend_honours_max_tokens(server_url):
    model = get_chat_model(model_params(llm="openai", openai_base_url=server_url, max_tokens=3))
    answer = model.invoke("Name ten European capitals, one per line.")
    assert answer.response_metadata["finish_reason"] == "length"
    assert 0 < len(answer.content) < 40  # three tokens, not ten capitals
