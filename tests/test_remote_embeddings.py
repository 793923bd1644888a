"""The remote embedder (``openai:<model>``) against a small OpenAI-compatible HTTP server on
127.0.0.1 that answers as told: batches, retries on transient errors, one clear line when down."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from rag.embeddings import EmbeddingServerError, RemoteEmbeddings, embedder_identity, embeddings_from_settings
from rag.settings import load_settings
from rag.errors import SettingsError
from servers import free_port


class EmbeddingServer(ThreadingHTTPServer):
    """``POST /v1/embeddings``: a vector per input (its length, then 1, 2), after ``failures``
    answers of ``fail_status`` (with ``Retry-After-Ms: 1``, so retries wait a millisecond)."""

    def __init__(self, failures: int = 0, fail_status: int = 503) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.failures, self.fail_status = failures, fail_status
        self.requests: list[list[str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Retry-After-Ms", "1")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server: EmbeddingServer = self.server  # type: ignore[assignment]
        server.requests.append(body["input"])
        if server.failures > 0:
            server.failures -= 1
            self._send(server.fail_status, {"error": {"message": "busy, try later"}})
            return
        if body["model"] != "bge":
            self._send(404, {"error": {"message": f"model {body['model']} not found"}})
            return
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 2.0]}
                for i, t in enumerate(body["input"])]
        self._send(200, {"object": "list", "data": data[::-1], "model": "bge"})  # any order: by index


@pytest.fixture
def server_factory():
    started = []

    def start(**kwargs) -> EmbeddingServer:
        server = EmbeddingServer(**kwargs)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def test_texts_go_in_batches_and_come_back_normalised_in_order(server_factory):
    server = server_factory()
    emb = RemoteEmbeddings("bge", server.url, batch_size=2, retries=0)
    vectors = np.asarray(emb.embed_documents(["a", "bbbb", "cc", ""]))
    assert server.requests == [["a", "bbbb"], ["cc", " "]]  # an empty text is sent as a space
    expected = np.asarray([[1, 1, 2], [4, 1, 2], [2, 1, 2], [1, 1, 2]], dtype=float)
    assert vectors == pytest.approx(expected / np.linalg.norm(expected, axis=1, keepdims=True), rel=1e-6)
    assert emb.embed_query("bbbb") == pytest.approx(vectors[1].tolist(), rel=1e-6)
    assert emb.embed_documents([]) == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried(server_factory, status):
    server = server_factory(failures=2, fail_status=status)
    emb = RemoteEmbeddings("bge", server.url, retries=2)
    assert len(emb.embed_query("harbour")) == 3
    assert len(server.requests) == 3


def test_retries_are_bounded_then_one_line_names_the_server(server_factory):
    server = server_factory(failures=10, fail_status=503)
    emb = RemoteEmbeddings("bge", server.url, retries=2)
    with pytest.raises(EmbeddingServerError) as err:
        emb.embed_query("harbour")
    assert len(server.requests) == 3
    assert str(err.value) == f"the embedding server at {server.url} answered 503 for model 'bge': busy, try later"


def test_a_refusal_is_not_retried(server_factory):
    server = server_factory()
    with pytest.raises(EmbeddingServerError, match="answered 404 for model 'nomodel': model nomodel not found"):
        RemoteEmbeddings("nomodel", server.url, retries=3).embed_query("x")
    assert len(server.requests) == 1


def test_a_server_that_is_down_is_one_line_with_its_address():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EmbeddingServerError) as err:
        RemoteEmbeddings("bge", url, retries=1).embed_query("x")
    message = str(err.value)
    assert message.startswith(f"cannot reach the embedding server at {url} (") and "tried 2 times" in message
    assert "\n" not in message


def test_settings_name_the_remote_embedder_and_its_server(monkeypatch, server_factory):
    server = server_factory()
    monkeypatch.setenv("NEWSRAG_EMBEDDING_MODEL", "openai:bge")
    monkeypatch.setenv("NEWSRAG_EMBEDDING_BASE_URL", server.url + "/")
    emb = embeddings_from_settings(load_settings(embedding_retries=0))
    assert embedder_identity(emb) == {"embedder": "openai:bge", "model": "bge", "base_url": server.url}
    assert len(emb.embed_query("x")) == 3
    monkeypatch.delenv("NEWSRAG_EMBEDDING_BASE_URL")
    with pytest.raises(SettingsError, match="NEWSRAG_EMBEDDING_MODEL=openai:bge: a remote embedder is "
                       "'openai:<model>' with NEWSRAG_EMBEDDING_BASE_URL set"):
        load_settings()
