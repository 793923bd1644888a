"""Hybrid retrieval: BM25 in step with the store, fusion, filters, speaker and recency priors."""

from __future__ import annotations

import datetime as dt

import pytest

from fake_store import FakeStore, seed_article
from conftest import retrieval_params
from rag.lexical import LexicalIndex, content_words
from rag.retrieval import HybridRetriever, asks_about_recent_days, recency_prior, speakers
from rag.types import Article, Filters

PUTIN = Article(
    id="putin-1",
    title="Putin warns the West over sanctions",
    text=(
        "Russian President Vladimir Putin spoke in Moscow on Monday.\n"
        "Putin said that new sanctions would \"hurt Europe more than Russia\" and that Ukraine must stay neutral.\n"
        "Analysts expect the talks to continue next month."
    ),
    published="2014-11-20",
    source="Reuters",
)
STORM_OLD = Article(
    id="storm-old",
    title="Storm hits the coast",
    text="A powerful storm hit the coast of Florida, flooding streets.\nThousands lost power overnight.",
    published="2022-05-01",
    source="AP",
)
STORM_NEW = Article(
    id="storm-new",
    title="Storm hits the coast again",
    text="A powerful storm hit the coast of Florida again, flooding streets.\nThousands lost power overnight.",
    published="2022-06-14",
    source="AP",
)


@pytest.fixture
def store(fake_embeddings):
    return FakeStore([seed_article(), PUTIN, STORM_OLD, STORM_NEW], fake_embeddings)


def test_content_words_normalises_possessives_plurals_and_stopwords():
    assert content_words("What did Rhodes's officials say about the ceasefires?") == content_words(
        "Rhodes official ceasefire"
    )
    assert len(set(content_words("violated violation violates violate"))) == 1
    assert content_words("the storm") == ["storm"]


def test_bm25_ranks_the_matching_chunk_first_and_respects_keep(store):
    index = LexicalIndex(store.all_chunks())
    hits = index.search("complete violation of the spirit", 3)
    assert "complete violation" in hits[0][0].text
    assert index.search("complete violation", 3, keep=lambda c: c.source == "AP") == []
    assert index.search("zzzunknownword", 3) == []


def test_speakers_are_found_in_questions():
    assert speakers("What did Rhodes say about Ukraine?") == ["rhodes"]
    assert speakers("What did Ben Rhodes tell reporters?") == ["rhodes"]
    assert speakers("Which show was green lit?") == []


def test_speaker_chunk_ranks_first(store, tmp_path):
    r = HybridRetriever(store, retrieval_params(), index_dir=tmp_path / "bm25")
    got = r.retrieve("What did Rhodes say about Ukraine?", k=3)
    assert "complete violation of the spirit" in got.chunks[0].text
    got = r.retrieve("What did Putin say about sanctions?", k=3)
    assert got.chunks[0].article_id == "putin-1"


def test_filters_apply_to_both_rankers(store, tmp_path):
    r = HybridRetriever(store, retrieval_params(), index_dir=tmp_path / "bm25")
    only_ap = r.retrieve("Ukraine ceasefire storm", k=10, filters=Filters.from_dict({"sources": ["AP"]}))
    assert only_ap.chunks and {c.source for c in only_ap.chunks} == {"AP"}
    dated = r.retrieve(
        "storm coast Florida", k=10, filters=Filters.from_dict({"date_from": "2022-06-01", "date_to": "2022-06-30"})
    )
    assert dated.chunks and {c.article_id for c in dated.chunks} == {"storm-new"}
    ids = r.retrieve("Putin", k=10, filters=Filters.from_dict({"article_ids": ["putin-1"]}))
    assert {c.article_id for c in ids.chunks} == {"putin-1"}
    with pytest.raises(ValueError):
        Filters.from_dict({"colour": "red"})


def test_recency_prior_prefers_recent_articles(store, tmp_path):
    q = "storm coast Florida flooding power"
    plain = HybridRetriever(store, retrieval_params(), index_dir=tmp_path / "a").retrieve(q, k=2)
    recent = HybridRetriever(store, retrieval_params(recency_weight=1.0), index_dir=tmp_path / "b").retrieve(
        q, k=2, as_of=dt.date(2022, 6, 16)
    )
    assert recent.chunks[0].article_id == "storm-new"
    assert {c.article_id for c in plain.chunks} <= {"storm-old", "storm-new"}
    assert recency_prior(dt.date(2022, 6, 14), dt.date(2022, 6, 16), 7) > recency_prior(
        dt.date(2022, 5, 1), dt.date(2022, 6, 16), 7
    )
    assert recency_prior(dt.date(2022, 7, 1), dt.date(2022, 6, 16), 7) == 0.0


def test_bm25_index_is_persisted_and_rebuilt_when_the_store_changes(store, tmp_path, fake_embeddings):
    folder = tmp_path / "bm25"
    r = HybridRetriever(store, retrieval_params(), index_dir=folder)
    r.retrieve("Ukraine", k=2)
    assert (folder / "revision.json").exists()
    calls = store.all_chunks_calls
    HybridRetriever(store, retrieval_params(), index_dir=folder).retrieve("Ukraine", k=2)  # loaded, not rebuilt
    assert store.all_chunks_calls == calls
    assert r.retrieve("volcano eruption Iceland", k=2).chunks[0].article_id != "volcano"
    store.add(Article(id="volcano", title="Volcano erupts", text="A volcano erupted in Iceland on Sunday.", source="AP"))
    got = r.retrieve("volcano eruption Iceland", k=2)
    assert got.chunks[0].article_id == "volcano"
    assert store.all_chunks_calls == calls + 1


def test_relevance_separates_on_and_off_topic(store, tmp_path):
    r = HybridRetriever(store, retrieval_params(), index_dir=tmp_path / "bm25")
    on = r.retrieve("What did Rhodes say about the Ukraine ceasefire?", k=3).relevance
    off = r.retrieve("Who won the 1998 football world cup in Paris?", k=3).relevance
    assert on > off


def test_questions_about_the_last_days_only_see_articles_of_those_days(store, tmp_path, fake_embeddings):
    assert asks_about_recent_days("Which storm hit Florida this week?")
    assert asks_about_recent_days("What did Putin say on Tuesday?")
    assert not asks_about_recent_days("Which storm hit Florida in May?")
    retriever = HybridRetriever(store, retrieval_params(recent_window_days=10), index_dir=tmp_path / "w")
    june16 = dt.date(2022, 6, 16)
    week = retriever.retrieve("Which storm hit the coast of Florida this week?", k=5, as_of=june16)
    assert {c.article_id for c in week.chunks} == {"storm-new"}
    # without "this week" every article may answer
    anytime = retriever.retrieve("Which storm hit the coast of Florida?", k=5, as_of=june16)
    assert "storm-old" in {c.article_id for c in anytime.chunks}
    # nothing published in the ten days before: nothing retrieved, so the answer is a refusal
    assert retriever.retrieve("Which storm hit Florida this week?", k=5, as_of=dt.date(2023, 1, 1)).chunks == []
    # undated articles are kept: their age is unknown
    undated = Article(id="undated", title="Storm news", text="A storm hit the coast of Florida.", published=None)
    other = HybridRetriever(FakeStore([STORM_OLD, undated], fake_embeddings),
                            retrieval_params(recent_window_days=10), index_dir=tmp_path / "u")
    assert [c.article_id for c in other.retrieve("storm Florida this week", k=5, as_of=june16).chunks] == ["undated"]


def test_speakers_skip_name_suffixes_and_read_according_to_at_a_sentence_start():
    assert speakers("What did Ferdinand Marcos Jr. say about the election?") == ["marcos"]
    assert speakers("What did John Smith III tell reporters?") == ["smith"]
    assert speakers("According to Martin Luther King Jr., what matters most?") == ["king"]
    assert speakers("What did Ben Rhodes say about Ukraine?") == ["rhodes"]


def test_a_possessive_is_not_the_speaker():
    # "according to Fiji's minister of defense": the (unnamed) minister speaks, not a person "Fiji"
    assert speakers("What is the biggest threat, according to Fiji’s minister of defense?") == []
    assert speakers("What, according to the Kremlin's spokesman, was agreed?") == []
    assert speakers("According to Rhodes, what was the move?") == ["rhodes"]
