"""Soak: two ``newsrag ingest`` processes × 200 articles on one store while the chat answers
8 questions at once, then a full integrity check of the store.

Real processes, the real embedder, a real Chroma store and a real chat server (extractive
backend). Bounded: about a minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import FakeEmbeddings
from ui_server import free_port, newsrag_exe, start_server, stop_server

pytestmark = pytest.mark.slow

N_ARTICLES = 200
CHUNK_SIZE = 200  # small chunks: > 1,000 vectors per writer, past the point where Chroma writes its index to disk
TOPICS = ["harbour", "railway", "election", "vaccine", "drought", "satellite", "museum", "tariff",
          "glacier", "orchestra", "refinery", "marathon", "library", "wildfire", "bridge", "startup"]
PEOPLE = ["Alvarez", "Brennan", "Chowdhury", "Dubois", "Eriksen", "Fujimoto", "Gallagher", "Haddad"]


_SYLLABLES = ["ka", "lo", "mer", "ti", "sun", "ba", "rel", "do", "vin", "ash", "po", "quen", "ri", "tal", "em", "gor"]


def _filler(seed: str, n_words: int = 120) -> str:
    """Sentences of made-up words, different for each seed, so that no two articles of the corpus
    are near-duplicates of each other (ingest stores near-duplicates once)."""
    rng = random.Random(seed)
    words = ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(n_words)]
    return " ".join(" ".join(words[k:k + 12]).capitalize() + "." for k in range(0, n_words, 12))


def write_corpus(path: Path, tag: str) -> None:
    """``N_ARTICLES`` distinct articles, each a few paragraphs (2-4 chunks)."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(N_ARTICLES):
            topic = TOPICS[i % len(TOPICS)]
            person = PEOPLE[(i // len(TOPICS)) % len(PEOPLE)]
            paras = [
                f"The {topic} plan number {i} was first proposed by the council of district {tag} in "
                f"{2010 + i % 12}, and it has been revised {i % 6 + 2} times since then by three "
                f"successive administrations, each of which promised a faster timetable.",
                f"Supporters of the {topic} plan {tag}{i} argue that it will bring jobs and investment "
                f"to the area, while opponents say the money would be better spent on schools and "
                f"on repairing the roads that {person} once called the worst in the region.",
                f"The {topic} plan number {i} of district {tag} was approved on Monday after a long debate.",
                f"{person} said the {topic} project {tag}{i} would cost {i * 3 + 7} million and take {i % 9 + 2} years.",
                f"Critics of the {topic} scheme in district {tag} warned that residents had not been consulted. "
                f"A report published last spring counted {i * 11 + 5} complaints about the {topic}.",
                f"Officials expect the first phase of work on the {topic} to begin in {2030 + i % 5}. "
                f"{person} added that further hearings on project {tag}{i} are planned for the autumn.",
            ]
            paras.append(_filler(f"{tag}{i}"))  # its own wording: templated texts alone are near-duplicates
            record = {"id": f"{tag}-{i:03d}", "title": f"{topic.title()} plan {tag}{i} approved",
                      "text": "\n\n".join(paras), "published": f"2026-11-{i % 28 + 1:02d}", "source": f"Wire {tag}"}
            f.write(json.dumps(record) + "\n")


def ask_all(port: int, questions: list[str]) -> list[dict]:
    from gradio_client import Client

    def one(q: str) -> dict:
        return Client(f"http://127.0.0.1:{port}/", verbose=False).predict(q, api_name="/ask")

    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        return list(pool.map(one, questions))


def expected_chunks(corpora: list[Path], tmp: Path) -> dict[str, set[str]]:
    """Chunk ids per article as a sequential ingest makes them (same chunker and token counter)."""
    from ingest.pipeline import ingest_paths
    from rag.store import Store

    store = Store(tmp / "sequential", "news", FakeEmbeddings())
    for corpus in corpora:
        report = ingest_paths([corpus], store, chunk_size=CHUNK_SIZE, chunk_overlap=1, progress=False)
        assert report.failed == []
    got = store._chunks.get(include=["metadatas"])
    out: dict[str, set[str]] = {}
    for cid, meta in zip(got["ids"], got["metadatas"]):
        out.setdefault(meta["article_id"], set()).add(cid)
    return out


def test_two_writers_and_eight_questions_lose_nothing(tmp_path):
    from rag.embeddings import get_embeddings
    from rag.store import Store

    store_dir = tmp_path / "store"
    corpora = [tmp_path / "A.jsonl", tmp_path / "B.jsonl"]
    for corpus, tag in zip(corpora, "AB"):
        write_corpus(corpus, tag)
    port = free_port()
    server = start_server(store_dir, port)  # ingests the seed article on the empty store
    try:
        env = dict(os.environ, NEWSRAG_STORE=str(store_dir), NEWSRAG_CHUNK_SIZE=str(CHUNK_SIZE))
        started = time.time()
        writers = [
            subprocess.Popen([str(newsrag_exe()), "ingest", str(c), "-q"], env=env, cwd=str(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for c in corpora
        ]
        questions = ["What did Rhodes say about Ukraine?"] * 4 + [
            f"How much would the {t} project cost?" for t in TOPICS[:4]]
        answers = ask_all(port, questions)
        outputs = [w.communicate(timeout=600)[0] for w in writers]
        elapsed = time.time() - started
    finally:
        stop_server(server)

    assert [w.returncode for w in writers] == [0, 0], outputs
    for out in outputs:
        assert f"{N_ARTICLES} added" in out
    assert len(answers) == 8 and all("error" not in a for a in answers), answers
    assert all(a["answerable"] for a in answers[:4])
    print(f"soak: 2 x {N_ARTICLES} articles and 8 questions in {elapsed:.1f} s")

    store = Store(store_dir, "news", get_embeddings("minilm-int8"))
    want = expected_chunks(corpora, tmp_path)
    got = store._chunks.get(include=["metadatas", "embeddings"])
    have: dict[str, set[str]] = {}
    vectors: dict[str, list[float]] = {}
    for cid, meta, vec in zip(got["ids"], got["metadatas"], got["embeddings"]):
        have.setdefault(meta["article_id"], set()).add(cid)
        assert vec is not None and len(vec) == 384
        vectors[cid] = vec
    for aid, ids in want.items():
        assert have.get(aid) == ids, aid
    assert store.stats()["articles"] == 2 * N_ARTICLES + 1  # and the seed article
    # Every chunk is in the vector index: a dense query restricted to its article finds them all.
    for aid, ids in want.items():
        first = sorted(ids)[0]
        hits = store._chunks.query(query_embeddings=[vectors[first]], n_results=len(ids),
                                   where={"article_id": aid}, include=[])
        assert set(hits["ids"][0]) == ids, aid
