"""Chunking: whole sentences, exact offsets for every chunk, sizes, overlap, token window."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_article
from ingest.loaders import load_file
from rag.text import sentence_spans
from rag.embeddings import count_tokens, minilm_tokenizer
from rag.types import Article

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_d8ed5a87b2fc358e.txt"
RTQA = ROOT.parent / "shared" / "datasets" / "rtqa-dev" / "articles.jsonl"
BUDGET = minilm_tokenizer().max_content_tokens


def _check(article: Article, chunks, chunk_size: int) -> None:
    sents = sentence_spans(article.text)
    starts = {s for s, _ in sents}
    ends = {e for _, e in sents}
    assert chunks, article.id
    for pos, c in enumerate(chunks):
        assert article.text[c.start : c.end] == c.text
        assert c.position == pos and c.article_id == article.id and c.title == article.title
        assert c.url == article.url and c.published == article.published and c.source == article.source
    # the chunks cover every sentence, in order
    assert chunks[0].start == sents[0][0] and chunks[-1].end == sents[-1][1]
    for a, b in zip(chunks, chunks[1:]):
        assert b.start <= a.end or article.text[a.end : b.start].isspace()
        assert b.start > a.start and b.end > a.end
    counts = count_tokens([c.text for c in chunks])
    for c, n in zip(chunks, counts):
        assert n <= BUDGET or len(c.text.split()) == 1, (article.id, c.position, n)
        for edge in (c.start, c.end):
            if edge not in starts and edge not in ends:
                # only a sentence too long for the token window is ever cut, and between words
                s, e = next((s, e) for s, e in sents if s < edge < e)
                assert count_tokens([article.text[s:e]])[0] > BUDGET
                assert article.text[edge - 1].isspace() or article.text[edge].isspace()
        if len(c.text) > chunk_size:
            # longer than the target only when it is a single sentence
            assert len([s for s in sents if s[0] >= c.start and s[1] <= c.end]) <= 1
    assert len({c.id for c in chunks}) == len(chunks)


def _chunk(article, size=600, overlap=1):
    return chunk_article(article, size, overlap, count_tokens, BUDGET)


def test_seed_chunks_are_exact_sentence_aligned_and_overlap():
    (art,) = list(load_file(SEED))
    chunks = _chunk(art, 600, 1)
    _check(art, chunks, 600)
    sents = sentence_spans(art.text)
    for a, b in zip(chunks, chunks[1:]):
        # exactly one whole sentence is shared
        shared = [s for s in sents if s[0] >= b.start and s[1] <= a.end]
        assert len(shared) == 1


def test_sizes_respect_target_unless_one_sentence():
    (art,) = list(load_file(SEED))
    for size in (200, 400, 800, 1200):
        chunks = _chunk(art, size, 0)
        _check(art, chunks, size)
        for c in chunks:
            assert len(c.text) <= size or len(sentence_spans(c.text)) == 1
        # no overlap: chunks are disjoint and consecutive
        for a, b in zip(chunks, chunks[1:]):
            assert b.start > a.end


def test_over_long_sentence_split_between_words_to_fit_window():
    sentence = " ".join(f"word{i}" for i in range(400)) + "."
    art = Article(id="long", text=f"Short start. {sentence} Short end.")
    chunks = _chunk(art, 600, 1)
    _check(art, chunks, 600)
    counts = count_tokens([c.text for c in chunks])
    assert max(counts) <= BUDGET
    inner = [c for c in chunks if "word200" in c.text]
    assert inner and all(c.text.split()[0] == art.text[c.start:].split()[0] for c in inner)
    for c in chunks:  # cuts fall between words
        assert c.start == 0 or art.text[c.start - 1] == " "
        assert c.end == len(art.text) or art.text[c.end] == " " or art.text[c.end - 1] == "."


def test_chunk_ids_stable_and_content_derived():
    (art,) = list(load_file(SEED))
    a = [c.id for c in _chunk(art)]
    b = [c.id for c in _chunk(art)]
    assert a == b
    other = art.model_copy(update={"id": "other"})
    assert not set(a) & {c.id for c in _chunk(other)}


def test_repeated_paragraph_gets_distinct_ids():
    art = Article(id="rep", text="Same thing said.\n\nSame thing said.")
    chunks = chunk_article(art, 10, 0, count_tokens, BUDGET)
    assert [c.text for c in chunks] == ["Same thing said.", "Same thing said."]
    assert chunks[0].id != chunks[1].id


def test_bad_parameters():
    art = Article(id="x", text="A sentence.")
    with pytest.raises(ValueError):
        chunk_article(art, 0, 1)
    with pytest.raises(ValueError):
        chunk_article(art, 100, -1)


@pytest.mark.slow
@pytest.mark.skipif(not RTQA.exists(), reason="rtqa-dev data set not beside the repository")
def test_offset_invariant_on_every_rtqa_article():
    arts = [a for a in load_file(RTQA, max_bytes=1 << 30) if isinstance(a, Article)]
    assert len(arts) == 888
    total = 0
    for art in arts:
        chunks = _chunk(art, 600, 1)
        _check(art, chunks, 600)
        total += len(chunks)
    assert total > 888
