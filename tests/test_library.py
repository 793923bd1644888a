"""The library's list of articles and who is quoted in them: ``Store.list_articles``, the
``newsrag articles`` command and the Library tab's table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.chunking import chunk_article
from ingest.pipeline import ingest_paths
from rag.store import ArticleSummary, Origin, Store
from rag.types import Article
from ui.format import format_library

SEED = Path(__file__).parent.parent / "seeds" / "000_d8ed5a87b2fc358e.txt"
SEED_ID = SEED.stem


def put(store: Store, id: str, title: str, text: str, **meta) -> None:
    article = Article(id=id, title=title, text=text, **meta)
    store.put_article(article, chunk_article(article, 600, 0))


@pytest.fixture
def seeded(tmp_path, fake_embeddings) -> Store:
    """A real Chroma store holding the seed article."""
    store = Store(tmp_path / "db", "news", fake_embeddings)
    ingest_paths([SEED], store, chunk_size=600, chunk_overlap=1, progress=False)
    return store


def test_the_seed_article_lists_who_it_quotes(seeded):
    listing = seeded.list_articles()
    assert listing.total == 1
    (seed,) = listing.articles
    assert seed.id == SEED_ID and seed.title == "Obama, Putin discuss Syria, Iran and Ukraine"
    assert seed.n_chunks == len(seeded.chunk_ids_of(SEED_ID))
    assert [name for name, _ in seed.quoted] == ["Ben Rhodes", "Bernadette Meehan"]
    # each quotation counted once, although chunks overlap by a sentence
    assert dict(seed.quoted) == {
        name: sum(q.speaker == name for q in seeded.quotes_of(SEED_ID)) for name in seeded.speakers_of(SEED_ID)
    }
    assert seed.quoted_line() == "Ben Rhodes (2), Bernadette Meehan (2)"


def test_articles_are_newest_first_undated_last_and_searchable(seeded):
    put(seeded, "old", "Bridge opens", "The bridge opened in 1932.", published="1932-03-19", source="Herald")
    put(seeded, "new", "Bridge closes", "Ann Lee said the bridge was tired. It closed.", published="2020-01-02",
        source="Wire")
    listing = seeded.list_articles()
    assert [a.id for a in listing.articles] == ["new", "old", SEED_ID] and listing.total == 3
    assert listing.articles[1].quoted == () and listing.articles[1].source == "Herald"
    assert listing.articles[0].quoted == (("Ann Lee", 1),)
    assert [a.id for a in seeded.list_articles("BRIDGE herald").articles] == ["old"]
    assert [a.id for a in seeded.list_articles("wire").articles] == ["new"]
    assert seeded.list_articles("nothing like it").total == 0
    cut = seeded.list_articles(limit=1)
    assert [a.id for a in cut.articles] == ["new"] and cut.total == 3 and cut.articles[0].quoted
    assert seeded.list_articles(quoted=False).articles[2].quoted == ()


def test_listing_reads_in_pages_not_per_article(seeded, monkeypatch):
    import rag.store

    for i in range(5):
        put(seeded, f"a{i}", f"Story {i}", f"Ann Lee said story {i} was fine.", published=f"2020-01-0{i + 1}")
    monkeypatch.setattr(rag.store, "_PAGE", 2)
    calls = []
    for name in ("_articles", "_chunks"):
        collection = getattr(seeded, name)
        monkeypatch.setattr(seeded, name, Recorder(collection, calls, name))
    listing = seeded.list_articles()
    assert listing.total == 6 and all(dict(a.quoted) == {"Ann Lee": 1} for a in listing.articles[:5])
    # 6 article records in pages of 2 (4 requests), every chunk in pages of 2, nothing by id
    assert calls.count("_articles") == 4 and calls.count("_chunks") == len(seeded._chunks.get()["ids"]) // 2 + 1
    calls.clear()
    seeded.list_articles(limit=2)
    assert calls.count("_chunks") == 2  # only the two articles' 2 chunks: a full page, then an empty one


class Recorder:
    """A Chroma collection that records each ``get``."""

    def __init__(self, collection, calls, name):
        self._collection, self._calls, self._name = collection, calls, name

    def get(self, *args, **kwargs):
        self._calls.append(self._name)
        return self._collection.get(*args, **kwargs)

    def __getattr__(self, attr):
        return getattr(self._collection, attr)


def test_the_library_table_escapes_and_links_safely():
    rows = [
        ArticleSummary(id="x", title="<b>Big</b>", source="A&B", url="javascript:alert(1)", published=None,
                       n_chunks=1, quoted=(("O'Neil <x>", 1),)),
        ArticleSummary(id="y", title="Linked", source=None, url="https://example.org/a", published="2020-01-01",
                       n_chunks=1),
    ]
    html = format_library(rows, 2)
    assert "<b>" not in html and "&lt;b&gt;Big&lt;/b&gt;" in html and "A&amp;B" in html
    assert "javascript" not in html and 'href="https://example.org/a"' in html
    assert "O&#x27;Neil &lt;x&gt; (1)" in html
    assert format_library([], 0) == '<div class="library-empty">The library is empty: add articles below.</div>'


# --- newsrag articles ----------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch, fake_embeddings):
    """``newsrag`` with the fake embedder (the listing never embeds)."""
    import rag.embeddings
    from newsrag.cli import app

    monkeypatch.setattr(rag.embeddings, "get_embeddings", lambda *a, **k: fake_embeddings)

    def run(*args):
        return CliRunner().invoke(app, ["articles", *args])

    return run


def test_articles_lists_the_seed_with_who_is_quoted(cli, seeded):
    store = str(seeded.path)
    result = cli("--store", store)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"undated     -  Obama, Putin discuss Syria, Iran and Ukraine  ({SEED_ID})\n"
    result = cli("--quoted", "--store", store)
    assert result.stdout.splitlines()[1] == "    quoted: Ben Rhodes (2), Bernadette Meehan (2)"
    obj = json.loads(cli("--json", "--store", store).stdout)
    assert obj["total"] == 1 and obj["articles"][0]["id"] == SEED_ID
    assert obj["articles"][0]["quoted"] == [
        {"speaker": "Ben Rhodes", "quotations": 2}, {"speaker": "Bernadette Meehan", "quotations": 2}
    ]


def test_articles_say_which_other_copies_were_stored_with_each(cli, seeded):
    put(seeded, "new", "Bridge closes", "The bridge closed.", published="2020-01-02", source="Wire")
    seeded.add_also_in({"new": [Origin(id="bridge-wire", path="/in/bridge.txt", source="Wire"),
                                Origin(id="bridge-copy", url="https://news.example/bridge")]})
    store = str(seeded.path)
    obj = json.loads(cli("--json", "--store", store).stdout)
    new, seed = obj["articles"]
    assert new["also_in"] == [
        {"id": "bridge-wire", "path": "/in/bridge.txt", "url": None, "source": "Wire"},
        {"id": "bridge-copy", "path": None, "url": "https://news.example/bridge", "source": None},
    ]
    assert seed["also_in"] == []
    assert cli("--store", store).stdout == (
        "2020-01-02  Wire  Bridge closes  (new)\n"
        "    also in: 2 copies\n"
        f"undated     -  Obama, Putin discuss Syria, Iran and Ukraine  ({SEED_ID})\n"
    )
    seeded.add_also_in({SEED_ID: [Origin(id="seed-copy")]})
    lines = cli("--quoted", "putin", "--store", store).stdout.splitlines()
    assert lines[1:] == ["    also in: 1 copy", "    quoted: Ben Rhodes (2), Bernadette Meehan (2)"]


def test_articles_search_and_limit(cli, seeded):
    put(seeded, "new", "Bridge closes", "The bridge closed.", published="2020-01-02", source="Wire")
    store = str(seeded.path)
    result = cli("--limit", "1", "--store", store)
    assert result.stdout == "2020-01-02  Wire  Bridge closes  (new)\n"
    assert result.stderr == "1 of 2 articles shown (--limit).\n"
    assert cli("putin", "--store", store).stdout.endswith(f"({SEED_ID})\n")
    result = cli("no such words", "--store", store)
    assert result.exit_code == 0 and result.stdout == "" and "matches 'no such words'" in result.stderr
    assert cli("--limit", "0", "--store", store).exit_code == 2


def test_articles_quotes_prints_each_quotation_with_speaker_and_offsets(cli, seeded):
    result = cli("--quotes", SEED_ID, "--store", str(seeded.path))
    assert result.exit_code == 0, result.output
    head, *lines = result.stdout.splitlines()
    assert head == f"Obama, Putin discuss Syria, Iran and Ukraine ({SEED_ID}): 4 quotations"
    text = seeded.get_article(SEED_ID).text
    for line, q in zip(lines, seeded.quotes_of(SEED_ID), strict=True):
        assert line.startswith(f"  {q.start}-{q.end}  {q.speaker} ({q.kind}): ")
        words = line.split("): ", 1)[1]
        assert len(words) <= 121 and " ".join(text[q.start:q.end].split()).startswith(words.rstrip("…"))
    obj = json.loads(cli("--quotes", SEED_ID, "--json", "--store", str(seeded.path)).stdout)
    assert [text[q["start"]:q["end"]] == q["quote"] for q in obj["quotes"]] == [True] * 4
    result = cli("--quotes", "nope", "--store", str(seeded.path))
    assert result.exit_code == 1 and result.stderr.startswith("Error: no article 'nope' in the store")


def test_articles_never_creates_a_store(cli, tmp_path, fake_embeddings):
    missing = tmp_path / "missing"
    result = cli("--store", str(missing))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"Error: no store at {missing}") and not missing.exists()
    folder = tmp_path / "folder"
    folder.mkdir()
    assert cli("--store", str(folder)).exit_code == 1 and list(folder.iterdir()) == []
    empty = tmp_path / "empty"
    Store(empty, "news", fake_embeddings)
    result = cli("--store", str(empty))
    assert result.exit_code == 1 and result.stderr == (
        f"Error: no articles in the store at {empty}: add some with `newsrag ingest PATH --store {empty}`\n"
    )
