"""Quotations and speakers (rag.quotes): attribution forms, name and pronoun resolution, spans."""

from __future__ import annotations

from rag.quotes import find_quotes, quotes_from_json, quotes_json, speaker_at, speaker_matches, speakers_field


def _said(text: str) -> list[tuple[str, str, str]]:
    return [(q.speaker, q.kind, text[q.start:q.end]) for q in find_quotes(text)]


def _speaker_of(text: str, quoted: str) -> str:
    """Who ``find_quotes`` makes speak the quotation ``quoted`` of ``text``."""
    return {text[q.start:q.end]: q.speaker for q in find_quotes(text)}[quoted]


def test_direct_quote_speaker_after_then_surname_resolves_to_full_name():
    text = (
        "Deputy National Security Adviser Ben Rhodes spoke in Beijing on Tuesday.\n"
        "“The provision of arms is a complete violation of the spirit of the ceasefire,” Rhodes said."
    )
    assert _said(text) == [
        ("Ben Rhodes", "direct", "“The provision of arms is a complete violation of the spirit of the ceasefire,” Rhodes said."),
    ]


def test_speaker_before_with_colon_and_verb_before_name_with_appositive():
    text = (
        "Jane Doe said: “We will not stop until the bridge is rebuilt.”\n"
        "“The money has already been spent on other roads,” said John Smith, the county treasurer."
    )
    got = _said(text)
    assert [(s, k) for s, k, _ in got] == [("Jane Doe", "direct"), ("John Smith", "direct")]
    assert got[1][2].startswith("“The money")


def test_according_to_and_reported_speech():
    text = (
        "The storm damaged 300 homes, according to Maria Lopez, the city's emergency manager.\n"
        "Mayor Tom Baker said the shelters would stay open through the weekend."
    )
    assert _said(text) == [
        ("Maria Lopez", "reported", text.split("\n")[0]),
        ("Tom Baker", "reported", text.split("\n")[1]),
    ]


def test_pronoun_resolves_to_the_last_speaker_and_multi_sentence_quote_is_one_span():
    text = (
        "Ben Rhodes told reporters the talks had failed.\n"
        "“We tried everything. Nothing worked. The other side walked away,” he added."
    )
    got = find_quotes(text)
    assert [q.speaker for q in got] == ["Ben Rhodes", "Ben Rhodes"]
    second = got[1]
    assert text[second.start:second.end] == text.split("\n")[1]  # all three sentences, one quote


def test_attribution_on_first_sentence_covers_the_quote_that_continues():
    text = "Sarah Connor said: “The machines are coming. We must prepare now. There is no fate.”"
    (q,) = find_quotes(text)
    assert q.speaker == "Sarah Connor" and q.start == 0 and q.end == len(text)


def test_open_quote_continues_in_next_paragraph():
    text = (
        "“We will rebuild the school this year,” said Principal Anna Berg. “The children deserve it.\n"
        "“And we have the money to do it right,” the letter went on."
    )
    got = find_quotes(text)
    assert {q.speaker for q in got} == {"Anna Berg"}
    assert speaker_at(got, text.index("And we have"), len(text)) == ["Anna Berg"]


def test_sentences_without_a_named_speaker_are_not_quotes():
    text = (
        "The White House said the meeting went well.\n"
        "Apple said it would release the phone in September.\n"
        "“This is a historic day for the city,” a spokesman said.\n"
        "The bridge opened in 1932 and carries 40,000 cars a day."
    )
    assert find_quotes(text) == []


def test_two_speakers_in_one_article_each_keeps_their_words():
    text = (
        "Kenya's President William Ruto said the election was fair.\n"
        "Opposition leader Raila Odinga rejected the result. “This count is a travesty,” Odinga said.\n"
        "Ruto said he would reach out to his rivals."
    )
    got = find_quotes(text)
    spoken = {text[q.start:q.end]: q.speaker for q in got}
    assert spoken["Kenya's President William Ruto said the election was fair."] == "William Ruto"
    assert spoken["“This count is a travesty,” Odinga said."] == "Raila Odinga"
    assert spoken["Ruto said he would reach out to his rivals."] == "William Ruto"
    assert "Opposition leader Raila Odinga rejected the result." not in spoken


def test_seed_article_quotes_rhodes_and_meehan():
    from pathlib import Path

    text = (Path(__file__).parent.parent / "seeds" / "000_d8ed5a87b2fc358e.txt").read_text()
    got = find_quotes(text)
    assert {q.speaker for q in got} == {"Ben Rhodes", "Bernadette Meehan"}
    start = text.index("complete violation")
    assert speaker_at(got, start, start + 10) == ["Ben Rhodes"]
    start = text.index("certainly come up")
    assert speaker_at(got, start, start + 10) == ["Ben Rhodes"]  # "He added ..."
    start = text.index("Moscow is contemplating")
    assert speaker_at(got, start, start + 10) == []


def test_speaker_matches_and_metadata_round_trip():
    assert speaker_matches("Ben Rhodes", "Rhodes") and speaker_matches("Ben Rhodes", "ben rhodes")
    assert not speaker_matches("Ben Rhodes", "John Kerry") and not speaker_matches("Ben Rhodes", "Tom Rhodes")
    assert speaker_matches("Alexander Hoehn-Saric", "saric") and speaker_matches("Ferdinand Marcos Jr.", "Marcos")
    got = find_quotes("“We tried everything we could,” said Ben Rhodes.")
    assert quotes_from_json(quotes_json(got)) == got
    assert speakers_field(got) == "Ben Rhodes; Rhodes"
    assert quotes_from_json("") == []


def test_bare_surname_is_the_articles_principal_bearer_of_it():
    text = (
        "Governor Maria Alvarez opened the bridge on Monday. Alvarez said it would carry 40,000 cars a day.\n"
        "Her brother, Tomas Alvarez, built it.\n"
        "“It is the finest bridge in the state,” Alvarez said."
    )
    assert _speaker_of(text, "“It is the finest bridge in the state,” Alvarez said.") == "Maria Alvarez"
    # equal mentions: the first one named
    text = "Maria Alvarez spoke. Tomas Alvarez spoke.\n“The bridge is finished,” Alvarez said."
    assert [q.speaker for q in find_quotes(text)] == ["Maria Alvarez"]
    # only the one already named can be meant
    text = "Tomas Alvarez built the bridge.\n“It took two years,” Alvarez said.\nMaria Alvarez and Maria Alvarez's staff came."
    assert [q.speaker for q in find_quotes(text)] == ["Tomas Alvarez"]


def test_words_that_are_not_names_are_never_speakers():
    # "U.S." is no honorific: the word after it is not a titled person
    text = "Pastor Tom Hale spoke.\n“Come and see us in the U.S. Please,” he said."
    assert [q.speaker for q in find_quotes(text)] == ["Tom Hale"]
    assert find_quotes("“The photographs are remarkable,” said National Geographic.") == []
    # a word capitalised only because it opens a sentence is not a first name
    text = (
        "Can Maria Ruiz win the district?\n"
        "The race is close, and Ruiz can still win it.\n"
        "“We are going to win this seat,” Ruiz said."
    )
    assert {q.speaker for q in find_quotes(text)} == {"Maria Ruiz"}


def test_verbs_with_a_sense_other_than_speech_need_speech_after_them():
    for text in (
        "Tom Hale went on a hitting streak in May.",
        "Tom Hale went on to win the race.",
        "Tom Hale added a goal in the second half.",
        "Tom Hale wrote the song in 1999.",
        "Tom Hale continued to search for survivors.",
    ):
        assert find_quotes(text) == [], text
    for text in (
        "Tom Hale went on to say the race was fair.",
        "Tom Hale added that the team was tired.",
        "“We are tired of the rain,” Tom Hale went on.",
        "Tom Hale continued: “We will search all night.”",
    ):
        assert [q.speaker for q in find_quotes(text)] == ["Tom Hale"], text


def test_pronoun_is_the_last_speaker_unless_a_later_sentence_opens_with_another_person():
    text = (
        "“The plan is a waste of money,” said Mark Bell, a council member.\n"
        "Council member Ana Ortiz said the plan would pay for new parks.\n"
        "She met Bell on Monday to discuss it. “We are close to a deal,” she said."
    )
    assert _speaker_of(text, "“We are close to a deal,” she said.") == "Ana Ortiz"
    text = (
        "“The plan is a waste of money,” said Mark Bell, a council member.\n"
        "Mayor Ana Ortiz, who backs the plan, defended it on Monday.\n"
        "“Parks are never a waste,” she said."
    )
    assert _speaker_of(text, "“Parks are never a waste,” she said.") == "Ana Ortiz"
    # a name inside a quotation is not who speaks it
    text = "Mayor Ana Ortiz spoke on Monday.\n“I thank Mark Bell for his work,” she said. “He built the parks.”"
    assert {q.speaker for q in find_quotes(text)} == {"Ana Ortiz"}
