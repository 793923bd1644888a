"""Local chat-model speed: load time, time to first token, decode speed, prompt-prefix cache effect.

Uses the ``llamacpp`` backend exactly as the answer path does (``rag.llm.get_chat_model``) with a
~600-token prompt built from the shipped seed article. Three streamed calls:

1. ``cold``: a system prompt never seen before + question A;
2. ``shared_prefix``: the same system prompt + question B (the KV cache of the prefix is reused);
3. ``fresh_prefix``: a different system prompt of the same length + question B (no reuse).

Prints ``key=value`` lines.

    python -m benchmarks.llm_speed [--model-path FILE.gguf] [--max-tokens 64] [--n-threads 2]

``--sweep`` instead compares llama.cpp settings of the same model side by side in one run: for
each configuration the model is loaded once, a few answer-sized prompts (~230 tokens, built as
above) are evaluated from an empty KV cache and ~32 tokens are decoded greedily, then the model
is freed. One ``key=value`` line per configuration: prompt and decode tokens/s, and each as a
ratio to ``default`` (today's settings) measured in the same run. With ``--sweep-q4-0`` a Q4_0
file requantised from the model by llama.cpp's own quantize API (in a temporary folder, removed
afterwards) is measured the same way.

    python -m benchmarks.llm_speed --sweep [--sweep-prompts 3] [--sweep-decode 32] [--sweep-q4-0]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import tempfile
import time
from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage

from rag.llm import get_chat_model
from rag.model_files import resolve_model_path
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


# --- --sweep: llama.cpp settings side by side ------------------------------------------------

SWEEP_QUESTIONS = (
    "What is the main event reported, and who said what about it?",
    "Which people are named in the passages, and what did each of them say?",
    "What happened next, according to the passages?",
)


def sweep_configs() -> dict[str, dict]:
    """Named ``Llama()`` keyword sets; ``default`` is what ``rag.llm.load_llama`` passes today."""
    import llama_cpp

    q8, f16 = llama_cpp.GGML_TYPE_Q8_0, llama_cpp.GGML_TYPE_F16
    return {
        "default": {},
        "flash_attn": {"flash_attn": True},
        "batch_512_512": {"n_batch": 512, "n_ubatch": 512},
        "batch_256_256": {"n_batch": 256, "n_ubatch": 256},
        "batch_1024_512": {"n_batch": 1024, "n_ubatch": 512},
        "kv_f16_flash_attn": {"flash_attn": True, "type_k": f16, "type_v": f16},
        "kv_q8_0_flash_attn": {"flash_attn": True, "type_k": q8, "type_v": q8},
        "threads_1": {"n_threads": 1, "n_threads_batch": 1},
        "threads_2": {"n_threads": 2, "n_threads_batch": 2},
        "default_again": {},  # today's settings once more: how much the machine drifted meanwhile
    }


def _chatml(system: str, question: str) -> str:
    """The prompt as Qwen's chat template (ChatML) lays it out for the answer path."""
    from llama_cpp.llama_chat_format import format_chatml

    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    return format_chatml(messages).prompt


def sweep_prompts(llama, n_prompts: int, target_tokens: int) -> list[list[int]]:
    """``n_prompts`` token lists of answer-sized prompts, each from a different part of the text."""
    text = _source_text()
    prompts = []
    for i in range(n_prompts):
        system = _system_prompt(text, llama, target_tokens, offset=400 * i)
        question = SWEEP_QUESTIONS[i % len(SWEEP_QUESTIONS)]
        prompts.append(llama.tokenize(_chatml(system, question).encode(), special=True))
    return prompts


def _measure(llama, prompts: list[list[int]], n_decode: int) -> dict[str, float]:
    """Prompt and greedy-decode tokens/s over ``prompts``, each from an empty KV cache."""
    import llama_cpp
    import numpy as np

    def next_token() -> int:  # greedy, from the last evaluated position's logits
        logits = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
        return int(np.argmax(np.ctypeslib.as_array(logits, shape=(llama.n_vocab(),))))

    llama.reset()
    llama.eval(prompts[0][:16])  # warm-up: pages the weights in, builds the compute graphs
    prompt_tokens = decode_tokens = 0
    prompt_s = decode_s = 0.0
    for tokens in prompts:
        llama.reset()
        t0 = time.perf_counter()
        llama.eval(tokens)
        t1 = time.perf_counter()
        for _ in range(n_decode):
            llama.eval([next_token()])
        t2 = time.perf_counter()
        prompt_tokens += len(tokens)
        decode_tokens += n_decode
        prompt_s += t1 - t0
        decode_s += t2 - t1
    return {"prompt_tokens": prompt_tokens, "prompt_tok_s": prompt_tokens / prompt_s,
            "decode_tok_s": decode_tokens / decode_s}


def _quantize_q4_0(source: Path, folder: Path, n_threads: int) -> Path:
    """Requantise ``source`` to Q4_0 into ``folder`` with llama.cpp's quantize API."""
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    target = folder / (source.stem + "-q4_0.gguf")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
    params.nthread = n_threads
    params.allow_requantize = True
    with suppress_stdout_stderr(disable=False):  # llama.cpp logs every tensor
        rc = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(),
                                            ctypes.byref(params))
    if rc != 0 or not target.is_file():
        raise RuntimeError(f"llama_model_quantize returned {rc}")
    return target


def run_sweep(model_path: Path | None, n_prompts: int, target_tokens: int, n_decode: int,
              q4_0: bool) -> None:
    """Measure every configuration of ``sweep_configs`` (and Q4_0) and print key=value lines."""
    from llama_cpp import Llama

    settings = Settings()
    params = settings.model_params
    path = resolve_model_path(model_path or params.model_path, params.cache_dir)
    base = {"model_path": str(path), "n_ctx": params.n_ctx, "n_threads": params.n_threads,
            "n_threads_batch": params.n_threads, "n_batch": params.n_batch, "verbose": False}
    configs = {name: {**base, **extra}
               for name, extra in sweep_configs().items()}
    print(f"sweep_model={path.name}")
    print(f"sweep_default=n_ctx:{params.n_ctx} n_threads:{params.n_threads} "
          f"n_batch:{params.n_batch} n_ubatch:512 flash_attn:off kv:f16")

    tmp = tempfile.TemporaryDirectory(prefix="newsrag-q4_0-") if q4_0 else None
    try:
        if tmp is not None:
            t0 = time.perf_counter()
            try:
                q4_path = _quantize_q4_0(path, Path(tmp.name), params.n_threads)
                configs["q4_0"] = {**base, "model_path": str(q4_path)}
                print(f"sweep_q4_0_quantize_s={time.perf_counter() - t0:.1f} "
                      f"q4_0_mb={q4_path.stat().st_size / 1e6:.0f} "
                      f"q4_k_m_mb={path.stat().st_size / 1e6:.0f}")
            except Exception as exc:  # report and go on with the other configurations
                print(f"sweep_q4_0_error={type(exc).__name__}: {exc}")

        prompts = None
        reference = None
        if "q4_0" in configs:  # measure it before the closing ``default_again``
            configs = {name: configs[name] for name in configs if name != "default_again"}
            configs["default_again"] = {**base}
        for name, kwargs in configs.items():
            t0 = time.perf_counter()
            try:
                llama = Llama(**kwargs)
            except Exception as exc:
                print(f"config={name} error={type(exc).__name__}: {str(exc)[:120]}")
                continue
            load_s = time.perf_counter() - t0
            try:
                if prompts is None:
                    prompts = sweep_prompts(llama, n_prompts, target_tokens)
                figures = _measure(llama, prompts, n_decode)
            except Exception as exc:
                print(f"config={name} error={type(exc).__name__}: {str(exc)[:120]}")
                continue
            finally:
                llama.close()
                del llama
                gc.collect()
            if name == "default":
                reference = figures
            ratios = ""
            if reference:
                ratios = (f" prompt_ratio={figures['prompt_tok_s'] / reference['prompt_tok_s']:.2f}"
                          f" decode_ratio={figures['decode_tok_s'] / reference['decode_tok_s']:.2f}")
            print(f"config={name} prompt_tok_s={figures['prompt_tok_s']:.1f} "
                  f"decode_tok_s={figures['decode_tok_s']:.2f}{ratios} "
                  f"prompts={len(prompts)} prompt_tokens={figures['prompt_tokens']} "
                  f"decode_tokens={n_decode * len(prompts)} load_s={load_s:.1f}", flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-path", type=Path, default=None)
    parser.add_argument("--prompt-tokens", type=int, default=600)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--n-batch", type=int, default=512)
    parser.add_argument("--n-threads", type=int, default=2)
    parser.add_argument("--sweep", action="store_true",
                        help="compare llama.cpp settings side by side instead")
    parser.add_argument("--sweep-prompts", type=int, default=3)
    parser.add_argument("--sweep-prompt-tokens", type=int, default=170,
                        help="system-prompt tokens per sweep prompt (~230 with the question)")
    parser.add_argument("--sweep-decode", type=int, default=32)
    parser.add_argument("--sweep-q4-0", action="store_true",
                        help="also measure a Q4_0 file requantised in a temporary folder")
    args = parser.parse_args()
    if args.sweep:
        run_sweep(args.model_path, args.sweep_prompts, args.sweep_prompt_tokens,
                  args.sweep_decode, args.sweep_q4_0)
        return

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
