"""A small OpenAI-compatible ``/v1/embeddings`` server over one of newsrag's own embedders.

For measuring the remote embedder (``NEWSRAG_EMBEDDING_MODEL=openai:<model>``) with the very model
the in-process path uses: retrieval through it should give the in-process figures exactly. Not a
production server (one process, no batching across requests); real deployments use
text-embeddings-inference, vLLM, Infinity, Ollama or llama.cpp's server.

    python -m benchmarks.embedding_server --model minilm-int8 --port 8081
    NEWSRAG_EMBEDDING_MODEL=openai:minilm-int8 NEWSRAG_EMBEDDING_BASE_URL=http://127.0.0.1:8081/v1 \\
        newsrag ingest ARTICLES --store DIR
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rag.embeddings import get_embeddings


def make_handler(model: str, embeddings: Any) -> type[BaseHTTPRequestHandler]:
    """A request handler answering ``POST /v1/embeddings`` for ``model`` with ``embeddings``.

    Args:
        model: the model name requests must give.
        embeddings: the embedder (with ``embed_array``).

    Returns:
        The handler class.
    """

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/embeddings":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if body.get("model") != model:
                self._send(404, {"error": {"message": f"model {body.get('model')!r} is not served here"}})
                return
            texts = body.get("input") or []
            texts = [texts] if isinstance(texts, str) else list(texts)
            vectors = embeddings.embed_array(texts)
            data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
            self._send(200, {"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": 0, "total_tokens": 0}})

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-int8", help="newsrag embedder to serve (minilm-int8, minilm, a folder)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081)
    args = ap.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.model, get_embeddings(args.model)))
    print(f"serving {args.model} at http://{args.host}:{args.port}/v1/embeddings", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
