"""Loaders: every file type, normalisation, and each kind of bad input as one clear problem."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ingest.loaders import load_file, load_paths
from ingest.normalize import decode_bytes, normalize_text
from ingest.problems import Problem
from rag.types import Article

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_d8ed5a87b2fc358e.txt"


def _articles(items):
    return [i for i in items if isinstance(i, Article)]


def _problems(items):
    return [i for i in items if isinstance(i, Problem)]


def test_normalize_nfc_whitespace_and_paragraphs():
    raw = "  Cafe\u0301  au\tlait \r\n\r\n\r\n\nSecond\u00a0 para\u200bgraph.  \nsame para\n"
    assert normalize_text(raw) == "Café au lait\n\nSecond paragraph.\nsame para"


def test_decode_utf8_bom_and_other_encoding():
    assert decode_bytes("\ufeffhé".encode("utf-8")) == ("hé", None)
    text, enc = decode_bytes("Le café était très chaud, déjà servi à midi.".encode("cp1252"))
    assert "café" in text and enc is not None


def test_seed_txt_title_is_first_line_and_id_is_stem():
    (art,) = _articles(load_file(SEED))
    assert art.id == "000_d8ed5a87b2fc358e"
    assert art.title == "Obama, Putin discuss Syria, Iran and Ukraine"
    assert "complete violation of the spirit" in art.text
    assert art.text == normalize_text(art.text)


def test_txt_with_front_matter(tmp_path):
    p = tmp_path / "story.md"
    p.write_text(
        "---\nid: s-1\ntitle: The Title\nurl: https://example.org/a\npublished: 2022-06-17\n"
        "authors: [Ann Lee, Bo Chan]\nsource: Example News\n---\n# Heading line\n\nBody   text here.\n",
        encoding="utf-8",
    )
    (art,) = _articles(load_file(p))
    assert (art.id, art.title, art.url, art.published, art.source) == (
        "s-1", "The Title", "https://example.org/a", "2022-06-17", "Example News")
    assert art.authors == ["Ann Lee", "Bo Chan"]
    assert art.text == "# Heading line\n\nBody text here."


def test_markdown_title_without_front_matter(tmp_path):
    p = tmp_path / "note.md"
    p.write_text("\n\n## A markdown title\nText.\n", encoding="utf-8")
    (art,) = _articles(load_file(p))
    assert art.id == "note" and art.title == "A markdown title"


def test_html_main_text_title_date(tmp_path):
    p = tmp_path / "page.html"
    body = " ".join(["The council voted on Tuesday to approve the new budget for the city."] * 6)
    p.write_text(
        "<html><head><title>Council approves budget</title>"
        '<meta property="article:published_time" content="2022-07-01T10:00:00Z"></head>'
        f"<body><nav>Home | About | Contact</nav><article><h1>Council approves budget</h1>"
        f"<p>{body}</p><p>Second paragraph of the story with more words in it.</p></article>"
        "<footer>Copyright footer</footer></body></html>",
        encoding="utf-8",
    )
    (art,) = _articles(load_file(p))
    assert art.id == "page"
    assert art.title == "Council approves budget"
    assert art.published == "2022-07-01"
    assert "approve the new budget" in art.text and "Second paragraph" in art.text
    assert "Copyright footer" not in art.text


def test_json_single_and_list(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"id": "x1", "title": "T", "text": "Hello world."}), encoding="utf-8")
    many = tmp_path / "many.json"
    many.write_text(json.dumps([{"text": "First."}, {"id": "b", "text": "Second."}, {"title": "no text"}]),
                    encoding="utf-8")
    assert [a.id for a in _articles(load_file(one))] == ["x1"]
    items = list(load_file(many))
    assert [a.id for a in _articles(items)] == ["many-0", "b"]
    (prob,) = _problems(items)
    assert "item 2" in prob.reason and "no text" in prob.reason


def test_jsonl_rtqa_format_and_bad_lines(tmp_path):
    p = tmp_path / "arts.jsonl"
    good = {"id": "rtqa-1", "title": "T", "text": "CNN —\n\nSome   text.", "url": "https://u",
            "published": "2022-06-17", "authors": ["A"], "source": "CNN"}
    p.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"id": "r2", "text": "  "}) + "\n\n"
                 + json.dumps({"id": "r3", "text": "Fine."}) + "\n", encoding="utf-8")
    items = list(load_file(p))
    arts = _articles(items)
    assert [a.id for a in arts] == ["rtqa-1", "r3"]
    assert arts[0].text == "CNN —\n\nSome text." and arts[0].published == "2022-06-17"
    probs = _problems(items)
    assert [(x.line, x.fatal) for x in probs] == [(2, True), (3, True)]
    assert "malformed JSON" in probs[0].reason and "no text" in probs[1].reason
    assert str(probs[0]).startswith(f"error: {p}:2: ")


def test_folder_recursive_skips_hidden_and_unsupported(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.txt").write_text("One\nText one.", encoding="utf-8")
    (tmp_path / "a" / "b" / "two.md").write_text("Two\nText two.", encoding="utf-8")
    (tmp_path / "a" / "image.png").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / "a" / ".hidden.txt").write_text("Hidden\nx", encoding="utf-8")
    assert sorted(a.id for a in _articles(load_paths([tmp_path / "a"]))) == ["one", "two"]


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("empty.txt", b"", "empty file"),
        ("blank.txt", b"  \n\n ", "empty file"),
        ("bin.txt", b"\x00\x01\x02binary\x00data", "binary file"),
        ("bad.json", b"{oops", "malformed JSON"),
        ("notext.json", b'{"id": "q", "title": "t"}', "no text"),
        ("pic.png", b"\x89PNG", "unsupported file type"),
    ],
)
def test_bad_files_give_one_problem(tmp_path, name, data, reason):
    p = tmp_path / name
    p.write_bytes(data)
    items = list(load_file(p))
    assert not _articles(items)
    (prob,) = _problems(items)
    assert prob.fatal and reason in prob.reason and prob.path == str(p)


def test_missing_path_and_dangling_link(tmp_path):
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "nowhere.txt")
    items = list(load_paths([tmp_path / "missing.txt", link]))
    reasons = [p.reason for p in _problems(items)]
    assert reasons == ["no such file or folder", "no such file"]


def test_too_large_file_refused(tmp_path):
    p = tmp_path / "huge.txt"
    with p.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: 50 MB by size, instant to make
    (prob,) = list(load_file(p, max_bytes=20 * 1024 * 1024))
    assert "file too large (50.0 MB; the limit is 20.0 MB)" == prob.reason


def test_non_utf8_is_loaded_with_warning(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes("Résumé du conseil\nLe maire a annoncé une réforme très attendue.".encode("cp1252"))
    items = list(load_file(p))
    (art,) = _articles(items)
    (warn,) = _problems(items)
    assert not warn.fatal and "not UTF-8" in warn.reason
    assert art.title == "Résumé du conseil"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    p = tmp_path / "secret.txt"
    p.write_text("Title\nText.", encoding="utf-8")
    p.chmod(0)
    (prob,) = list(load_file(p))
    assert prob.reason == "permission denied, cannot read the file"
