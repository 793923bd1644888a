"""Local chat-model speed: load time, time to first token, decode speed, prompt-prefix cache effect.

Uses the ``llamacpp`` backend exactly as the answer path does (``rag.llm.get_chat_model``) with a
~600-token prompt built from the shipped seed article. Three streamed calls:

1. ``cold``: a system prompt never seen before + question A;
2. ``shared_prefix``: the same system prompt + question B (the KV cache of the prefix is reused);
3. ``fresh_prefix``: a different system prompt of the same length + question B (no reuse).

Prints ``key=value`` lines.

    python -m benchmarks.llm_speed [--model-path FILE.gguf] [--max-tokens 64] [--n-threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage

from rag.llm import get_chat_model
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_d8ed5a87b2fc358e.txt"
DEV_ARTICLES = ROOT.parent / "shared" / "datasets" / "rtqa-dev" / "articles.jsonl"
INSTRUCTIONS = ("You answer questions about news articles using only the numbered passages "
                "below. Cite each claim with [n]. If the passages do not answer, say so.\n\n")


def _system_prompt(text: str, llama, target_tokens: int, offset: int) -> str:
    """Instructions plus numbered passages of the seed text, about ``target_tokens`` long."""
    words = text.split()
    prompt, n, start = INSTRUCTIONS, 1, offset
    while len(llama.tokenize(prompt.encode())) < target_tokens and start < len(words):
        prompt += f"[{n}] " + " ".join(words[start:start + 80]) + "\n\n"
        start, n = start + 80, n + 1
    return prompt


def _source_text() -> str:
    """The seed article, followed by a few dev-set articles when they are there."""
    text = SEED.read_text(encoding="utf-8")
    if DEV_ARTICLES.is_file():
        with DEV_ARTICLES.open(encoding="utf-8") as fh:
            for _, line in zip(range(5), fh):
                text += "\n\n" + json.loads(line)["text"]
    return text


def _timed_stream(model, messages, llama) -> dict[str, float]:
    evaluated: list[int] = []
    real_eval = llama.eval
    llama.eval = lambda tokens: (evaluated.append(len(tokens)), real_eval(tokens))[1]
    try:
        figures = _stream_once(model, messages, llama)
    finally:
        del llama.eval
    figures["prompt_tokens_evaluated"] = evaluated[0] if evaluated else 0
    return figures


def _stream_once(model, messages, llama) -> dict[str, float]:
    t0 = time.perf_counter()
    first = None
    text = ""
    for chunk in model.stream(messages):
        if chunk.content and first is None:
            first = time.perf_counter()
        text += chunk.content
    end = time.perf_counter()
    n_out = len(llama.tokenize(text.encode(), add_bos=False))
    ttft = (first or end) - t0
    decode = (n_out - 1) / (end - first) if first and n_out > 1 and end > first else 0.0
    return {"ttft_s": ttft, "total_s": end - t0, "output_tokens": n_out, "decode_tok_s": decode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-path", type=Path, default=None)
    parser.add_argument("--prompt-tokens", type=int, default=600)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--n-batch", type=int, default=512)
    parser.add_argument("--n-threads", type=int, default=2)
    args = parser.parse_args()

    t0 = time.perf_counter()
    params = Settings().model_params.model_copy(update={
        "llm": "llamacpp", "model_path": args.model_path, "max_tokens": args.max_tokens,
        "n_batch": args.n_batch, "n_threads": args.n_threads,
    })
    model = get_chat_model(params)
    print(f"llm_load_s={time.perf_counter() - t0:.2f}")
    llama = model.shared().llama
    text = _source_text()
    system_a = _system_prompt(text, llama, args.prompt_tokens, offset=0)
    system_b = "Today's brief. " + _system_prompt(text, llama, args.prompt_tokens, offset=1200)
    q_a = "What is the main event reported, and who said what about it?"
    q_b = "Which people are named in the passages, and what did each of them say?"

    runs = {
        "cold": [SystemMessage(system_a), HumanMessage(q_a)],
        "shared_prefix": [SystemMessage(system_a), HumanMessage(q_b)],
        "fresh_prefix": [SystemMessage(system_b), HumanMessage(q_b)],
    }
    prompt_tokens = len(llama.tokenize(system_a.encode())) + len(llama.tokenize(q_a.encode()))
    print(f"llm_prompt_tokens={prompt_tokens}")
    print(f"llm_n_batch={args.n_batch}")
    print(f"llm_n_threads={args.n_threads}")
    for name, messages in runs.items():
        figures = _timed_stream(model, messages, llama)
        for key, value in figures.items():
            print(f"llm_{name}_{key}={value:.2f}" if isinstance(value, float)
                  else f"llm_{name}_{key}={value}")


if __name__ == "__main__":
    main()
