"""Build a who-said-what question set from a corpus: "What did <person> say about <topic>?".

Two kinds of question, in the format of rtqa-dev's questions.jsonl plus a ``speaker`` field:

- *answerable*: a person quoted in an article (``rag.quotes``), asked about the article's topic
  (its title's key words). ``gold_quotes`` holds the offsets of every sentence the article
  quotes them in; ``answers`` holds a few words from each (short: the set carries no article text
  beyond them).
- *not quoted*: a person quoted elsewhere in the corpus, asked about the topic of an article that
  neither mentions them nor shares a key word with any article that quotes them. The right answer
  says the articles don't quote them on it; ``quoted`` names who the topic's article does quote.

Usage::

    python -m evals.who_said_what --corpus ARTICLES.jsonl --out evals/sets/who_said_what.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.quotes import find_quotes
from rag.text import STOPWORDS, content_words, words
from rag.types import Article, Quote

# Titles of round-ups ("Five things June 9", "Ten things you need to know today") cover many
# topics at once: a question "about" them has no single topic.
_ROUNDUP = re.compile(r"\b(things|need to know|quotes? of the|briefing|live updates?|newsletter|"
                      r"what we know|week in|todays? (?:news|quote)|roundup|news around|what matters)\b",
                      re.IGNORECASE)
# Slug debris at the end of titles: edition codes, dates, numbers.
_SLUG_NOISE = frozenset("cnn intl hnk spt ml scli gbr rpt trnd wellness index html jan feb mar apr may "
                        "jun jul aug sep sept oct nov dec january february march april june july august "
                        "september october november december scn cmd latam feseries dst explainer analysis live "
                        "updates".split())
# First words of place names, which look like a first name followed by a surname.
_PLACE_STARTS = frozenset("south north east west new san santa los las saint st. fort port mount lake "
                          "tempore".split())
_TOPIC_WORDS = 6
_ANSWER_WORDS = 5


@dataclass(frozen=True)
class _Quoted:
    """One article's quotations, grouped by speaker."""

    article: Article
    by_speaker: dict[str, list[Quote]]


def topic_of(article: Article, drop: Iterable[str] = ()) -> str:
    """The article's topic as a short phrase from its title, cased as the article writes its words.

    Args:
        article: the article (its title is often derived from a URL slug: lower case).
        drop: words to leave out (the speaker's names).

    Returns:
        Up to six words, or "" when the title is a round-up or has too few key words.
    """
    title = article.title or ""
    if _ROUNDUP.search(title):
        return ""
    dropped = {w.lower() for w in drop}
    kept = [w for w in re.findall(r"[\w'’\-]+", title)
            if w.lower() not in dropped and w.lower() not in _SLUG_NOISE and not w.isdigit()]
    while kept and kept[-1].lower() in STOPWORDS:
        kept.pop()
    while kept and kept[0].lower() in STOPWORDS:
        kept.pop(0)
    if len(kept) > _TOPIC_WORDS or len(content_words(" ".join(kept))) < 2:
        return ""
    return " ".join(_cased(w, article.text) for w in kept)


def _cased(word: str, text: str) -> str:
    """``word`` as the article mostly writes it ("wimbledon" -> "Wimbledon", "us" stays "us")."""
    forms = Counter(m.group(0) for m in re.finditer(rf"\b{re.escape(word)}\b", text, re.IGNORECASE))
    if not forms:
        return word.lower() if word[:1].isupper() and word[1:].islower() else word
    return forms.most_common(1)[0][0]


_SAID = re.compile(r"\b(?:said|says|told|added|wrote|according to)\b(?:\s+that)?")


def short_answer(text: str, quote: Quote) -> str:
    """A few words from the middle of what is said: inside the quotation marks, or after the speech
    verb of reported speech ("Rhodes said the move was ..." -> "the move was ...")."""
    sentence = text[quote.start:quote.end]
    inner = re.findall(r"[“\"]([^”\"]{10,})[”\"]", sentence)
    if inner:
        source = max(inner, key=len)
    else:
        m = _SAID.search(sentence)
        after = sentence[m.end():] if m else ""
        source = after if len(after.split()) >= _ANSWER_WORDS else sentence
    toks = re.findall(r"[\w'’\-$%.,]+", source)
    toks = [t.strip(".,") for t in toks if t.strip(".,")]
    if len(toks) <= _ANSWER_WORDS:
        return " ".join(toks)
    mid = (len(toks) - _ANSWER_WORDS) // 2
    return " ".join(toks[mid:mid + _ANSWER_WORDS])


def _draw(seed: int, key: str) -> str:
    """A reproducible pseudo-random rank for ``key`` (the same for the same seed and key)."""
    return hashlib.sha256(f"{seed}\x1f{key}".encode()).hexdigest()


def _quoted(articles: Sequence[Article]) -> list[_Quoted]:
    out = []
    for a in articles:
        by: dict[str, list[Quote]] = defaultdict(list)
        for q in find_quotes(a.text):
            by[q.speaker].append(q)
        out.append(_Quoted(a, dict(by)))
    return out


def _case_counts(articles: Sequence[Article]) -> tuple[Counter, Counter]:
    """How often each word is written capitalised and in lower case across the corpus."""
    upper: Counter = Counter()
    lower: Counter = Counter()
    for a in articles:
        for w in re.findall(r"[A-Za-z][\w'’\-]*", a.text):
            (upper if w[0].isupper() else lower)[w.lower()] += 1
    return upper, lower


def _person_checker(articles: Sequence[Article]):
    """A test that a speaker's name looks like a person's: two or three capitalised words whose
    first one the corpus writes capitalised at least as often as in lower case (so "Giving Paula",
    "Business Insider" are left out while "Mark Warner" stays)."""
    upper, lower = _case_counts(articles)

    def good(name: str) -> bool:
        parts = name.split()
        if not 2 <= len(parts) <= 3 or not all(p[:1].isupper() and not p.endswith(("'", "’")) for p in parts):
            return False
        first = parts[0].lower()
        return first not in _PLACE_STARTS and upper[first] >= lower[first]

    return good


def build(
    articles: Sequence[Article], n_quoted: int = 70, n_not_quoted: int = 35, seed: int = 11
) -> list[dict[str, Any]]:
    """The who-said-what questions of a corpus.

    Args:
        articles: the corpus (normalised as ingest stores it, so offsets match the store).
        n_quoted: answerable questions wanted (at most one per article and per person).
        n_not_quoted: questions about a person not quoted on the topic.
        seed: the sampling seed (the set is reproducible).

    Returns:
        Question objects (answerable ones first), each with ``speaker``; answerable ones with
        ``gold_quotes`` (``[{"article_id", "start", "end"}]``), others with ``quoted``.
    """
    quoted = _quoted(articles)
    # where each person is quoted, and the key words of those articles' topics
    quoted_in: dict[str, set[str]] = defaultdict(set)
    for qa in quoted:
        for name in qa.by_speaker:
            quoted_in[name].add(qa.article.id)
    title_words = {qa.article.id: set(content_words(qa.article.title)) for qa in quoted}

    _good_speaker = _person_checker(articles)
    # a stable order per article (not a shuffle of the list), so a change to one article's
    # quotations changes only the questions about it
    candidates = sorted(
        (qa for qa in quoted if any(_good_speaker(s) for s in qa.by_speaker)),
        key=lambda qa: _draw(seed, qa.article.id),
    )
    questions: list[dict[str, Any]] = []
    used_people: set[str] = set()
    used_articles: set[str] = set()
    for qa in candidates:
        if sum(1 for q in questions if q["answerable"]) >= n_quoted:
            break
        people = sorted(
            (s for s in qa.by_speaker if _good_speaker(s) and s not in used_people),
            key=lambda s: (-sum(q.kind == "direct" for q in qa.by_speaker[s]), -len(qa.by_speaker[s]), s),
        )
        if not people:
            continue
        speaker = people[0]
        if set(words(speaker)) & set(words(qa.article.title)):
            continue  # the title is about the speaker ("X dies after ..."): no topic left to ask about
        topic = topic_of(qa.article)
        if not topic:
            continue
        spoken = qa.by_speaker[speaker]
        shorts = (short_answer(qa.article.text, q) for q in spoken[:3])
        answers = list(dict.fromkeys(a for a in shorts if len(a.split()) >= 3))
        if not answers:
            continue
        used_people.add(speaker)
        used_articles.add(qa.article.id)
        questions.append({
            "id": f"wsw-q{len(questions) + 1:03d}",
            "question": f"What did {speaker} say about {topic}?",
            "answers": answers,
            "choices": [],
            "gold_article_ids": [qa.article.id],
            "answerable": True,
            "asked_on": qa.article.published,
            "speaker": speaker,
            "gold_quotes": [{"article_id": qa.article.id, "start": q.start, "end": q.end} for q in spoken],
        })

    people_pool = sorted((p for p in quoted_in if _good_speaker(p)), key=lambda p: _draw(seed, p))
    topics = [qa for qa in candidates if qa.article.id not in used_articles]
    n_not = 0
    for qa in topics:
        if n_not >= n_not_quoted:
            break
        named = [s for s in qa.by_speaker if _good_speaker(s)]
        if not named or set(words(" ".join(qa.by_speaker))) & set(words(qa.article.title)):
            continue  # the title is about someone quoted in it: no topic left to ask about
        topic = topic_of(qa.article)
        if not topic:
            continue
        key = set(content_words(topic))
        text_words = set(words(qa.article.text))
        for person in people_pool:
            # never mentioned in the topic's article; quoted only in articles on other topics
            if set(words(person)) & text_words:
                continue
            if any(title_words[aid] & key for aid in quoted_in[person]):
                continue
            people_pool.remove(person)
            n_not += 1
            questions.append({
                "id": f"wsw-n{n_not:03d}",
                "question": f"What did {person} say about {topic}?",
                "answers": [],
                "choices": [],
                "gold_article_ids": [],
                "answerable": False,
                "asked_on": qa.article.published,
                "speaker": person,
                "quoted": sorted(named, key=lambda s: -len(qa.by_speaker[s]))[:5],
                "topic_article_ids": [qa.article.id],
            })
            break
    return questions


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the set from ``--corpus`` into ``--out``."""
    from ingest.loaders import load_paths

    parser = argparse.ArgumentParser(prog="python -m evals.who_said_what", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True, type=Path,
                        help="articles (.jsonl or a folder ingest accepts)")
    parser.add_argument("--out", required=True, type=Path, help="question set to write (.jsonl)")
    parser.add_argument("--quoted", type=int, default=70, help="answerable questions (default 70)")
    parser.add_argument("--not-quoted", type=int, default=35, help="not-quoted questions (default 35)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    articles = [a for a in load_paths([args.corpus]) if isinstance(a, Article)]
    questions = build(articles, args.quoted, args.not_quoted, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for q in questions:
            fh.write(json.dumps(q, ensure_ascii=False) + "\n")
    n_yes = sum(q["answerable"] for q in questions)
    print(f"{len(questions)} questions ({n_yes} quoted, {len(questions) - n_yes} not quoted) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
