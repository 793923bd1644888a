"""Speaker grounding: who-said-what questions are answered only from the asked person's quotations."""

from __future__ import annotations

from langchain_core.language_models import FakeListChatModel

from conftest import answer_params, retrieval_params
from fake_store import FakeStore, seed_article
from rag.answerer import Answerer
from rag.grounding import speaker_evidence
from rag.quotes import find_quotes, speaker_at
from rag.retrieval import HybridRetriever
from rag.types import REFUSAL_REASONS, Chunk, Quote

ARTICLE = seed_article()
QUOTES = find_quotes(ARTICLE.text)


class ExplodingChatModel(FakeListChatModel):
    """A chat model that fails the test if it is ever called."""

    def _call(self, *args, **kwargs):  # noqa: D401
        raise AssertionError("the LLM must not be called")

    def _stream(self, *args, **kwargs):
        raise AssertionError("the LLM must not be called")


def _answerer(fake_embeddings, tmp_path, chat_model=None) -> Answerer:
    retriever = HybridRetriever(FakeStore([ARTICLE], fake_embeddings), retrieval_params(), index_dir=tmp_path / "bm25")
    return Answerer(retriever, chat_model, answer_params(top_k=4, min_relevance=0.0))


def _speakers_of(citation) -> list[str]:
    return speaker_at(QUOTES, citation.start, citation.end)


def test_extractive_answer_cites_only_the_asked_persons_words(fake_embeddings, tmp_path):
    answer = _answerer(fake_embeddings, tmp_path).ask("What did Rhodes say about Ukraine?")
    assert answer.answerable and answer.citations
    assert "complete violation of the spirit" in answer.answer
    assert all(_speakers_of(c) == ["Ben Rhodes"] for c in answer.citations)


def test_a_person_not_quoted_on_the_topic_gets_a_refusal_naming_who_is(fake_embeddings, tmp_path):
    answerer = _answerer(fake_embeddings, tmp_path, ExplodingChatModel(responses=["x"]))
    answer = answerer.ask("What did John Kerry say about the ceasefire in Ukraine?")
    assert not answer.answerable and answer.refusal_reason == "speaker_not_quoted"
    assert "speaker_not_quoted" in REFUSAL_REASONS
    assert answer.answer.startswith("The articles don't quote John Kerry on this;")
    assert "Ben Rhodes is quoted [1]" in answer.answer
    citation = answer.citations[0]
    assert citation.n == 1
    assert ARTICLE.text[citation.start:citation.end] == citation.quote and _speakers_of(citation) == ["Ben Rhodes"]


def test_model_giving_someone_elses_words_is_not_cited_to_them(fake_embeddings, tmp_path):
    # the model answers a Rhodes question with Meehan's sentence: it only saw Rhodes' quotations,
    # so the claim cannot be cited to Meehan's words
    model = FakeListChatModel(responses=["Their conversations covered Iran, Syria and Ukraine [1]."])
    answer = _answerer(fake_embeddings, tmp_path, model).ask("What did Rhodes say about Ukraine?")
    assert all(_speakers_of(c) == ["Ben Rhodes"] for c in answer.citations)
    assert "Meehan" not in " ".join(c.quote for c in answer.citations)


def test_speaker_evidence_uses_the_quotes_kept_at_ingest():
    text = "Officials met on Monday to discuss the bridge. He said the bridge would reopen in May."
    # at ingest the article resolved "He" to Tom Baker; the chunk alone could not
    chunk = Chunk(id="c", article_id="a", text=text, start=100, end=100 + len(text), position=3, title="Bridge",
                  quotes=[Quote(speaker="Tom Baker", start=100 + text.index("He said"), end=100 + len(text), kind="reported")])
    evidence = speaker_evidence("What did Tom Baker say about the bridge?", [chunk], ["baker"], 0.5)
    (passage,) = evidence.own
    assert chunk.text[slice(*passage.spans[0])].startswith("He said")
    none = speaker_evidence("What did Jane Doe say about the bridge?", [chunk], ["doe"], 0.5)
    assert none.own == [] and [name for name, _ in none.others] == ["Tom Baker"]
    off_topic = speaker_evidence("What did Tom Baker say about the election?", [chunk], ["baker"], 0.5)
    assert off_topic.own == [] and off_topic.others == []


def test_each_citation_names_its_speaker_and_the_sources_panel_shows_it(fake_embeddings, tmp_path):
    from ui.format import format_source

    answer = _answerer(fake_embeddings, tmp_path).ask("What did Rhodes say about Ukraine?")
    assert answer.citations and all(c.speaker == "Ben Rhodes" for c in answer.citations)
    assert answer.contract()["citations"][0]["speaker"] == "Ben Rhodes"
    html = format_source(answer.citations[0], ARTICLE, 1)
    assert '<div class="source-speaker">Ben Rhodes said:</div>' in html


def test_a_citation_that_quotes_nobody_has_no_speaker():
    from rag.context import Passage

    chunk = Chunk.of_span(ARTICLE, 0, len(ARTICLE.text), id="all", position=0)
    title_end = ARTICLE.text.index("\n")
    citation = Passage(n=1, chunk=chunk).citation(1, (0, title_end))
    assert citation.speaker is None


def _article(article_id: str, title: str, text: str):
    from rag.types import Article

    return Article(id=article_id, title=title, text=text, published="2024-05-02")


def test_the_persons_quotation_in_a_paragraph_not_retrieved_is_still_found(fake_embeddings, tmp_path):
    # the search ranks the harbour paragraphs of the article first; Mara Quint's words on the harbour
    # sit in a later paragraph that holds none of the question's words but her own
    text = (
        "The harbour will close for repairs on Monday, the port authority said.\n"
        "Fishing boats must use the northern harbour during the repairs.\n"
        "The repairs of the harbour wall will cost four million euros.\n"
        "\u201cWe waited ten years for this work and it cannot wait any longer,\u201d Mara Quint said.\n"
    )
    store = FakeStore([_article("h", "Harbour repairs", text)], fake_embeddings, per_chunk=1)
    # without the speaker prior, so that the search alone ranks the paragraph quoting her low
    retriever = HybridRetriever(store, retrieval_params(speaker_weight=0), index_dir=tmp_path / "bm25")
    answerer = Answerer(retriever, None, answer_params(top_k=1, min_relevance=0.0))
    question = "What did Mara Quint say about the harbour repairs?"
    retrieval = retriever.retrieve(question, 1)
    assert "Quint" not in retrieval.chunks[0].text
    assert [c.text for c in retrieval.quoting] == [next(c.text for c in store.chunks if "Quint" in c.text)]
    answer = answerer.ask(question)
    assert answer.answerable and "cannot wait any longer" in answer.answer
    assert [c.speaker for c in answer.citations] == ["Mara Quint"]


def test_a_first_name_that_differs_is_another_person(fake_embeddings, tmp_path):
    text = (
        "Liz Cheney lost the Wyoming primary on Tuesday.\n"
        "\u201cOur work is far from over,\u201d Liz Cheney told supporters after the Wyoming primary.\n"
    )
    store = FakeStore([_article("w", "Wyoming primary", text)], fake_embeddings, per_chunk=1)
    retriever = HybridRetriever(store, retrieval_params(), index_dir=tmp_path / "bm25")
    answerer = Answerer(retriever, ExplodingChatModel(responses=["x"]), answer_params(top_k=2, min_relevance=0.0))
    answer = answerer.ask("What did Dick Cheney say about the Wyoming primary?")
    assert not answer.answerable and answer.refusal_reason == "speaker_not_quoted"
    assert answer.answer.startswith("The articles don't quote Dick Cheney on this; Liz Cheney is quoted [1]")
    extractive = Answerer(retriever, None, answer_params(top_k=2, min_relevance=0.0))
    assert "far from over" in extractive.ask("What did Liz Cheney say about the Wyoming primary?").answer


def test_a_paragraph_quoting_the_person_is_ranked_even_when_other_articles_match_the_words_better(
    fake_embeddings, tmp_path
):
    # four articles name Mara Quint and repeat the topic's words without quoting her; one quotes her
    others = [
        _article(f"o{i}", "Harbour repairs", f"Mara Quint's harbour repairs plan {i} was approved for the harbour.")
        for i in range(4)
    ]
    quoted = _article("q", "Town council", "\u201cThe work is late,\u201d Mara Quint said of the town.")
    store = FakeStore(others + [quoted], fake_embeddings, per_chunk=1)
    question = "What did Mara Quint say about the harbour repairs?"
    # each ranker fetches 2: the dense and BM25 ones fill them with the other articles
    without = HybridRetriever(store, retrieval_params(speaker_weight=0, fetch_k=2), index_dir=tmp_path / "a")
    assert "q" not in {c.article_id for c in without.retrieve(question, 2).chunks}
    with_speaker = HybridRetriever(store, retrieval_params(fetch_k=2), index_dir=tmp_path / "b")
    assert "q" in {c.article_id for c in with_speaker.retrieve(question, 2).chunks}


def test_the_persons_words_on_the_topic_are_quoted_even_when_they_repeat_none_of_the_questions_words(
    fake_embeddings, tmp_path
):
    text = (
        "The harbour repairs began on Monday after a decade of delays, said Mara Quint, who chairs the group.\n"
        "\u201cWe waited ten years and nobody listened,\u201d she told the town council.\n"
    )
    store = FakeStore([_article("h", "Harbour repairs begin", text)], fake_embeddings, per_chunk=2)
    retriever = HybridRetriever(store, retrieval_params(), index_dir=tmp_path / "bm25")
    answer = Answerer(retriever, None, answer_params(top_k=2, min_relevance=0.0)).ask(
        "What did Mara Quint say about the harbour repairs?"
    )
    assert answer.answerable and "nobody listened" in answer.answer
    assert {c.speaker for c in answer.citations} == {"Mara Quint"}
