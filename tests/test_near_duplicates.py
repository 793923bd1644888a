"""Near-duplicates at ingest: the same article from a .jsonl record and a .txt file (title line
first), with other whitespace or a byline, is stored once with the other copy "also in"; two
different articles on the same story are both stored. Real Chroma stores, the fake embedder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rag.embeddings
from conftest import FakeEmbeddings
from ingest.near_duplicates import NearDuplicateIndex, index_folder, shingles
from ingest.pipeline import ingest_paths
from rag.store import Store

SIZE, OVERLAP = 400, 1

TITLE = "Storm floods coastal towns"
TEXT = (
    "Heavy rain and a storm surge flooded three coastal towns on Tuesday, forcing more than 2,000 "
    "residents to leave their homes before dawn.\n\n"
    "Emergency crews in Port Allen used boats to reach families trapped on upper floors, the county "
    "sheriff said. No deaths were reported, but two firefighters were treated for hypothermia.\n\n"
    "\"We have never seen the river rise this fast,\" said Mayor Linda Okafor, who opened the school "
    "gym as a shelter. The town's only bridge was closed after water reached its deck.\n\n"
    "Forecasters expect the rain to ease by Thursday, though the coast guard warned that high tides "
    "could push water back into low streets over the weekend. Power companies said 14,000 customers "
    "were without electricity on Tuesday evening."
)
# The same story two days later: another article (a background paragraph repeated, as follow-ups do).
FOLLOW_UP = (
    "Residents of Port Allen began returning home on Thursday as floodwater receded, finding mud-caked "
    "kitchens and cars carried into the harbour.\n\n"
    "Heavy rain and a storm surge flooded three coastal towns on Tuesday, forcing more than 2,000 "
    "residents to leave their homes before dawn.\n\n"
    "Insurers estimated the damage at $40 million, and the governor asked for federal disaster aid. "
    "Mayor Linda Okafor said the school gym shelter would stay open until Sunday for families whose "
    "houses are not yet safe.\n\n"
    "Engineers inspected the town's bridge on Wednesday and said it could reopen to light traffic next "
    "week once its railings are repaired."
)
RECORD = {"id": "storm-2024", "title": TITLE, "text": TEXT, "url": "https://news.example/storm",
          "published": "2024-03-05", "source": "Coast Daily"}


@pytest.fixture(autouse=True)
def fake_embedder(monkeypatch):
    fake = FakeEmbeddings()
    monkeypatch.setattr(rag.embeddings, "get_embeddings", lambda *a, **k: fake)
    return fake


def _store(tmp_path: Path) -> Store:
    return Store(tmp_path / "db", "news", FakeEmbeddings())


def _ingest(paths, store, **kw):
    return ingest_paths(paths, store, chunk_size=SIZE, chunk_overlap=OVERLAP, progress=False, **kw)


def _jsonl(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _txt(path: Path, text: str = f"{TITLE}\n\n{TEXT}\n") -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _ids(store: Store) -> list[str]:
    return sorted(a.id for a in store.list_articles(quoted=False).articles)


def test_jsonl_then_txt_copy_is_stored_once_with_the_txt_also_in(tmp_path):
    store = _store(tmp_path)
    assert _ingest([_jsonl(tmp_path / "feed.jsonl", RECORD)], store).added == 1
    events = []
    report = _ingest([_txt(tmp_path / "storm.txt")], store, on_event=events.append)
    assert (report.added, report.near_duplicate, report.chunks_added) == (0, 1, 0)
    assert [(a, b) for a, b, _ in report.near_duplicates] == [("storm", "storm-2024")]
    assert "1 near-duplicate" in report.summary()
    assert _ids(store) == ["storm-2024"]
    also = store.also_in("storm-2024")
    assert [(o.id, Path(o.path).name, o.url) for o in also] == [("storm", "storm.txt", None)]
    listed = store.list_articles().articles[0]
    assert [o.id for o in listed.also_in] == ["storm"] and listed.also_in[0].label().endswith("storm.txt")
    lines = [e.message for e in events if e.status == "near_duplicate"]
    assert lines and "storm" in lines[0] and "storm-2024" in lines[0] and "also in" in lines[0]
    again = _ingest([tmp_path / "storm.txt"], store)  # the same copy again: recorded once
    assert again.near_duplicate == 1 and len(store.also_in("storm-2024")) == 1


def test_txt_first_then_the_dated_linked_record_replaces_it(tmp_path):
    store = _store(tmp_path)
    assert _ingest([_txt(tmp_path / "storm.txt")], store).added == 1
    report = _ingest([_jsonl(tmp_path / "feed.jsonl", RECORD)], store)
    assert (report.added, report.near_duplicate) == (0, 1)
    assert _ids(store) == ["storm-2024"]
    assert store.chunk_ids_of("storm") == [] and store.chunk_ids_of("storm-2024")
    kept = store.get_article("storm-2024")
    assert (kept.url, kept.published, kept.source) == (RECORD["url"], RECORD["published"], "Coast Daily")
    assert [o.id for o in store.also_in("storm-2024")] == ["storm"]


def test_one_run_with_both_copies_keeps_the_record_whichever_comes_first(tmp_path):
    (tmp_path / "in").mkdir()
    _txt(tmp_path / "in" / "a-storm.txt")  # read before the .jsonl
    _jsonl(tmp_path / "in" / "feed.jsonl", RECORD)
    store = _store(tmp_path)
    report = _ingest([tmp_path / "in"], store)
    assert (report.added, report.near_duplicate) == (1, 1)
    assert _ids(store) == ["storm-2024"] and [o.id for o in store.also_in("storm-2024")] == ["a-storm"]


def test_whitespace_and_byline_copies_are_near_duplicates(tmp_path):
    store = _store(tmp_path)
    _ingest([_jsonl(tmp_path / "feed.jsonl", RECORD)], store)
    spaced = "  " + TITLE + "\n\n\n" + TEXT.replace("\n\n", "\n \n\n").replace(". ", ".  ") + "\n\n"
    byline = dict(RECORD, id="storm-wire", text="By Ann Lee, staff writer\n\n" + TEXT, url=None)
    report = _ingest([_txt(tmp_path / "spaced.txt", spaced), _jsonl(tmp_path / "wire.jsonl", byline)], store)
    assert (report.added, report.near_duplicate) == (0, 2)
    assert _ids(store) == ["storm-2024"]
    assert [o.id for o in store.also_in("storm-2024")] == ["spaced", "storm-wire"]


def test_two_articles_on_the_same_story_are_both_stored(tmp_path):
    store = _store(tmp_path)
    follow_up = dict(RECORD, id="storm-return", title="Flood towns begin clean-up", text=FOLLOW_UP,
                     url="https://news.example/storm-return", published="2024-03-07")
    report = _ingest([_jsonl(tmp_path / "feed.jsonl", RECORD, follow_up)], store)
    assert (report.added, report.near_duplicate) == (2, 0)
    assert _ids(store) == ["storm-2024", "storm-return"]
    index = NearDuplicateIndex()
    similarity = index.signature(TITLE, TEXT).jaccard(index.signature("Flood towns begin clean-up", FOLLOW_UP))
    assert similarity < index.threshold / 2


def test_the_title_line_of_a_txt_copy_is_not_part_of_its_shingles():
    assert shingles(TITLE, f"{TITLE}\n\n{TEXT}") == shingles(TITLE, TEXT)
    assert shingles("Other", f"{TITLE}\n\n{TEXT}") != shingles("Other", TEXT)


def test_the_index_follows_the_store_saved_rebuilt_and_after_a_removal(tmp_path):
    store = _store(tmp_path)
    _ingest([_jsonl(tmp_path / "feed.jsonl", RECORD)], store)
    folder = index_folder(store)
    saved = json.loads((folder / "revision.json").read_text())
    assert saved["revision"] == store.revision()
    shutil.rmtree(folder)  # missing: rebuilt from the stored texts
    assert _ingest([_txt(tmp_path / "storm.txt")], store).near_duplicate == 1
    store.remove_articles(["storm-2024"])  # stale: the removed article no longer matches
    report = _ingest([tmp_path / "storm.txt"], store)
    assert (report.added, report.near_duplicate) == (1, 0)
    assert _ids(store) == ["storm"]


def test_ingest_cli_counts_and_names_near_duplicates_when_verbose(tmp_path):
    from newsrag.cli import app

    store = tmp_path / "db"
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", str(_jsonl(tmp_path / "feed.jsonl", RECORD)), "--store", str(store), "-q"])
    assert first.exit_code == 0, first.output
    result = runner.invoke(app, ["ingest", str(_txt(tmp_path / "storm.txt")), "--store", str(store), "-q", "-v"])
    assert result.exit_code == 0, result.output
    assert "1 near-duplicate" in result.output
    assert "near-duplicate: storm (" in result.output and "is storm-2024 (similarity 1.00)" in result.output
