"""Hostile input: each bad file becomes one named problem, fast and bounded, and the rest go in.

Alias bombs in front matter, JSON nested beyond any parser's recursion, special files (a FIFO
blocks whoever opens it, /dev/zero never ends), and text in an unexpected encoding.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rag.embeddings
from ingest.loaders import iter_files, load_file, load_paths
from ingest.normalize import decode_bytes
from ingest.problems import Problem
from rag.store import Store
from rag.types import Article

from conftest import FakeEmbeddings

GOOD = "Good title\nThe council approved the budget on Tuesday.\n"
DEEP = "[" * 100_000 + "]" * 100_000
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
       b"\x1f\xf3\xffa\x00\x00\x00\x19IDATx\x9cc\xfc\xff\x9f\x81\x00\x00\x00\xff\xff\x03\x00\x08\xfc"
       b"\x02\xfe\x00\x00\x00\x00IEND\xaeB`\x82")


def _articles(items):
    return [i for i in items if isinstance(i, Article)]


def _problems(items):
    return [i for i in items if isinstance(i, Problem)]


def _alias_bomb() -> str:
    """About 500 bytes of YAML that expand to 9**9 strings when the aliases are followed."""
    lines = ["---", "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join([*lines, "title: *i", "---", "Body of the bomb.", ""])


@pytest.fixture
def no_hang():
    """Fail the test (instead of hanging the run) if loading blocks, e.g. on opening a FIFO."""
    def _blocked(signum, frame):
        raise TimeoutError("loading blocked")

    previous = signal.signal(signal.SIGALRM, _blocked)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# --- front matter ------------------------------------------------------------------------------

def test_alias_bomb_is_one_problem_and_the_other_file_loads(tmp_path):
    bomb = tmp_path / "bomb.md"
    bomb.write_text(_alias_bomb(), encoding="utf-8")
    assert bomb.stat().st_size < 1024
    good = tmp_path / "good.txt"
    good.write_text(GOOD, encoding="utf-8")
    items = list(load_paths([bomb, good]))
    (prob,) = _problems(items)
    assert prob.path == str(bomb) and prob.fatal and "YAML aliases" in prob.reason
    assert [a.id for a in _articles(items)] == ["good"]


def test_front_matter_anchor_without_alias_still_loads(tmp_path):
    p = tmp_path / "story.md"
    p.write_text("---\ntitle: &t The Title\n---\nBody text.\n", encoding="utf-8")
    (art,) = _articles(load_file(p))
    assert art.title == "The Title"


@pytest.mark.parametrize(
    "front,reason",
    [
        ("title: " + "[" * 30_000 + "]" * 30_000, "front matter nested too deeply"),
        ("".join(f"key{i}: value\n" for i in range(10_000)), "front matter too long (the limit is 64 KB)"),
        ("published: 2022-13-45", "malformed YAML front matter (month must be in 1..12)"),
    ],
)
def test_front_matter_beyond_bounds_is_one_problem(tmp_path, front, reason):
    p = tmp_path / "story.md"
    p.write_text(f"---\n{front}\n---\nBody text.\n", encoding="utf-8")
    (prob,) = list(load_file(p))
    assert prob.fatal and prob.reason.startswith(reason)


# --- JSON --------------------------------------------------------------------------------------

def test_deeply_nested_json_is_one_problem_and_the_other_file_loads(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP, encoding="utf-8")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"id": "g", "text": "Fine text."}), encoding="utf-8")
    items = list(load_paths([deep, good]))
    (prob,) = _problems(items)
    assert prob.path == str(deep) and prob.reason == "JSON nested too deeply"
    assert [a.id for a in _articles(items)] == ["g"]


def test_deeply_nested_jsonl_line_is_one_problem_and_good_lines_load(tmp_path):
    p = tmp_path / "lines.jsonl"
    p.write_text(json.dumps({"id": "j1", "text": "First."}) + "\n" + DEEP + "\n"
                 + json.dumps({"id": "j3", "text": "Third."}) + "\n", encoding="utf-8")
    items = list(load_file(p))
    assert [a.id for a in _articles(items)] == ["j1", "j3"]
    (prob,) = _problems(items)
    assert (prob.line, prob.reason) == (2, "JSON line nested too deeply")


def test_deeply_nested_field_value_does_not_escape(tmp_path):
    p = tmp_path / "field.json"
    p.write_text(json.dumps([{"id": "a", "text": "Fine."}]).rstrip("]")
                 + ', {"text": "x", "title": ' + "[" * 950 + "]" * 950 + "}]", encoding="utf-8")
    items = list(load_file(p))  # the title may load as text or be refused, but nothing raises
    assert "a" in [a.id for a in _articles(items)]


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("str.json", '{"id": "x", "text": "unterminated',
         "malformed JSON (Unterminated string starting at line 1, column 21)"),
        ("two.json", '{"id": "x",\n "text": }', "malformed JSON (Expecting value at line 2, column 10)"),
        ("line.jsonl", '{"text": "a"} extra', "malformed JSON line (Extra data at column 15)"),
        ("digits.json", '{"text": "a", "id": ' + "9" * 5000 + "}", "malformed JSON (Exceeds the limit"),
    ],
)
def test_malformed_json_reason_is_complete(tmp_path, name, data, reason):
    p = tmp_path / name
    p.write_text(data, encoding="utf-8")
    (prob,) = list(load_file(p))
    assert prob.reason.startswith(reason)


# --- special files -----------------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_symlink_to_dev_zero_is_not_read(tmp_path, no_hang):
    link = tmp_path / "zero.txt"
    link.symlink_to("/dev/zero")
    (prob,) = list(load_file(link))
    assert prob.reason == "not a regular file (a character device)"
    assert list(load_paths([tmp_path])) == [prob]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_named_without_being_opened(tmp_path, no_hang):
    fifo = tmp_path / "x.txt"
    os.mkfifo(fifo)
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    (prob,) = list(load_file(fifo))
    assert prob.reason == "not a regular file (a FIFO)"
    for paths in ([fifo], [tmp_path]):  # given by name, or found in a folder
        items = list(load_paths(paths))
        assert [p.reason for p in _problems(items)] == ["not a regular file (a FIFO)"]
    assert [a.id for a in _articles(load_paths([tmp_path]))] == ["good"]


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
def test_socket_is_not_a_regular_file(tmp_path, no_hang):
    path = tmp_path / "s.txt"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        (prob,) = list(load_file(path))
    assert prob.reason == "not a regular file (a socket)"


def test_folder_expansion_follows_links_to_files_only(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "real.txt").write_text(GOOD, encoding="utf-8")
    (d / "link.txt").symlink_to(d / "real.txt")
    (d / "looped.txt").symlink_to(d / "looped.txt")
    (d / "folder.txt").symlink_to(tmp_path)  # a folder with a file's name: skipped
    items = list(iter_files([d]))
    assert [p for p in items if isinstance(p, Path)] == [d / "link.txt", d / "real.txt"]
    (prob,) = _problems(items)
    assert prob.path == str(d / "looped.txt") and prob.reason.startswith("cannot read the file")


# --- encodings ---------------------------------------------------------------------------------

def test_mostly_utf8_with_a_few_bad_bytes_keeps_its_words(tmp_path):
    text = "The minister said the plan “would not change” — the café owners’ union agreed. " * 5
    data = text.encode("utf-8")
    data = data[:40] + b"\xe9" + data[40:200] + b"\x9d" + data[200:]
    p = tmp_path / "mostly.txt"
    p.write_bytes(data)
    items = list(load_file(p))
    (art,) = _articles(items)
    (warn,) = _problems(items)
    assert not warn.fatal and warn.reason == "not valid UTF-8; 2 bad bytes replaced"
    assert "“would not change”" in art.text and "café owners’ union" in art.text
    assert art.text.count("\ufffd") == 2


def test_legacy_encoding_is_still_detected():
    text, warning = decode_bytes("Le café était très chaud, déjà servi à midi.".encode("cp1252"))
    assert text == "Le café était très chaud, déjà servi à midi."
    assert warning.startswith("not UTF-8; decoded as")


@pytest.mark.parametrize("order", ["LE", "BE"])
def test_utf16_without_bom_is_decoded(tmp_path, order):
    p = tmp_path / "wide.txt"
    p.write_bytes(f"Wide title\nText stored as UTF-16 {order}, no mark.".encode(f"utf-16-{order.lower()}"))
    items = list(load_file(p))
    (art,) = _articles(items)
    (warn,) = _problems(items)
    assert art.title == "Wide title" and art.text.endswith(f"UTF-16 {order}, no mark.")
    assert not warn.fatal and warn.reason == f"not UTF-8; decoded as UTF-16 {order} (no byte-order mark)"


@pytest.mark.parametrize(
    "data",
    [PNG, b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)), bytes(range(256)) * 8,
     b"\x00\x00" * 500],
    ids=["png", "zip", "bytes", "nuls"],
)
def test_binary_is_still_refused(tmp_path, data):
    p = tmp_path / "blob.txt"
    p.write_bytes(data)
    (prob,) = list(load_file(p))
    assert prob.fatal and prob.reason == "binary file, not text"


# --- through the command line ------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_cli_ingest_names_each_hostile_file_and_stores_the_good_one(tmp_path, monkeypatch, no_hang):
    from newsrag.cli import app

    fake = FakeEmbeddings()
    monkeypatch.setattr(rag.embeddings, "get_embeddings", lambda *a, **k: fake)
    d = tmp_path / "in"
    d.mkdir()
    (d / "good.txt").write_text(GOOD, encoding="utf-8")
    (d / "bomb.md").write_text(_alias_bomb(), encoding="utf-8")
    (d / "deep.json").write_text(DEEP, encoding="utf-8")
    os.mkfifo(d / "pipe.txt")
    store = tmp_path / "store"
    res = CliRunner().invoke(app, ["ingest", str(d), "--store", str(store), "--quiet"])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    lines = res.stderr.splitlines()
    for name, reason in [("bomb.md", "front matter uses YAML aliases"), ("deep.json", "JSON nested too deeply"),
                         ("pipe.txt", "not a regular file (a FIFO)")]:
        (line,) = [x for x in lines if str(d / name) in x]
        assert line.startswith(f"error: {d / name}: {reason}")
    assert "articles: 1 added" in res.stdout and "3 failed" in res.stdout
    assert Store(store, "news", fake).get_article("good").title == "Good title"
