"""Prompt-lookup decoding on the answer path's own prompts: faster decoding, the same answers?

Answers copy words from the passages, so the next tokens can often be guessed by finding the last
few generated tokens in the prompt and proposing what followed them there (llama-cpp-python's
``LlamaPromptLookupDecoding``); the model checks a guess in one batch, which on a CPU costs about
what one token costs. Greedy decoding (the default, temperature 0) keeps only the tokens the model
itself would have chosen, so the answers should not change; this measures whether they do and what
it gains.

The prompts are the real ones: for the first ``--questions`` answerable questions of a question set
(rtqa-dev by default), retrieval and the context budget run as in ``rag.ask`` on the set's cached
eval store (built by ``newsrag eval --corpus``), and the answer prompt is rendered. Each prompt is
then streamed by every configuration in turn (order rotated per question, so drift of a noisy
machine falls on all of them alike), each configuration its own ``Llama`` with its own prefix cache.

    python -m benchmarks.decoding [--questions 12] [--lookup 10,4] [--max-ngram 2]

Prints one ``key=value`` line per configuration: p50 time to first token, p50 decode tokens/s,
p50 whole-call seconds, their ratios to ``default``, and how many answers differ from ``default``'s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from pathlib import Path

import rag  # noqa: F401  (offline environment defaults)

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "datasets" / "rtqa-dev"


def answer_prompts(questions: Path, corpus: Path, n: int) -> tuple[list[list[dict]], object]:
    """The answer path's prompts (as chat messages) for the first ``n`` answerable questions.

    Returns:
        The prompts and the ``Settings`` used (default settings on the cached eval store).

    Raises:
        SystemExit: the corpus has no complete cached eval store yet.
    """
    from evals.corpus import is_complete
    from evals.presets import default_store_dir
    from evals.questions import load_questions
    from rag.llm import _message_to_dict
    from rag.pipeline import build_answerer
    from rag.prompt import ANSWER_PROMPT
    from rag.settings import load_settings
    from rag.types import Filters

    base = load_settings()
    store = default_store_dir(base, corpus)
    if not is_complete(store):
        raise SystemExit(f"No cached eval store at {store}: run `newsrag eval {questions} "
                         f"--corpus {corpus} --limit 1` first.")
    settings = load_settings(store=store)
    answerer = build_answerer(settings)
    prompts: list[list[dict]] = []
    for q in load_questions(questions):
        if len(prompts) >= n:
            break
        if not q.answerable:
            continue
        day = dt.date.fromisoformat(q.asked_on) if q.asked_on else dt.date.today()
        retrieval = answerer.retrieve(q.question, Filters(), day)
        if not answerer.relevant(retrieval):
            continue
        passages = answerer.passages(q.question, retrieval)
        passages, inputs = answerer.fit(q.question, retrieval, passages, day)
        if passages:
            messages = ANSWER_PROMPT.invoke(inputs).to_messages()
            prompts.append([_message_to_dict(m) for m in messages])
    return prompts, settings


def load(settings, lookup: int, max_ngram: int):
    """A ``Llama`` as ``rag.llm.load_llama`` makes it, with prompt lookup when ``lookup`` > 0."""
    from llama_cpp import Llama
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    from benchmarks.llm_speed import llama_kwargs
    from rag.model_files import resolve_model_path

    params = settings.model_params
    path = resolve_model_path(params.model_path, Path(params.cache_dir))
    draft = LlamaPromptLookupDecoding(max_ngram_size=max_ngram, num_pred_tokens=lookup) if lookup else None
    return Llama(**llama_kwargs(path, params), draft_model=draft)


def stream(llama, messages: list[dict], max_tokens: int) -> dict:
    """Stream one greedy answer; time to first token, decode tokens/s, total, and the text."""
    t0 = time.perf_counter()
    first, text = None, ""
    for part in llama.create_chat_completion(messages=messages, stream=True, temperature=0.0,
                                             max_tokens=max_tokens):
        piece = (part["choices"][0].get("delta") or {}).get("content") or ""
        if piece and first is None:
            first = time.perf_counter()
        text += piece
    end = time.perf_counter()
    n_out = len(llama.tokenize(text.encode(), add_bos=False))
    decode = (n_out - 1) / (end - first) if first and n_out > 1 and end > first else 0.0
    return {"ttft": (first or end) - t0, "decode": decode, "total": end - t0, "text": text,
            "tokens": n_out}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=12, help="answerable questions to time")
    parser.add_argument("--lookup", default="10,4", help="num_pred_tokens values to compare")
    parser.add_argument("--max-ngram", type=int, default=2, help="n-gram size looked up")
    parser.add_argument("--set", type=Path, default=DEV / "questions.jsonl")
    parser.add_argument("--corpus", type=Path, default=DEV / "articles.jsonl")
    args = parser.parse_args(argv)

    prompts, settings = answer_prompts(args.set, args.corpus, args.questions)
    configs = {"default": 0} | {f"lookup_{k}": int(k) for k in args.lookup.split(",") if k.strip()}
    models = {name: load(settings, k, args.max_ngram) for name, k in configs.items()}
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    names = list(configs)
    for i, messages in enumerate(prompts):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            runs[name].append(stream(models[name], messages, settings.max_tokens))
    print(f"decoding_prompts={len(prompts)} answer_tokens_p50="
          f"{statistics.median(r['tokens'] for r in runs['default'])}")
    base = {key: statistics.median(r[key] for r in runs["default"]) for key in ("ttft", "decode", "total")}
    for name in names:
        p50 = {key: statistics.median(r[key] for r in runs[name]) for key in ("ttft", "decode", "total")}
        differ = sum(a["text"] != b["text"] for a, b in zip(runs[name], runs["default"]))
        print(f"decoding_{name} ttft_p50_s={p50['ttft']:.2f} decode_tok_s={p50['decode']:.1f} "
              f"total_p50_s={p50['total']:.2f} ttft_ratio={p50['ttft'] / base['ttft']:.2f} "
              f"decode_ratio={p50['decode'] / base['decode']:.2f} "
              f"total_ratio={p50['total'] / base['total']:.2f} answers_differ={differ}", flush=True)


if __name__ == "__main__":
    main()
