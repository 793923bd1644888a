"""The ingest pipeline and ``newsrag ingest``: idempotence, replacement, duplicates, bad input,
interrupted runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import rag.embeddings
from ingest.chunking import chunk_article
from ingest.cli import register
from ingest.pipeline import ingest_paths, token_counter_for
from rag.store import Store

from conftest import FakeEmbeddings

SEED_DIR = Path(__file__).resolve().parents[1] / "seeds"
SIZE, OVERLAP = 400, 1


def _store(emb, tmp_path):
    return Store(tmp_path / "db", "news", emb)


def _ingest(paths, store, **kw):
    return ingest_paths(paths, store, chunk_size=SIZE, chunk_overlap=OVERLAP, progress=False, **kw)


def _write_corpus(folder: Path, n: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sentences = " ".join(f"Story {i} sentence {j} tells about topic {i * 7 + j}." for j in range(30))
        (folder / f"story{i}.txt").write_text(f"Headline {i}\n\n{sentences}\n", encoding="utf-8")
    return folder


def _expected_chunk_ids(store: Store, article_ids) -> set[str]:
    count, budget = token_counter_for(store.embeddings)
    ids = set()
    for aid in article_ids:
        ids |= {c.id for c in chunk_article(store.get_article(aid), SIZE, OVERLAP, count, budget)}
    return ids


def test_seed_twice_second_run_adds_and_embeds_nothing(tmp_path, fake_embeddings):
    store = _store(fake_embeddings, tmp_path)
    first = _ingest([SEED_DIR], store)
    assert (first.added, first.failed) == (1, []) and first.chunks_added > 3
    calls = fake_embeddings.calls
    assert calls == first.chunks_embedded == first.chunks_added
    second = _ingest([SEED_DIR], store)
    assert (second.added, second.unchanged, second.chunks_added, second.chunks_embedded) == (0, 1, 0, 0)
    assert fake_embeddings.calls == calls
    assert store.revision() == store.revision()


def test_changed_article_replaces_all_old_chunks(tmp_path, fake_embeddings):
    corpus = _write_corpus(tmp_path / "c", 2)
    store = _store(fake_embeddings, tmp_path)
    _ingest([corpus], store)
    p = corpus / "story0.txt"
    p.write_text(p.read_text().replace("sentence 1 ", "sentence ONE ").replace("sentence 25 ", "line 25 "))
    rep = _ingest([corpus], store)
    assert (rep.updated, rep.unchanged, rep.added) == (1, 1, 0)
    assert set(store.chunk_ids_of("story0")) == _expected_chunk_ids(store, ["story0"])
    texts = [c.text for c in store.all_chunks() if c.article_id == "story0"]
    assert any("sentence ONE" in t for t in texts) and not any("sentence 1 tells" in t for t in texts)
    assert rep.chunks_embedded < len(texts)  # untouched chunks kept their vectors


def test_same_text_under_two_names_is_stored_once(tmp_path, fake_embeddings):
    corpus = _write_corpus(tmp_path / "c", 1)
    shutil.copy(corpus / "story0.txt", corpus / "copy.txt")
    store = _store(fake_embeddings, tmp_path)
    rep = _ingest([corpus], store)
    assert (rep.added, rep.duplicate) == (1, 1)
    assert rep.duplicates == [("story0", "copy")]
    assert store.stats()["articles"] == 1
    again = _ingest([corpus / "story0.txt"], store)  # later run, other name: still a duplicate
    assert again.duplicate == 1 and again.duplicates == [("story0", "copy")]


def test_a_duplicate_is_recorded_as_also_in_on_the_article_kept(tmp_path, fake_embeddings):
    corpus = _write_corpus(tmp_path / "c", 1)
    shutil.copy(corpus / "story0.txt", corpus / "copy.txt")
    store = _store(fake_embeddings, tmp_path)
    _ingest([corpus], store)
    _ingest([corpus / "story0.txt"], store)  # again: recorded once
    assert [(o.id, Path(o.path).name) for o in store.also_in("copy")] == [("story0", "story0.txt")]
    assert _ingest([corpus], store).near_duplicate == 0  # exact duplicates are counted as such


def test_interrupted_ingest_then_rerun_completes(tmp_path):
    class Failing(FakeEmbeddings):
        def __init__(self, fail_after: int):
            super().__init__()
            self.left = fail_after

        def embed_documents(self, texts):
            if self.left <= 0:
                raise RuntimeError("killed")
            self.left -= 1
            return super().embed_documents(texts)

    corpus = _write_corpus(tmp_path / "c", 8)
    failing = Failing(fail_after=2)
    store = _store(failing, tmp_path)
    with pytest.raises(RuntimeError):
        ingest_paths([corpus], store, chunk_size=SIZE, chunk_overlap=OVERLAP, progress=False, batch_chunks=10)
    partial = store.stats()["articles"]
    assert 0 < partial < 8
    good = FakeEmbeddings()
    store = _store(good, tmp_path)
    rep = _ingest([corpus], store)
    assert rep.unchanged == partial and rep.added == 8 - partial and not rep.failed
    ids = [f"story{i}" for i in range(8)]
    assert {c.id for c in store.all_chunks()} == _expected_chunk_ids(store, ids)
    assert _ingest([corpus], store).chunks_embedded == 0


def test_events_report_articles_and_problems(tmp_path, fake_embeddings):
    corpus = _write_corpus(tmp_path / "c", 2)
    (corpus / "empty.txt").write_bytes(b"")
    events = []
    rep = _ingest([corpus], _store(fake_embeddings, tmp_path), on_event=events.append)
    kinds = [e.kind for e in events]
    assert kinds.count("article") == 2 and kinds.count("problem") == 1 and "progress" in kinds
    assert rep.failed == [(str(corpus / "empty.txt"), "empty file")]
    assert events[-1].chunks_done == rep.chunks_added


# --- the command line ------------------------------------------------------------------------

@pytest.fixture
def cli(monkeypatch):
    fake = FakeEmbeddings()
    monkeypatch.setattr(rag.embeddings, "get_embeddings", lambda *a, **k: fake)
    app = typer.Typer()
    register(app)

    @app.command("noop", hidden=True)
    def _noop() -> None:  # a second command keeps "ingest" a sub-command, as in newsrag
        pass

    def run(*args, quiet=True):
        return CliRunner().invoke(app, ["ingest", *map(str, args), *(["--quiet"] if quiet else [])])

    run.fake = fake
    return run


def test_cli_ingest_twice(cli, isolated_store):
    first = cli(SEED_DIR)
    assert first.exit_code == 0, first.output
    assert "articles: 1 added" in first.stdout
    calls = cli.fake.calls
    second = cli(SEED_DIR)
    assert second.exit_code == 0
    assert "0 added, 0 updated, 1 unchanged" in second.stdout and "chunks added: 0 (0 embedded)" in second.stdout
    assert cli.fake.calls == calls
    assert isolated_store.exists()


def test_cli_bad_inputs_named_and_exit_1_while_rest_goes_in(cli, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "good.txt").write_text("Good title\nA good sentence here.", encoding="utf-8")
    (d / "empty.txt").write_bytes(b"")
    (d / "binary.txt").write_bytes(b"\x7fELF\x00\x00\x01binary")
    (d / "latin.txt").write_bytes("Café\nUn résumé très détaillé du marché.".encode("cp1252"))
    (d / "lines.jsonl").write_text(
        json.dumps({"id": "j1", "text": "Line one text."}) + "\n{broken\n" + json.dumps({"id": "j3"}) + "\n",
        encoding="utf-8")
    with (d / "big.txt").open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    res = cli(d, tmp_path / "missing.txt")
    assert res.exit_code == 1
    err = res.stderr
    assert f"error: {d / 'empty.txt'}: empty file" in err
    assert f"error: {d / 'binary.txt'}: binary file, not text" in err
    assert f"error: {d / 'lines.jsonl'}:2: malformed JSON line" in err
    assert f"error: {d / 'lines.jsonl'}:3: record has no text" in err
    assert f"error: {d / 'big.txt'}: file too large (50.0 MB; the limit is 20.0 MB)" in err
    assert f"error: {tmp_path / 'missing.txt'}: no such file or folder" in err
    assert f"warning: {d / 'latin.txt'}: not UTF-8; decoded as" in err
    assert "Traceback" not in res.output
    assert "articles: 3 added" in res.stdout and "6 failed" in res.stdout
    # nothing already in the store is lost by a later failing run
    res2 = cli(d)
    assert res2.exit_code == 1 and "3 unchanged" in res2.stdout


def test_cli_usage_errors_exit_2(cli, tmp_path):
    assert cli().exit_code == 2  # no PATH
    assert cli(SEED_DIR, "--chunk-size", "0").exit_code == 2
    assert cli(SEED_DIR, "--chunk-overlap", "-1").exit_code == 2


def test_cli_flags_override_env(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSRAG_CHUNK_SIZE", "5000")
    monkeypatch.setenv("NEWSRAG_MAX_FILE_MB", "0.0001")
    res = cli(SEED_DIR, "--store", tmp_path / "flagged", "--chunk-size", "300", "--max-file-mb", "5")
    assert res.exit_code == 0, res.output
    store = Store(tmp_path / "flagged", "news", cli.fake)
    chunks = store.all_chunks()
    assert len(chunks) > 5 and max(len(c.text) for c in chunks) < 1000


def test_cli_progress_bar_and_each_problem_once(cli, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "good.txt").write_text("Good title\nA good sentence here.", encoding="utf-8")
    (d / "empty.txt").write_bytes(b"")
    res = cli(d, quiet=False)
    assert res.exit_code == 1
    assert res.stderr.count(f"error: {d / 'empty.txt'}: empty file") == 1
    assert "ingest" in res.stderr and "article" in res.stderr  # the tqdm bar
    assert "articles: 1 added" in res.stdout


def test_cli_unreachable_chroma_server_is_one_line(cli, monkeypatch):
    from servers import free_port

    port = free_port()
    monkeypatch.setenv("NEWSRAG_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("NEWSRAG_CHROMA_PORT", str(port))
    res = cli(SEED_DIR)
    assert res.exit_code == 1
    assert res.stderr.startswith(f"error: cannot open the Chroma store at http://127.0.0.1:{port}")
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output
