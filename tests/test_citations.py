"""Citations: verbatim quotes with article offsets, marker parsing, renumbering, support."""

from __future__ import annotations

from fake_store import chunk_article, seed_article
from rag.citations import claims, make_passages, markers, split_sentences, strip_markers, support, verify

ARTICLE = seed_article()
CHUNKS = chunk_article(ARTICLE)
RHODES = next(c for c in CHUNKS if "complete violation" in c.text)
IRAN = next(c for c in CHUNKS if "uranium stockpile" in c.text)


def passages():
    return make_passages("What did Rhodes say about Ukraine?", [IRAN, RHODES], max_chars=0)


def test_sentence_spans_are_exact():
    text = "Mr. Smith went to Washington. He said “yes.” Then on Nov. 24 the U.S. agreed!"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Mr. Smith went to Washington.",
        "He said “yes.”",
        "Then on Nov. 24 the U.S. agreed!",
    ]


def test_markers_and_claims():
    assert markers("A [1]. B [2, 3] and [1]. C [Passage 4].") == [1, 2, 3, 1, 4]
    assert strip_markers("Rhodes spoke [2].") == "Rhodes spoke."
    assert claims("Rhodes spoke. [2] He added more [1].") == [("Rhodes spoke.", [2]), ("He added more.", [1])]


def test_support_is_share_of_claim_words():
    assert support("Rhodes saw a violation", "Rhodes said it was a complete violation") == 2 / 3
    assert support("Rhodes: a violation", "Rhodes said it was a complete violation") == 1.0
    assert support("The moon is cheese", "Rhodes said it was a violation") == 0.0


def test_verify_maps_markers_to_verbatim_quotes_with_article_offsets():
    answer = "Rhodes said the arms were a complete violation of the spirit of the ceasefire [2]."
    v = verify(answer, passages())
    assert v.text == "Rhodes said the arms were a complete violation of the spirit of the ceasefire [1]."
    (c,) = v.citations
    assert c.n == 1 and c.article_id == ARTICLE.id
    assert "complete violation of the spirit" in c.quote
    assert ARTICLE.text[c.start : c.end] == c.quote


def test_verify_recites_invented_markers_and_drops_unsupported_claims():
    answer = (
        "Iran agreed to ship its uranium stockpile to Russia [7]. "
        "The moon is made of green cheese [1]. "
        "Rhodes called the arms a complete violation of the spirit of the ceasefire [2][9]."
    )
    v = verify(answer, passages())
    assert "cheese" not in v.text and v.dropped == ["The moon is made of green cheese."]
    assert markers(v.text) == [1, 2]
    assert [c.n for c in v.citations] == [1, 2]
    assert "uranium stockpile" in v.citations[0].quote
    assert "complete violation" in v.citations[1].quote
    for c in v.citations:
        assert ARTICLE.text[c.start : c.end] == c.quote


def test_same_quote_gets_one_number():
    answer = "Rhodes spoke of a complete violation [2]. The violation was complete, Rhodes said [2]."
    v = verify(answer, passages())
    assert markers(v.text) == [1, 1] and len(v.citations) == 1


def test_nothing_supported_gives_empty_text():
    assert verify("Bananas are yellow [1].", passages()).text == ""


def test_trimmed_passages_keep_best_sentences_in_order():
    (p,) = make_passages("What did Rhodes say about the ceasefire?", [RHODES], max_chars=200)
    assert "complete violation" in p.text
    assert len(p.text) <= 200 + len(max((RHODES.text[s:e] for s, e in p.spans), key=len))
    assert p.spans == sorted(p.spans)
