"""Citations: verbatim quotes with article offsets, marker parsing, renumbering, support."""

from __future__ import annotations

from fake_store import chunk_article, seed_article
from rag.context import make_passages
from rag.grounding import claims, support
from rag.grounding import verify as verify_with
from rag.settings import Settings
from rag.text import markers, sentence_spans, strip_markers

ARTICLE = seed_article()
CHUNKS = chunk_article(ARTICLE)
RHODES = next(c for c in CHUNKS if "complete violation" in c.text)
IRAN = next(c for c in CHUNKS if "uranium stockpile" in c.text)


def passages():
    return make_passages("What did Rhodes say about Ukraine?", [IRAN, RHODES], max_chars=0)


def test_sentence_spans_are_exact():
    text = "Mr. Smith went to Washington. He said “yes.” Then on Nov. 24 the U.S. agreed!"
    spans = sentence_spans(text)
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


def test_context_budget_is_shared_by_all_passages_and_drops_chunks_without_a_chosen_sentence():
    question = "What did Rhodes say about the ceasefire in Ukraine?"
    whole = make_passages(question, [IRAN, RHODES], max_chars=0)
    assert [p.chunk for p in whole] == [IRAN, RHODES]
    passages = make_passages(question, [IRAN, RHODES], max_chars=450)
    shown = [e - s for p in passages for s, e in p.spans]
    assert sum(shown) <= 450 and len(shown) == 2
    # retrieval order and numbering are kept; the best sentence is in the second chunk
    assert [(p.n, p.chunk) for p in passages] == [(1, IRAN), (2, RHODES)]
    assert "complete violation" in passages[1].text
    # with room for one sentence only, the Iran chunk is not shown and Rhodes becomes [1]
    (only,) = make_passages(question, [IRAN, RHODES], max_chars=300)
    assert only.n == 1 and only.chunk is RHODES
    # the best sentence is always shown, even when it alone exceeds the budget
    (tiny,) = make_passages(question, [IRAN, RHODES], max_chars=10)
    assert len(tiny.spans) == 1 and "complete violation" in tiny.text


def test_similarity_scores_steer_the_chosen_sentences():
    target = "uranium stockpile"

    def prefers_uranium(question, sentences):
        return [5.0 if target in s else 0.0 for s in sentences]

    passages = make_passages("What did Rhodes say about Ukraine?", [RHODES, IRAN], max_chars=120,
                             similarity=prefers_uranium)
    assert target in passages[0].text
    assert passages[0].chunk is IRAN and passages[0].n == 1


def test_a_claim_naming_someone_the_quote_does_not_name_is_dropped():
    question = "Who said the provision of arms violated the ceasefire?"
    ps = make_passages(question, [RHODES], max_chars=0)
    kept = verify("Ben Rhodes said the provision of arms violated the ceasefire [1].", ps, question=question)
    assert kept.citations and "complete violation" in kept.citations[0].quote
    # same words, another person: enough overlap, but "Kerry" is nowhere in the quote
    invented = verify("John Kerry said the provision of arms violated the ceasefire [1].", ps, question=question)
    assert invented.text == "" and invented.dropped
    # names the question itself uses need not be in the quote, but must be in the cited article
    # (here its title, which names Obama and Ukraine)
    q2 = "What did the Deputy National Security Adviser say to Obama about Ukraine?"
    ok = verify("He said the provision of arms was a complete violation of the spirit of the ceasefire "
                "in Ukraine, Obama heard [1].", ps, question=q2)
    assert ok.citations
    # the article never mentions the Kremlin: naming it in the question does not make it so
    q3 = "What did the Deputy National Security Adviser say about the Kremlin and Ukraine?"
    kremlin = verify("He said the provision of arms was a complete violation of the spirit of the ceasefire "
                     "in Ukraine, the Kremlin heard [1].", ps, question=q3)
    assert kremlin.text == "" and kremlin.reasons == ["names_not_in_passage"]


def test_a_bare_short_answer_is_supported_by_a_quote_that_contains_it():
    ps = make_passages("What did Rhodes say?", [RHODES], max_chars=0)
    assert verify("Beijing [1]", ps).citations
    assert verify("$5 [1]", ps).text == ""


def test_a_spelled_out_month_matches_its_abbreviation():
    from rag.grounding import unsupported_names

    assert unsupported_names("The deadline is November 24.", "talks face a Nov. 24 deadline") == set()
    assert unsupported_names("The deadline is December 24.", "talks face a Nov. 24 deadline") == {"december"}


def test_a_bare_answer_needs_a_passage_about_the_question():
    ps = make_passages("x", [RHODES, IRAN], max_chars=0)
    # "Beijing" is in the Rhodes passage, but that passage is not about a uranium shipment
    off_topic = verify("Beijing [1]", ps, question="Where will the uranium stockpile be shipped?")
    assert off_topic.text == ""
    on_topic = verify("Beijing [1]", ps, question="Where did Rhodes tell reporters about the ceasefire?")
    assert on_topic.citations and on_topic.citations[0].article_id == RHODES.article_id


def test_a_chunk_that_only_repeats_its_title_gives_no_passage():
    titled = RHODES.model_copy(update={"text": RHODES.title, "end": RHODES.start + len(RHODES.title)})
    assert make_passages("What did Rhodes say?", [titled], max_chars=600) == []


def verify(answer, passages, **kw):
    """``grounding.verify`` with the product's support threshold."""
    return verify_with(answer, passages, Settings().support_threshold, **kw)
