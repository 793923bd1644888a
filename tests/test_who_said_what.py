"""Who-said-what: the set builder on a tiny corpus, and the misattribution metric."""

from __future__ import annotations

import json
from pathlib import Path

from evals.metrics import aggregate, attribution_outcomes, score_question
from evals.questions import GoldQuote, Question, load_questions
from evals.who_said_what import build, main, short_answer, topic_of
from rag.quotes import find_quotes
from rag.types import Answer, Article, Citation

SEED = Path(__file__).parent.parent / "seeds" / "000_d8ed5a87b2fc358e.txt"


def _corpus() -> list[Article]:
    return [
        Article(id="a1", title="Bridge rebuild county budget", published="2022-06-01", text=(
            "The county will rebuild the Elm Street bridge this summer.\n"
            "“We will not stop until the bridge is rebuilt for every family,” said Jane Doe, the county engineer.\n"
            "Doe said the work would take four months.")),
        Article(id="a2", title="Wildfire evacuation orders lifted", published="2022-06-02", text=(
            "Fire crews contained the blaze on Tuesday.\n"
            "“The wind finally turned in our favor this morning,” fire chief Carlos Mendez said.\n"
            "Residents returned home by the evening.")),
        Article(id="a3", title="Library reopens downtown", published="2022-06-03", text=(
            "The downtown library reopened after a long renovation.\n"
            "“Readers have waited two long years for this day,” librarian Priya Nair told reporters.")),
    ]


def test_topic_and_short_answer():
    a = _corpus()[0]
    assert topic_of(a) == "bridge rebuild county budget"  # cased as the article writes the words
    assert topic_of(_corpus()[2]) == "library reopens downtown"
    assert topic_of(Article(id="x", title="Five things june 9", text="t")) == ""
    q = find_quotes(a.text)[0]
    answer = short_answer(a.text, q)
    assert 3 <= len(answer.split()) <= 5 and answer in a.text.replace(",", "")


def test_build_quoted_and_not_quoted_questions(tmp_path):
    arts = _corpus()
    everyone = build(arts, n_quoted=3, n_not_quoted=3, seed=1)
    assert {q["speaker"] for q in everyone} == {"Jane Doe", "Carlos Mendez", "Priya Nair"}
    qs = build(arts, n_quoted=2, n_not_quoted=3, seed=1)  # one article's topic left for a not-quoted question
    quoted = [q for q in qs if q["answerable"]]
    not_quoted = [q for q in qs if not q["answerable"]]
    assert len(quoted) == 2 and len(not_quoted) == 1
    by_id = {a.id: a for a in arts}
    for q in quoted:
        assert q["question"] == f"What did {q['speaker']} say about {topic_of(by_id[q['gold_article_ids'][0]])}?"
        for g in q["gold_quotes"]:
            text = by_id[g["article_id"]].text
            assert q["speaker"].split()[-1] in text[g["start"]:g["end"]] or "said" in text[g["start"]:g["end"]]
        assert all(len(a.split()) <= 5 for a in q["answers"])
    # nobody quoted on these topics is asked about a topic they are quoted on, nor named in its article
    assert not_quoted
    for q in not_quoted:
        (aid,) = q["topic_article_ids"]
        assert q["speaker"].split()[-1] not in by_id[aid].text
        assert q["answers"] == [] and q["gold_article_ids"] == [] and q["quoted"]
    # the command writes a set that loads as questions, with the speaker and gold quotes kept
    corpus = tmp_path / "articles.jsonl"
    corpus.write_text("".join(json.dumps(a.model_dump(include={"id", "title", "text", "published"})) + "\n" for a in arts))
    out = tmp_path / "wsw.jsonl"
    assert main(["--corpus", str(corpus), "--out", str(out), "--quoted", "2", "--not-quoted", "3", "--seed", "1"]) == 0
    loaded = load_questions(out)
    assert loaded[0].speaker and loaded[0].gold_quotes and isinstance(loaded[0].gold_quotes[0], GoldQuote)


def _seed_article() -> Article:
    return Article(id="seed", title="Obama, Putin", text=SEED.read_text())


def _answer(article: Article, phrase: str | None, answerable: bool = True) -> Answer:
    citations = []
    if phrase is not None:
        text = article.text
        start = text.index(phrase)
        # the whole sentence holding the phrase
        s = text.rfind("\n", 0, start) + 1
        e = text.find("\n", start)
        e = len(text) if e < 0 else e
        citations = [Citation(n=1, article_id=article.id, quote=text[s:e], start=s, end=e)]
    return Answer(question="q", answer="x [1]" if citations else "x", answerable=answerable, citations=citations)


def test_misattribution_outcomes():
    art = _seed_article()
    get = {art.id: art}.get
    rhodes = art.text.index("Deputy National Security Adviser Ben Rhodes")
    gold = [GoldQuote(article_id="seed", start=rhodes, end=art.text.index("He added"))]
    asks_rhodes = Question(id="1", question="What did Ben Rhodes say about Ukraine?", answerable=True,
                           speaker="Ben Rhodes", gold_quotes=gold)
    asks_kerry = Question(id="2", question="What did John Kerry say about the ceasefire?", answerable=False,
                          speaker="John Kerry")
    plain = Question(id="3", question="Where was the summit?", answerable=True)
    # Rhodes' sentence for Rhodes: right speaker, right quotation
    assert attribution_outcomes(asks_rhodes, _answer(art, "complete violation"), get) == (False, True)
    # Rhodes' "He added" sentence is his too, but not the gold span
    assert attribution_outcomes(asks_rhodes, _answer(art, "certainly come up"), get) == (False, False)
    # Meehan's words given for Rhodes, and a sentence that quotes nobody: misattributed
    assert attribution_outcomes(asks_rhodes, _answer(art, "Their conversations covered"), get) == (True, False)
    assert attribution_outcomes(asks_rhodes, _answer(art, "Moscow is contemplating"), get) == (True, False)
    # Rhodes' words given for Kerry: misattributed; refusing is not
    assert attribution_outcomes(asks_kerry, _answer(art, "complete violation"), get) == (True, None)
    assert attribution_outcomes(asks_kerry, _answer(art, None, answerable=False), get) == (None, None)
    # a refusal of an answerable who-said-what question is not answered from the right quotation
    assert attribution_outcomes(asks_rhodes, _answer(art, None, answerable=False), get) == (None, False)
    # an answer without a citation cannot show whose words it gives
    assert attribution_outcomes(asks_rhodes, _answer(art, None), get) == (True, False)
    # questions that ask no speaker are not scored
    assert attribution_outcomes(plain, _answer(art, "Moscow is contemplating"), get) == (None, None)


def test_misattribution_rate_aggregates_answered_who_said_what_questions():
    art = _seed_article()
    get = {art.id: art}.get
    rhodes = art.text.index("Deputy National Security Adviser Ben Rhodes")
    gold = [GoldQuote(article_id="seed", start=rhodes, end=rhodes + 10)]
    qs = [
        (Question(id="1", question="What did Rhodes say?", speaker="Ben Rhodes", gold_quotes=gold),
         _answer(art, "complete violation")),
        (Question(id="2", question="What did Kerry say?", answerable=False, speaker="John Kerry"),
         _answer(art, "complete violation")),
        (Question(id="3", question="What did Merkel say?", answerable=False, speaker="Angela Merkel"),
         _answer(art, None, answerable=False)),
        (Question(id="4", question="Where?", answers=["Beijing"]), _answer(art, "Beijing")),
    ]
    rows = []
    for q, a in qs:
        scored = score_question(q, a, 5, get)
        rows.append({"gold": {"answerable": q.answerable, "answers": q.answers}, "outcomes": scored["outcomes"],
                     "citations": scored["citations"], "answerable": a.answerable, "latency_s": 0.1})
    m = aggregate(rows, 5, {})
    assert m["n_who_said_what"] == 3
    assert m["misattribution_rate"] == 0.5  # of the two answered, Kerry's got Rhodes' words
    assert m["right_quotation_rate"] == 1.0
    none = aggregate(rows[3:], 5, {})
    assert none["misattribution_rate"] is None and none["right_quotation_rate"] is None
