"""Stage 5, grounding: every claim of an answer kept only with a verbatim quote that supports it.

A claim (a sentence of the answer) keeps a citation only when the quoted sentence(s) support it:
enough of the claim's content words occur in the quote (``support`` >= threshold), the quote's
paragraph (or its title) holds the names and figures the claim answers with, the cited article
names what the claim is about, both after news normalisation (``unsupported_names``), and a bare
answer's passage is about the question. What fails is dropped, and the rule that dropped it is
kept (``Verified.reasons``); markers are renumbered 1..m.

Sentences that instruct the assistant or the reader (``rag.injection``) never support a claim: a
claim they alone support is dropped, and reported as such (``Verified.instructed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.context import Passage, shown_title
from rag.injection import is_instruction
from rag.quotes import quotes_of_chunk, speaker_at, speaker_matches
from rag.text import (
    MARKER,
    STOPWORDS,
    content_words,
    expand_months,
    figure_values,
    figures,
    initials,
    joined_words,
    markers,
    parse_date,
    PLACE_NAMES,
    place_names,
    same_place_word,
    sentence_spans,
    strip_markers,
    without_figures,
    words,
)
from rag.types import Chunk, Citation


def support(claim: str, quote: str) -> float:
    """Share of the claim's distinct content words and figures that occur in the quote (0..1).

    Compared after news normalisation (``rag.text``): a figure counts when the quote writes the
    same value ("$400m" / "$400 million"), a month when it abbreviates it, a name when it joins or
    hyphenates it ("Blink182" / "Blink-182"). A claim with neither (a bare "No") is measured on
    its plain words instead.

    Args:
        claim: an answer sentence, markers removed.
        quote: candidate supporting text.

    Returns:
        The support score; 0 when the claim has no words at all.
    """
    claim, quote = expand_months(claim), expand_months(quote)
    figs = set(figures(claim, spelled=False))
    c = set(content_words(without_figures(claim)))
    if c or figs:
        readings = figure_values(quote)
        have = set(content_words(quote)) | joined_words(quote)
        if c & _ALL_PLACE_WORDS:  # only a claim naming a country can gain by its other names
            have |= _place_words(quote)
        return (len(c & have) + sum(1 for f in figs if f & readings)) / (len(c) + len(figs))
    # a bare short answer ("$5", "No"): its plain words must all be in the quote
    bare = set(re.findall(r"\w+", claim.lower()))
    if not bare:
        return 0.0
    return len(bare & set(re.findall(r"\w+", quote.lower()))) / len(bare)


def _place_words(text: str) -> set[str]:
    """The words of every name of each country ``text`` names ("Britain" gives "united", "kingdom")."""
    out: set[str] = set()
    for group in PLACE_NAMES:
        if any(_written(name, text, spelled=False) for name in group):
            out.update(w for name in group if not _is_acronym(name) for w in content_words(name))
    return out


_CAPITALISED = re.compile(r"(?<![\w’'-])[A-Z][\w’'&.-]*")


def name_phrases(text: str) -> list[str]:
    """The names of ``text``: runs of capitalised words ("Ben Rhodes", "United Kingdom", "U.K.",
    "Blink-182"), stopwords at their edges left out ("The United Kingdom" -> "United Kingdom").
    The text's first word alone is not taken as a name (every sentence starts with a capital), but
    it is when a name goes on after it ("Ben Rhodes said")."""
    tokens = list(_CAPITALISED.finditer(text))
    runs: list[list[re.Match]] = []
    for m in tokens:
        if runs and not text[runs[-1][-1].end() : m.start()].strip():
            runs[-1].append(m)
        else:
            runs.append([m])
    out = []
    for run in runs:
        names = [m.group().rstrip(".") if not re.search(r"\w\.\w", m.group()) else m.group() for m in run]
        while names and names[0].lower() in STOPWORDS and not _is_acronym(names[0]):  # "US" stays
            names = names[1:]
        while names and names[-1].lower() in STOPWORDS and not _is_acronym(names[-1]):
            names = names[:-1]
        first = run[0].start() == len(text) - len(text.lstrip(" \"'“‘*"))
        if not names or (first and len(run) == 1):
            continue
        out.append(" ".join(names))
    return out


def _is_acronym(token: str) -> bool:
    """"UK", "U.K.", "NATO": capitals (and dots) only, two letters or more."""
    letters = token.replace(".", "")
    return len(letters) >= 2 and letters.isalpha() and letters.isupper()


_ALL_PLACE_WORDS = frozenset(
    w for group in PLACE_NAMES for name in group if not _is_acronym(name) for w in content_words(name)
)
"""Every word of a spelled-out country name in ``PLACE_NAMES``."""


def _acronyms(text: str) -> set[str]:
    """The acronyms ``text`` writes ("U.K.", "UK" give "uk")."""
    return {initials(t) for t in re.findall(r"[A-Z][A-Z.]+", text) if _is_acronym(t)}


def _expansions(text: str) -> set[str]:
    """The acronyms that the names of ``text`` spell out ("United Kingdom" gives "uk")."""
    return {initials(p) for p in name_phrases(text) if len(p.split()) > 1}


def _name_found(phrase: str, text: str) -> bool:
    """Whether ``text`` writes the name ``phrase``: each of its words there (hyphens, spacing and
    joined spellings alike, a place's adjective or people for the place: "North Korean" for
    "North Korea"), or an acronym written for a name spelled out, or the reverse
    ("U.K." / "United Kingdom"), or another name of the same country ("Britain")."""
    return _written(phrase, text) or any(_written(other, text, spelled=False) for other in place_names(phrase))


def _written(phrase: str, text: str, spelled: bool = True) -> bool:
    """``_name_found`` without other names of a place; ``spelled`` False: an acronym must be
    written as one (its spelled-out form is another entry of the place's names)."""
    want = [w for w in words(phrase) if w not in STOPWORDS and len(w) > 1]
    have_stems = set(content_words(text))
    have = set(words(text))
    if want and all(
        content_words(w) and content_words(w)[0] in have_stems or any(same_place_word(w, v) for v in have)
        for w in want
    ):
        return True
    if _is_acronym(phrase):  # "NATO" / "Nato", never the word "us" for "US"
        letters = phrase.replace(".", "")
        capitalised = re.search(rf"(?<![\w.]){letters[0]}(?i:{letters[1:]})(?!\w)", text)
        return bool(capitalised) or initials(phrase) in _acronyms(text) | (_expansions(text) if spelled else set())
    if "".join(words(phrase)) in joined_words(text):
        return True
    return len(phrase.split()) > 1 and initials(phrase) in _acronyms(text)


def unsupported_names(claim: str, evidence: str, question: str = "", article: str = "") -> set[str]:
    """The names and figures of ``claim`` that the cited text does not hold.

    Word overlap alone lets "Kobe Bryant was found liable in a sexual battery case" lean on a
    quote about someone else's sexual abuse case; the people, places and figures a claim asserts
    must be in the text cited, after news normalisation (``rag.text``: figures and units, month
    abbreviations, hyphens and spacing, acronyms):

    - a name or figure the question does not use bears the answer: it must be in ``evidence``
      (the cited passage and its title); a full name whose surname is there counts when the
      article itself gives the full name ("Ben Rhodes" ... later "Rhodes");
    - a name or figure the question uses is what the claim is about: it must be in the cited
      ``article`` (what is known of it), so an answer about a person the article never mentions
      is not shown ("What did John Kerry say?" answered with another man's words).

    Args:
        claim: an answer sentence, markers removed.
        evidence: the cited passage's text with its title.
        question: the question answered.
        article: the known text of the cited article (default: ``evidence``).

    Returns:
        The missing names (lower-cased words) and figures (canonical digits).
    """
    claim, evidence, question = expand_months(claim), expand_months(evidence), expand_months(question)
    article = expand_months(article) if article else evidence
    missing = set()
    asked = set(content_words(question))
    for phrase in name_phrases(claim):
        if asked and set(content_words(phrase)) <= asked:
            found = _name_found(phrase, article)
        else:
            surname = phrase.split()[-1] if len(phrase.split()) > 1 else ""
            found = _name_found(phrase, evidence) or bool(
                surname and _name_found(surname, evidence) and _name_found(phrase, article)
            )
        if not found:
            missing.add(" ".join(words(phrase)))
    question_figures = figure_values(question)
    for figure in figures(claim, spelled=False):
        where = article if figure & question_figures else evidence
        if not figure & figure_values(where):
            missing.add(min(figure))
    return missing


def instruction_sentences(chunks: list[Chunk]) -> list[str]:
    """The sentences (and titles) of ``chunks`` that are instructions, each once, in order.

    Args:
        chunks: retrieved chunks.

    Returns:
        The instruction sentences (see ``rag.injection``).
    """
    out: dict[str, None] = {}
    for c in chunks:
        if c.title and is_instruction(c.title):
            out[c.title] = None
        for s, e in sentence_spans(c.text):
            if is_instruction(c.text[s:e]):
                out[c.text[s:e]] = None
    return list(out)



SHORT_CLAIM_WORDS = 4

_LEADING_MARKERS = re.compile(rf"^(?:\s*{MARKER.pattern})+", MARKER.flags)


def claims(answer: str) -> list[tuple[str, list[int]]]:
    """Split an answer into claims: ``(sentence without markers, cited numbers)``.

    Markers written after the full stop ("... ceasefire. [1]") belong to the sentence before.
    """
    sentences = [answer[s:e] for s, e in sentence_spans(answer)]
    merged: list[str] = []
    for sentence in sentences:
        lead = _LEADING_MARKERS.match(sentence)
        if lead and merged:
            merged[-1] += " " + lead.group().strip()
            sentence = sentence[lead.end():].strip()
        if strip_markers(sentence):
            merged.append(sentence)
        elif merged:
            merged[-1] += " " + sentence
    return [(strip_markers(s), markers(s)) for s in merged]


@dataclass
class Verified:
    """The result of verifying an answer against its passages."""

    text: str
    citations: list[Citation]
    dropped: list[str] = field(default_factory=list)
    instructed: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    """For each claim of ``dropped``, in order, the rule that dropped it (``DROP_RULES``)."""


def _dateline(chunk: Chunk) -> str:
    """The article's publication date written out ("Published 14 May 2023"), so the year or month
    a question names is found in an article that never writes it in its text."""
    try:
        day = parse_date(chunk.published)
    except ValueError:
        day = None
    return f"Published {day.day} {day.strftime('%B')} {day.year}" if day else ""


def article_texts(chunks: list[Chunk]) -> dict[str, str]:
    """What is known of each article from ``chunks``: its title, its date and the text of its
    chunks, in order.

    Args:
        chunks: retrieved chunks (any order, repeats allowed).

    Returns:
        ``{article_id: text}``.
    """
    by_article: dict[str, dict[int, Chunk]] = {}
    for c in chunks:
        by_article.setdefault(c.article_id, {})[c.start] = c
    out = {}
    for a, cs in by_article.items():
        first = next(iter(cs.values()))
        out[a] = "\n".join([shown_title(first), _dateline(first)] + [cs[k].text for k in sorted(cs)])
    return out


def about(topic: str, text: str, threshold: float) -> bool:
    """Whether ``text`` is about ``topic`` (a question): it holds at least ``threshold`` of the
    question's content words. The words a claim repeats from the question count too: "India
    celebrated Independence Day this week" is about "Which major holiday did India celebrate this
    week?" where the passage names India and its celebrations, holiday or not."""
    asked = set(content_words(topic))
    return not asked or len(asked & set(content_words(text))) / len(asked) >= threshold


_CITED_MENTION = re.compile(
    r",?\s*\b(?:from|in|according to|per|see)\s+(?:the\s+)?passages?(?=\s*\[\d)", re.IGNORECASE
)
_LEADING_MENTION = re.compile(
    r"(^|[.!?]\s+)(?:according to|from|in) the (?:passages?|context|articles?),\s*(\w)", re.IGNORECASE
)


def without_prompt_format(answer: str, passages: list[Passage]) -> str:
    """``answer`` without what it copied of the prompt's format rather than of the articles: the
    passage headers' dates ("Thor: Love and Thunder (2022-07-10) is ...") and mentions of the
    passages themselves ("... from passage [1]", "According to the passage, ..."); the [n]
    markers stay."""
    for date in {p.chunk.published for p in passages if p.chunk.published}:
        answer = re.sub(rf"\s*\(\s*{re.escape(date)}\s*\)", "", answer)
    answer = _CITED_MENTION.sub("", answer)
    return _LEADING_MENTION.sub(lambda m: m.group(1) + m.group(2).upper(), answer)


def best_quote(
    claim: str, passage: Passage, question: str, topic: str, threshold: float, article: str = ""
) -> tuple[float, tuple[int, int] | None]:
    """The passage's best-supporting sentence (or adjacent pair) for ``claim`` and its support.

    The passage's title counts with the sentence: the model saw it in the passage header. A
    passage whose paragraph (chunk) lacks a name or figure of the claim, or whose ``article`` (what
    is known of it) lacks the claim's subject (see ``unsupported_names``) supports nothing,
    and with a ``topic`` (the question, for a bare answer) neither does a passage that holds less
    than ``threshold`` of the topic's content words (``about``). A sentence (or title) that instructs
    the assistant or the reader supports nothing.

    A pair only wins when it supports the claim strictly better than its best single sentence.
    """
    best, span = 0.0, None
    title = shown_title(passage.chunk)
    shown = f"{title}\n{passage.text}"
    if unsupported_names(claim, f"{title}\n{passage.chunk.text}", question, article):
        return best, span
    if topic and not about(topic, shown, threshold):
        return best, span
    for cand in passage.candidates():
        quote = passage.chunk.text[cand[0] : cand[1]]
        if any(is_instruction(quote[s:e]) for s, e in sentence_spans(quote)):
            continue
        score = support(claim, f"{title}\n{quote}")
        if score > best + 1e-9:
            best, span = score, cand
    return best, span


DROP_RULES = {
    "no_support": "no sentence of any passage holds enough of the claim's content words",
    "names_not_in_passage": "a passage supports the claim's words but lacks a name or number it asserts",
    "not_about_question": "a bare answer's supporting passage is not about the question",
    "instruction": "only an instruction written into an article supports the claim",
}
"""Why a claim was dropped: rule code -> what it means (``Verified.reasons`` holds these codes)."""


def drop_rule(
    claim: str, passages: list[Passage], question: str, topic: str, threshold: float,
    known: dict[str, str] | None = None,
) -> str:
    """The rule that dropped ``claim``: each check of ``best_quote`` is tried alone on every passage.

    A passage whose sentences would support the claim (``support`` >= ``threshold``) but which
    fails the name check names that rule; else one that fails only the topic check of a bare
    answer; otherwise nothing held the claim's words (``no_support``). Used for diagnostics: the
    decision itself is ``verify``'s.

    Args:
        claim: the dropped claim, markers removed.
        passages: the numbered passages the answer could cite.
        question: the question answered.
        topic: the question when the claim is a bare answer, else "".
        threshold: minimal support.
        known: what is known of each article (``article_texts``).

    Returns:
        A code of ``DROP_RULES`` (never "instruction": ``verify`` decides that one).
    """
    failed: list[set[str]] = []
    for passage in passages:
        title = shown_title(passage.chunk)
        quotes = [passage.chunk.text[s:e] for s, e in passage.candidates()]
        words_held = max(
            (support(claim, f"{title}\n{q}") for q in quotes
             if not any(is_instruction(q[a:b]) for a, b in sentence_spans(q))),
            default=0.0,
        )
        if words_held < threshold:
            continue
        rules = set()
        shown = f"{title}\n{passage.text}"
        article = (known or {}).get(passage.chunk.article_id, "")
        if unsupported_names(claim, f"{title}\n{passage.chunk.text}", question, article):
            rules.add("names_not_in_passage")
        if topic and not about(topic, shown, threshold):
            rules.add("not_about_question")
        failed.append(rules)
    for rule in ("names_not_in_passage", "not_about_question"):
        if any(rules == {rule} for rules in failed):
            return rule
    for rule in ("names_not_in_passage", "not_about_question"):
        if any(rule in rules for rules in failed):
            return rule
    return "no_support"


def _finish(sentence: str, numbers: list[int]) -> str:
    body = sentence.rstrip()
    tail = ""
    while body and body[-1] in ".!?":
        tail = body[-1] + tail
        body = body[:-1].rstrip()
    marks = "".join(f"[{n}]" for n in numbers)
    return f"{body} {marks}{tail or '.'}"


def verify(
    answer: str,
    passages: list[Passage],
    threshold: float,
    question: str = "",
    instructions: list[str] | None = None,
    retrieved: list[Chunk] | None = None,
) -> Verified:
    """Keep the supported claims of an LLM answer, each cited by a verbatim quote.

    For every claim: the cited passages that exist are checked (best quote each); citations below
    ``threshold`` are dropped; a claim left without a supported citation is re-cited to the passage
    that supports it best, if that reaches the threshold, else dropped. Markers are renumbered
    1..m in order of appearance, one citation per number. Instructions in the articles (see
    ``rag.injection``) support nothing; a dropped claim that one of them supports is also listed in
    ``Verified.instructed``.

    Args:
        answer: the LLM's answer text with [n] markers.
        passages: the numbered passages the LLM saw.
        threshold: minimal ``support`` for a quote to back a claim.
        question: the question answered (names it uses must be in the cited article, not
            necessarily in the quote).
        instructions: the instruction sentences of the retrieved articles (default: those of the
            passages' chunks, see ``instruction_sentences``).
        retrieved: the chunks known of the retrieved articles (``Retrieval.articles``: every
            chunk of each): together they are the article where a claim's subject is looked for
            (default: the passages' chunks).

    Returns:
        A ``Verified`` (empty text when no claim survived).
    """
    if instructions is None:
        instructions = instruction_sentences([p.chunk for p in passages])
    by_n = {p.n: p for p in passages}
    known = article_texts([p.chunk for p in passages] + list(retrieved or []))
    keys: dict[tuple[int, int, int], int] = {}
    citations: list[Citation] = []
    out: list[str] = []
    dropped: list[str] = []
    instructed: list[str] = []
    reasons: list[str] = []
    for claim, cited in claims(without_prompt_format(answer, passages)):
        chosen: list[tuple[int, tuple[int, int]]] = []
        # a bare answer ("15 or 20 minutes") says nothing of what it answers: its passage must
        # also be about the question, so a figure from a passage on something else does not pass
        bare = len(set(content_words(claim))) < SHORT_CLAIM_WORDS
        topic = question if bare else ""
        for n in dict.fromkeys(cited):
            if n in by_n:
                score, span = best_quote(
                    claim, by_n[n], question, topic, threshold, known[by_n[n].chunk.article_id]
                )
                if span is not None and score >= threshold:
                    chosen.append((n, span))
        if not chosen:
            ranked = [
                (best_quote(claim, p, question, topic, threshold, known[p.chunk.article_id]), p.n)
                for p in passages
            ]
            ranked = [((s, sp), n) for (s, sp), n in ranked if sp is not None and s >= threshold]
            if ranked:
                (_, span), n = max(ranked, key=lambda r: r[0][0])
                chosen.append((n, span))
        if not chosen:
            dropped.append(claim)
            if any(support(claim, sentence) >= threshold for sentence in instructions):
                instructed.append(claim)
                reasons.append("instruction")
            else:
                reasons.append(drop_rule(claim, passages, question, topic, threshold, known))
            continue
        numbers = []
        for n, span in chosen:
            key = (n, span[0], span[1])
            if key not in keys:
                keys[key] = len(citations) + 1
                citations.append(by_n[n].citation(keys[key], span))
            numbers.append(keys[key])
        out.append(_finish(claim, numbers))
    return Verified(
        text=" ".join(out), citations=citations, dropped=dropped, instructed=instructed, reasons=reasons
    )


# --- who said what -------------------------------------------------------------------------------------
def quoted_sentences(chunk: Chunk) -> list[tuple[tuple[int, int], list[str]]]:
    """The chunk's sentences that quote someone: ``(chunk-relative span, speakers)`` in order."""
    quotes = quotes_of_chunk(chunk)
    out = []
    for s, e in sentence_spans(chunk.text):
        who = speaker_at(quotes, chunk.start + s, chunk.start + e)
        if who and not is_instruction(chunk.text[s:e]):
            out.append(((s, e), who))
    return out


@dataclass
class SpeakerEvidence:
    """What the retrieved chunks quote on a who-said-what question's topic."""

    own: list[Passage]
    """Passages (numbered from 1) showing only the sentences the person asked speaks."""
    others: list[tuple[str, Passage]]
    """Other people quoted on the topic, each with a passage showing their best sentence."""


def speaker_evidence(question: str, chunks: list[Chunk], names: list[str], threshold: float) -> SpeakerEvidence:
    """Speaker grounding: a who-said-what question is answered only from the asked person's quotations.

    A chunk counts when it is about the question's topic (its title and text hold at least
    ``threshold`` of the question's content words other than the names asked about, as for a bare
    answer); its sentences spoken by one of ``names`` become the person's passages, and the first
    sentence quoting each other person is kept to say who the articles do quote.

    Args:
        question: the standalone question.
        chunks: retrieved chunks, best first.
        names: the people asked about (``rag.retrieval.asked_speakers``; a bare surname matches
            anyone of that surname).
        threshold: minimal share of the topic's words.

    Returns:
        A ``SpeakerEvidence``.
    """
    asked = set(content_words(question)) - set(content_words(" ".join(names)))
    own: list[Passage] = []
    others: dict[str, Passage] = {}
    seen: set[tuple[str, int]] = set()
    for chunk in chunks:
        shown = set(content_words(f"{shown_title(chunk)}\n{chunk.text}"))
        if asked and len(asked & shown) / len(asked) < threshold:
            continue
        spans = []
        for span, who in quoted_sentences(chunk):
            if any(speaker_matches(w, n) for w in who for n in names):
                if (chunk.article_id, chunk.start + span[0]) not in seen:
                    seen.add((chunk.article_id, chunk.start + span[0]))
                    spans.append(span)
            else:
                for w in who:
                    others.setdefault(w, Passage(n=0, chunk=chunk, spans=[span]))
        if spans:
            own.append(Passage(n=len(own) + 1, chunk=chunk, spans=spans))
    return SpeakerEvidence(own=own, others=list(others.items()))


def not_quoted_answer(asked: str, evidence: SpeakerEvidence, max_named: int = 2) -> Verified:
    """The refusal that still helps: "The articles don't quote <asked> on this; <other> is quoted [1]."

    Args:
        asked: the person asked about, as the question names them.
        evidence: what the retrieved chunks quote (``speaker_evidence``).
        max_named: at most this many other people named, each with the citation of their quote.

    Returns:
        A ``Verified`` whose text is the sentence and whose citations back the people named.
    """
    text = f"The articles don't quote {asked} on this"
    named = evidence.others[:max_named]
    if not named:
        return Verified(text=text + ".", citations=[])
    citations = [p.citation(i, p.spans[0]) for i, (_, p) in enumerate(named, start=1)]
    who = " and ".join(f"{name} is quoted [{i}]" for i, (name, _) in enumerate(named, start=1))
    return Verified(text=f"{text}; {who}.", citations=citations)
