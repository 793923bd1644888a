"""News normalisation in ``rag.text``: figures and units, months, acronyms, joined spellings."""

from __future__ import annotations

from rag.text import expand_months, figure_values, figures, initials, joined_words


def test_figures_read_the_ways_news_writes_them():
    assert figure_values("$400 million") == figure_values("$400m") == figure_values("400,000,000") == {"400000000"}
    assert figure_values("2.5 million people") == {"2500000"}
    assert figure_values("$1.2bn") == figure_values("1.2 billion") == {"1200000000"}
    assert figure_values("5,000.00") == {"5000"}
    assert figure_values("after nine years") == {"9"}
    assert figures("one of the largest", spelled=False) == []  # a claim's "one" asserts no figure
    assert figure_values("the 100m sprint") == {"100", "100000000"}  # metres or millions


def test_months_acronyms_and_joined_spellings():
    assert expand_months("on Nov. 24 and Sept. 3") == "on November 24 and September 3"
    assert initials("United Kingdom") == initials("U.K.") == initials("UK") == "uk"
    assert initials("United States of America") == "usa"
    assert "blink182" in joined_words("Blink-182 played") and "blink182" in joined_words("Blink 182")


def test_without_figures_leaves_the_words_to_compare_apart():
    from rag.text import without_figures

    assert without_figures("It cost $400 million in 2022.").split() == ["It", "cost", "in", "."]
    assert without_figures("nine of them") == "nine of them"  # number words stay words


def test_a_place_meets_its_people_and_adjective():
    from rag.text import same_place_word

    for place, people in (("korea", "korean"), ("europe", "european"), ("china", "chinese"),
                          ("canada", "canadian"), ("israel", "israeli"), ("japan", "japanese")):
        assert same_place_word(place, people) and same_place_word(people, place)
    assert not same_place_word("ira", "iran") and not same_place_word("korea", "koreans")
