"""News normalisation for grounding: figures and units, months, hyphens and spacing, acronyms, name
variants from the article, and the subject of a claim looked for in the cited article."""

from __future__ import annotations

from fake_store import chunk_article, seed_article
from rag.context import make_passages
from rag.grounding import name_phrases, support, unsupported_names, verify
from rag.settings import Settings

ARTICLE = seed_article()
CHUNKS = chunk_article(ARTICLE)
RHODES = next(c for c in CHUNKS if "complete violation" in c.text)
THRESHOLD = Settings().support_threshold


def test_name_phrases_leave_out_the_first_word_alone_and_edge_stopwords():
    assert name_phrases("The United Kingdom met Ben Rhodes.") == ["United Kingdom", "Ben Rhodes"]
    assert name_phrases("Officials met in Beijing.") == ["Beijing"]
    assert name_phrases("Ben Rhodes spoke.") == ["Ben Rhodes"]


def test_a_claim_matches_its_passage_across_spellings():
    assert unsupported_names("The United Kingdom will pay $400 million.", "The U.K. will pay $400m.") == set()
    assert unsupported_names("The UK will pay.", "The United Kingdom will pay.") == set()
    assert unsupported_names("Blink 182 reunited.", "Blink-182 reunited.") == set()
    assert unsupported_names("It took 9 years.", "It took nine years.") == set()
    assert unsupported_names("It cost $500 million.", "It cost $400m.") == {"500000000"}
    assert unsupported_names("It is France that will pay.", "The United Kingdom will pay.") == {"france"}


def test_a_full_name_counts_where_the_passage_has_the_surname_and_the_article_the_full_name():
    passage = "Rhodes said the deal was off."
    article = "Deputy adviser Ben Rhodes spoke in Beijing.\nRhodes said the deal was off."
    assert unsupported_names("Ben Rhodes said the deal was off.", passage, "", article) == set()
    # a first name the article never gives comes from memory
    assert unsupported_names("Tom Rhodes said the deal was off.", passage, "", article) == {"tom rhodes"}


def test_the_subject_of_a_claim_must_be_in_the_cited_article_even_when_the_question_names_it():
    question = "What did John Kerry say about the ceasefire?"
    ps = make_passages(question, [RHODES], max_chars=0)
    v = verify("John Kerry said the provision of arms was a complete violation of the spirit of the "
               "ceasefire [1].", ps, THRESHOLD, question=question)
    assert v.text == "" and v.reasons == ["names_not_in_passage"]
    # the person asked about is in the article: the same claim about him stands
    question = "What did Rhodes say about the ceasefire?"
    ok = verify("Rhodes said the provision of arms was a complete violation of the spirit of the "
                "ceasefire [1].", make_passages(question, [RHODES], max_chars=0), THRESHOLD, question=question)
    assert ok.citations and "complete violation" in ok.citations[0].quote


def test_a_subject_found_elsewhere_in_the_retrieved_article_counts():
    other = next(c for c in CHUNKS if "Meehan" in c.text)
    question = "What did Rhodes say about the ceasefire, according to Meehan?"
    ps = make_passages(question, [RHODES], max_chars=0)
    claim = "Rhodes said the provision of arms was a complete violation of the ceasefire, Meehan noted [1]."
    assert verify(claim, ps, THRESHOLD, question=question).text == ""
    assert verify(claim, ps, THRESHOLD, question=question, retrieved=[RHODES, other]).citations


def test_support_compares_figures_months_and_joined_names_as_news_writes_them():
    from rag.grounding import support

    assert support("It cost $400m.", "The deal cost $400 million.") == 1.0
    assert support("It cost $500m.", "The deal cost $400 million.") == 0.5
    assert support("Blink182 reunited.", "Blink-182 reunited.") == 1.0
    assert support("The deadline is Nov. 24.", "The deadline is November 24.") == 1.0


def test_a_place_is_found_where_the_passage_names_its_people_and_acronyms_only_meet_their_expansion():
    assert unsupported_names("It was North Korea.", "Hackers linked to North Korean groups stole it.") == set()
    # initials of two unrelated names are not an acronym of the claim's name
    assert unsupported_names("It is the United Kingdom.", "Ukraine Kiev officials said so.") == {"united kingdom"}


def test_a_country_is_found_under_its_other_names():
    passage_text = "Britain will host the climate summit in Glasgow next year, officials said."
    assert unsupported_names("The United Kingdom will host it.", passage_text) == set()
    assert unsupported_names("The U.K. will host it.", passage_text) == set()
    assert unsupported_names("The Netherlands will host it.", "Holland hosts it.") == set()
    assert unsupported_names("It is France that will host it.", passage_text) == {"france"}
    # a bare answer naming the country its own way is supported by the passage's name for it
    assert support("The United Kingdom", passage_text) == 1.0
    assert support("Ireland", passage_text) == 0.0


def test_an_acronym_is_not_the_same_word_in_lower_case():
    # "US" is a country, "us" a pronoun: a passage saying "told us" does not name the United States
    assert unsupported_names("The US will host it.", "The organisers told us it would be hosted.") == {"us"}
    assert unsupported_names("NATO will meet.", "Nato allies will meet in Madrid.") == set()


def test_the_subject_is_looked_for_in_the_whole_article_not_only_the_retrieved_paragraph(fake_embeddings, tmp_path):
    from conftest import answer_params, retrieval_params
    from fake_store import FakeStore
    from langchain_core.language_models import FakeListChatModel

    from rag.answerer import Answerer
    from rag.retrieval import HybridRetriever
    from rag.types import Article

    text = (
        "The U.S. network faced a lawsuit from a voting machine maker over its election coverage.\n"
        "On Tuesday the network agreed to pay 787 million dollars to settle the defamation case.\n"
    )
    article = Article(id="f", title="Network settles", text=text, published="2023-04-19")
    store = FakeStore([article], fake_embeddings, per_chunk=1)
    retriever = HybridRetriever(store, retrieval_params(), index_dir=tmp_path / "bm25")
    model = FakeListChatModel(responses=["The network agreed to pay 787 million dollars in the US [1]."])
    answerer = Answerer(retriever, model, answer_params(top_k=1, min_relevance=0.0))
    question = "How much did the network agree to pay to settle the defamation case in the US?"
    retrieval = retriever.retrieve(question, 1)
    assert "U.S." not in retrieval.chunks[0].text and "787" in retrieval.chunks[0].text
    answer = answerer.ask(question)
    assert answer.answerable and "787 million" in answer.answer


def test_a_year_the_question_names_is_found_in_the_articles_date():
    from rag.grounding import article_texts
    from rag.types import Chunk

    text = "Swedish singer Loreen won the song contest with her ballad on Saturday."
    chunk = Chunk(id="c", article_id="e", text=text, start=0, end=len(text), position=0,
                  title="Loreen wins the song contest", published="2023-05-14")
    known = article_texts([chunk])["e"]
    question = "Which country won the song contest in 2023?"
    claim = "Sweden won the song contest in 2023."
    assert unsupported_names(claim, f"{chunk.title}\n{text}", question, known) == set()
    # the year is the subject's, not the answer: an answer's own figure still has to be in the text
    assert unsupported_names("Sweden won it in 2022.", f"{chunk.title}\n{text}", question, known) == {"2022"}
    older = chunk.model_copy(update={"published": "2019-05-18"})
    assert unsupported_names(claim, f"{chunk.title}\n{text}", question, article_texts([older])["e"]) == {"2023"}


def _passages_of(title: str, text: str, published: str, question: str):
    from rag.types import Chunk

    chunk = Chunk(id="c", article_id="a", text=text, start=0, end=len(text), position=0, title=title,
                  published=published)
    return make_passages(question, [chunk], max_chars=0)


def test_a_date_copied_from_the_passage_header_is_not_a_claim():
    question = "Which movie is at the top of the box office this week?"
    passages = _passages_of("Box office weekend", "Thor: Love and Thunder took the top spot at the box office.",
                            "2022-07-10", question)
    kept = verify("Thor: Love and Thunder (2022-07-10) is at the top of the box office [1].", passages,
                  THRESHOLD, question)
    assert kept.citations and "2022-07-10" not in kept.text and kept.text.startswith("Thor: Love and Thunder is")
    # a date the claim asserts that the article does not hold is still dropped
    assert not verify("Thor: Love and Thunder opened on 2021-05-01 [1].", passages, THRESHOLD, question).citations


def test_a_short_claim_that_repeats_the_question_is_about_it_where_the_passage_is():
    question = "Which major holiday did India celebrate this week?"
    passages = _passages_of("India at 75", "India celebrated its Independence Day with parades across the country.",
                            "2022-08-15", question)
    kept = verify("India celebrated Independence Day this week [1].", passages, THRESHOLD, question)
    assert kept.citations and "Independence Day" in kept.text
    # a bare figure from a passage about something else is still dropped
    other = _passages_of("Weather", "Temperatures reached 41 degrees on Monday.", "2022-08-15", question)
    assert not verify("41 [1].", other, THRESHOLD, question).citations


def test_mentions_of_the_passages_are_not_part_of_the_answer():
    question = "How many hot dogs did the winner eat?"
    passages = _passages_of("Hot dog contest", "The champion ate 63 hot dogs and buns in 10 minutes.",
                            "2022-07-04", question)
    kept = verify("63 hot dogs and buns in 10 minutes from passage [1].", passages, THRESHOLD, question)
    assert kept.text == "63 hot dogs and buns in 10 minutes [1]."
    kept = verify("According to the passage, the champion ate 63 hot dogs [1].", passages, THRESHOLD, question)
    assert kept.text == "The champion ate 63 hot dogs [1]."
    # "passage" as a word of the news is left alone
    assert "passage of" in verify("The passage of the bill took 10 minutes [1].", _passages_of(
        "Bill", "The passage of the bill took 10 minutes on Monday.", "2022-07-04", "How long did it take?"),
        THRESHOLD, "How long did it take?").text
