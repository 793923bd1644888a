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
ratio to ``default`` (today's settings) measured in the same run. With ``--sweep-q4-0`` /
``--sweep-q8-0`` a Q4_0 / Q8_0 file requantised from the model by llama.cpp's own quantize API
(in a temporary folder, removed afterwards) is measured the same way.

    python -m benchmarks.llm_speed --sweep [--sweep-prompts 3] [--sweep-decode 32] [--sweep-q4-0]

``--bench`` prints ``make bench``'s model figures (``bench``): ``llm_prompt_tok_s``,
``llm_decode_tok_s`` of the default model and their ratios to the Q4_K_M baseline.
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
from rag.llm import llama_kwargs as answer_path_kwargs
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


REQUANT_TYPES = ("q4_0", "q8_0")


def requantize(source: Path, folder: Path, kind: str, n_threads: int) -> Path:
    """Requantise ``source`` to ``kind`` (``q4_0`` or ``q8_0``) into ``folder`` with llama.cpp's
    quantize API; tensors llama.cpp keeps at higher precision (the output layer) stay as they are."""
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    target = folder / f"{source.stem}-{kind}.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind.upper()}")
    params.nthread = n_threads
    params.allow_requantize = True
    with suppress_stdout_stderr(disable=False):  # llama.cpp logs every tensor
        rc = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(),
                                            ctypes.byref(params))
    if rc != 0 or not target.is_file():
        raise RuntimeError(f"llama_model_quantize returned {rc}")
    return target


def llama_kwargs(path: Path, params=None) -> dict:
    """``Llama()`` keywords as ``rag.llm.load_llama`` passes them for ``path`` (``params``: the
    settings' ``model_params``, default settings when None)."""
    params = params or Settings().model_params
    return answer_path_kwargs(path, n_ctx=params.n_ctx, n_threads=params.n_threads, n_batch=params.n_batch)


def measure(kwargs: dict, prompts: list[list[int]] | None, n_prompts: int, target_tokens: int,
            n_decode: int) -> tuple[dict[str, float], list[list[int]]]:
    """Load a model with ``kwargs``, measure prompt and decode tokens/s on ``prompts`` (built
    with its tokenizer when None), free it.

    Returns:
        The figures (``prompt_tok_s``, ``decode_tok_s``, ``prompt_tokens``, ``load_s``) and the
        prompts, to measure the next configuration on the same ones.
    """
    from llama_cpp import Llama

    t0 = time.perf_counter()
    llama = Llama(**kwargs)
    load_s = time.perf_counter() - t0
    try:
        prompts = prompts or sweep_prompts(llama, n_prompts, target_tokens)
        return {**_measure(llama, prompts, n_decode), "load_s": load_s}, prompts
    finally:
        llama.close()
        del llama
        gc.collect()


def run_sweep(model_path: Path | None, n_prompts: int, target_tokens: int, n_decode: int,
              requant: tuple[str, ...] = ()) -> None:
    """Measure every configuration of ``sweep_configs`` (and the ``requant`` files, e.g.
    ``("q4_0", "q8_0")``) and print key=value lines."""
    params = Settings().model_params
    path = resolve_model_path(model_path or params.model_path, params.cache_dir)
    base = llama_kwargs(path)
    configs = {name: {**base, **extra} for name, extra in sweep_configs().items()}
    print(f"sweep_model={path.name}")
    print(f"sweep_default=n_ctx:{params.n_ctx} n_threads:{params.n_threads} "
          f"n_batch:{params.n_batch} n_ubatch:512 flash_attn:off kv:f16")

    tmp = tempfile.TemporaryDirectory(prefix="newsrag-requant-") if requant else None
    try:
        for kind in requant:
            t0 = time.perf_counter()
            try:
                q_path = requantize(path, Path(tmp.name), kind, params.n_threads)
                configs[kind] = {**base, "model_path": str(q_path)}
                print(f"sweep_{kind}_quantize_s={time.perf_counter() - t0:.1f} "
                      f"{kind}_mb={q_path.stat().st_size / 1e6:.0f} "
                      f"q4_k_m_mb={path.stat().st_size / 1e6:.0f}")
            except Exception as exc:  # report and go on with the other configurations
                print(f"sweep_{kind}_error={type(exc).__name__}: {exc}")
        if any(kind in configs for kind in requant):  # before the closing ``default_again``
            configs["default_again"] = configs.pop("default_again")

        prompts = reference = None
        for name, kwargs in configs.items():
            try:
                figures, prompts = measure(kwargs, prompts, n_prompts, target_tokens, n_decode)
            except Exception as exc:
                print(f"config={name} error={type(exc).__name__}: {str(exc)[:120]}")
                continue
            if name == "default":
                reference = figures
            ratios = ""
            if reference:
                ratios = (f" prompt_ratio={figures['prompt_tok_s'] / reference['prompt_tok_s']:.2f}"
                          f" decode_ratio={figures['decode_tok_s'] / reference['decode_tok_s']:.2f}")
            print(f"config={name} prompt_tok_s={figures['prompt_tok_s']:.1f} "
                  f"decode_tok_s={figures['decode_tok_s']:.2f}{ratios} "
                  f"prompts={len(prompts)} prompt_tokens={figures['prompt_tokens']} "
                  f"decode_tokens={n_decode * len(prompts)} load_s={figures['load_s']:.1f}", flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()


def bench(n_prompts: int = 3, target_tokens: int = 170, n_decode: int = 32) -> None:
    """``make bench``'s model figures: prompt and decode tokens/s of the default model file and
    settings, and each as a ratio to the Q4_K_M file ``newsrag model pull`` builds (the baseline
    of issue-era measurements), measured alternately in one run: baseline, default, baseline.
    When the default is that file, both are measured all the same (the ratio shows the noise)."""
    from rag.model_files import DEFAULT_MODEL, model_path

    params = Settings().model_params
    default = resolve_model_path(params.model_path, params.cache_dir)
    baseline = model_path(DEFAULT_MODEL, params.cache_dir)
    if not baseline.is_file():
        baseline = default
    runs, prompts = [], None
    for path in (baseline, default, baseline):
        figures, prompts = measure(llama_kwargs(path), prompts, n_prompts, target_tokens, n_decode)
        runs.append(figures)
    base = {key: (runs[0][key] + runs[2][key]) / 2 for key in ("prompt_tok_s", "decode_tok_s")}
    ours = runs[1]
    print(f"llm_model={default.name}")
    print(f"llm_prompt_tok_s={ours['prompt_tok_s']:.1f}")
    print(f"llm_decode_tok_s={ours['decode_tok_s']:.2f}")
    print(f"llm_prompt_ratio_to_q4_k_m={ours['prompt_tok_s'] / base['prompt_tok_s']:.2f}")
    print(f"llm_decode_ratio_to_q4_k_m={ours['decode_tok_s'] / base['decode_tok_s']:.2f}", flush=True)


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
    parser.add_argument("--sweep-q8-0", action="store_true",
                        help="also measure a Q8_0 file requantised in a temporary folder")
    parser.add_argument("--bench", action="store_true",
                        help="make bench's figures: the default model against the Q4_K_M baseline")
    args = parser.parse_args()
    if args.bench:
        bench(args.sweep_prompts, args.sweep_prompt_tokens, args.sweep_decode)
        return
    if args.sweep:
        run_sweep(args.model_path, args.sweep_prompts, args.sweep_prompt_tokens,
                  args.sweep_decode,
                  tuple(k for k, on in (("q4_0", args.sweep_q4_0), ("q8_0", args.sweep_q8_0)) if on))
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
