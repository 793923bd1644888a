"""Quotations and their speakers: who says what in an article, with character offsets.

Ingest keeps the result in each chunk's metadata; the answer path and the evaluation use it to
decide who speaks a cited sentence. The rules are a few patterns that hold for news prose in
general, applied one paragraph (one line of normalised text) at a time:

- A *direct quote* is text between quotation marks (``“…”`` or ``"…"``) of at least three words.
  It is attributed to the speaker of an attribution in the same paragraph outside the marks
  (``“…,” Rhodes said.``, ``Rhodes said: “…”``, ``“…,” said Ben Rhodes, deputy …``,
  ``according to Ben Rhodes``), the nearest one when there are several. A paragraph that opens a
  quote without closing it continues in the next paragraph that opens with a quotation mark (the
  typographic convention), same speaker.
- *Reported speech* is a sentence with such an attribution and no direct quote of its own
  (``Rhodes said the move was …``, ``…, Meehan said.``).
- A speaker is a person's name: a run of capitalised words with titles and offices stripped
  ("Deputy National Security Adviser Ben Rhodes" -> "Ben Rhodes"). The first word of a sentence is
  capitalised by its position, so it is part of a name only when the article does not also write
  it in lower case or also capitalises it mid-sentence ("Can Maria Ruiz win?" names Maria Ruiz);
  function words ("Please", "During") never are. A name with words of description before another
  full name of the article is that person ("Counsel Pat Cipollone" -> "Pat Cipollone").
- A single word (a later surname, "President Obama") resolves to a full name with that surname:
  the article's principal bearer of it, as news style writes others who share it with their first
  names: of the full names already mentioned (or, failing that, all), the one mentioned most (its
  full mentions and the bare surnames after its first), the first mentioned on a tie.
- ``he``/``she`` resolves to the speaker of the last named attribution at most three sentences
  back, unless a later sentence opens with another person as its subject ("Gov. Ann Lee, who …,
  declined …", which makes that person the one spoken of); with no such attribution, to the first
  person named in the nearest sentence before it that names one. Names inside quotation marks are
  not antecedents. Only names the article uses as a speaker or after a title count as persons
  there, so a place ("Las Vegas") is never an antecedent.
- A single word that is neither a known surname nor after an honorific ("Apple said"; "National
  Geographic", "U.S. Capitol": a qualifier is no honorific) and names of organisations ("White
  House") are not people, so their sentences get no speaker.
- A verb with a sense other than speech ("added", "wrote", "continued", "went on", …) attributes
  only when no object or other infinitive follows it ("Hale added a goal", "went on to win" are
  not speech; "added that …", "went on to say …" are).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from rag.text import sentence_spans, words
from rag.types import Chunk, Quote

__all__ = [
    "Quote", "find_quotes", "speaker_at", "speaker_matches", "speakers_field", "quotes_json", "quotes_from_json",
]


# --- names -------------------------------------------------------------------------------------------
# Words that introduce or qualify a name without being part of it (offices, honorifics, ranks).
_TITLES = frozenset(
    """
    president vice prime minister secretary sen senator rep representative gov governor mayor judge
    justice chief director deputy adviser advisor ambassador general gen col colonel lt lieutenant
    officer sgt sergeant capt captain cmdr commander adm admiral maj major dr mr mrs ms miss prof
    professor pope king queen prince princess chairman chairwoman chair speaker leader commissioner
    spokesman spokeswoman spokesperson ceo cfo coo founder coach attorney manager sheriff rev
    reverend lady first former acting executive press national security foreign defense defence
    interior state health energy treasury homeland chancellor premier president-elect emir sheikh
    sir dame lord minority majority whip head detective agent inspector superintendent trooper
    pastor father sister brother bishop cardinal rabbi imam dean principal anchor host
    correspondent analyst economist scientist researcher author writer actor actress singer star
    supervisor administrator coordinator official representative member owner partner incumbent
    duke duchess earl baron sociologist historian pro-tem staff defender councilman councilwoman
    councilmember alderman
    u.s us uk u.k un u.n republican democrat democratic gop house senate white
    """.split()
)
# Titles that can stand right before a bare surname and so make it a person ("President Obama",
# "Pope Francis", "Mrs. Kauffman"). The other title words only qualify an office ("National",
# "First", "House", "U.S.") or describe a job, and before a single word they are as often part of a
# name of something else ("National Geographic", "First Amendment", "House Republicans", "U.S. Capitol").
_HONORIFICS = frozenset(
    """
    president minister secretary sen senator rep representative gov governor mayor judge justice
    chief director ambassador general gen col colonel lt lieutenant officer sgt sergeant capt captain
    cmdr commander adm admiral maj major dr mr mrs ms miss prof professor pope king queen prince
    princess chairman chairwoman speaker leader commissioner coach attorney sheriff rev reverend
    lady chancellor premier president-elect emir sheikh sir dame lord detective agent inspector
    superintendent trooper pastor father sister brother bishop cardinal rabbi imam dean principal
    duke duchess earl baron councilman councilwoman councilmember alderman whip
    """.split()
)
# Words that make a capitalised run an organisation or a place, not a person.
_NOT_PERSON = frozenset(
    """
    house department ministry council police office agency court committee association university
    college school times post news network party administration service group bank company inc
    corp corporation ltd llc institute foundation center centre union league club team army navy
    force forces guard board commission authority hospital church city county street avenue
    monday tuesday wednesday thursday friday saturday sunday january february march april may june
    july august september october november december reuters cnn nbc abc cbs fox ap bbc pentagon jazeera
    kremlin congress parliament government state states republic kingdom nations organization
    organisation museum airlines airport press journal magazine twitter facebook instagram tiktok
    google apple microsoft amazon meta cdc fda fbi cia nasa who nato society palace hall park river
    lake mountain island beach bridge square road district region province coast valley stadium
    arena festival awards games cup open championship fund project program institute network
    records survey report data poll study vogue fair magazine almanac millions dinner drivers economics
    korea china russia ukraine america americans britain france germany japan india israel iran
    """.split()
)
# Capitalised words that open sentences or clauses and are never part of a name.
_LEADING = frozenset(
    """
    the a an and but or so yet still also then when while after before as at in on of for to from
    by with without about if though although because since until however meanwhile later earlier
    this that these those there here it its his her their our my your we they i he she you one
    speaking asked writing in-person most many some all few several both every each no even only
    what why how who where which whether with per excluding including like unlike among via dear now
    removing i’m i'm please thanks yes during once another despite amid against between through
    throughout under over are is was were be been had has have did does do could would should must
    might shall sometimes perhaps maybe instead never always often usually just not
    """.split()
)
_PRONOUNS = frozenset({"he", "she"})
_PRONOUN_REACH = 3  # sentences back a pronoun may look for the person it stands for

# A name word: "Rhodes", "O'Brien", "Jean-Pierre", an initial or short abbreviation ("F.", "Jr.");
# a longer word with a period ends a sentence ("Ottawa.") and so ends the run.
_NAME_WORD = r"(?:(?:[A-Z]\.){2,}|[A-Z][a-z]{0,2}\.|[A-Z][\w'’\-]*[a-z][\w'’\-]*|[A-Z]{2,}\b)"
_PARTICLE = r"(?:de|da|del|der|den|van|von|bin|al|la|le|di|dos|du)"
_SP = r"[^\S\n]+"  # spaces within a line: a name never runs across a paragraph break
_CAP_RUN = re.compile(rf"{_NAME_WORD}(?:{_SP}(?:{_PARTICLE}{_SP})?{_NAME_WORD})*")
_POSSESSIVE = re.compile(r"['’]s?$")

_VERBS = (
    r"said|says|told|tells|added|adds|asked|asks|wrote|writes|explained|explains|noted|notes|argued|"
    r"argues|claimed|claims|insisted|insists|warned|warns|stated|states|continued|recalled|recalls|"
    r"acknowledged|acknowledges|admitted|admits|replied|replies|responded|responds|announced|"
    r"declared|tweeted|stressed|emphasized|emphasised|suggested|suggests|commented|confirmed|"
    r"predicted|urged|urges|cautioned|conceded|complained|joked|observed|remarked|testified|"
    r"maintained|maintains|contended|contends|lamented|boasted|pointed out|went on"
)
# Verbs with a sense that is not speech, which a name before them only speaks when no object
# follows: "Smith added a goal", "Key wrote the song", "Lee declared a state of emergency" are not
# attributions; "Smith added that …", "she wrote on Twitter", "“…,” she continued." are. Two of them
# also take an infinitive of something else: "crews continued to search", "he went on to win" (but
# "he went on to say …").
_OBJECT_TRAPS = frozenset("added adds wrote writes declared recalled recalls observed maintained maintains".split())
_INFINITIVE_TRAPS = frozenset({"continued", "went on"})
_SPEECH_INFINITIVE = (
    r"say|tell|add|ask|write|explain|note|argue|claim|insist|warn|state|recall|acknowledge|admit|"
    r"reply|respond|announce|declare|tweet|stress|emphasi[sz]e|suggest|comment|confirm|predict|urge|"
    r"caution|concede|complain|joke|observe|remark|testify|maintain|contend|lament|boast|describe|"
    r"call|praise|critici[sz]e|accuse|blame|thank|deny|question|point out"
)
_NO_OBJECT = rf"(?!{_SP}(?:a|an|the|his|her|its|their|our|my|another|some|no|\d[\d,.]*)\b)"
_NO_OTHER_INFINITIVE = rf"(?!{_SP}to{_SP}(?!(?:{_SPEECH_INFINITIVE})\b))"


def _guarded(verb: str) -> str:
    """The pattern of a speech verb that a name before it speaks, with its guard if it needs one."""
    pattern = verb.replace(" ", _SP)
    if verb in _OBJECT_TRAPS or verb in _INFINITIVE_TRAPS:
        pattern += _NO_OBJECT
    if verb in _INFINITIVE_TRAPS:
        pattern += _NO_OTHER_INFINITIVE
    return pattern


_BEFORE_VERBS = "|".join(_guarded(v) for v in _VERBS.split("|"))
# Room for the name (capitalised words with spaces and periods) before or after the verb.
_RUN = rf"(?:{_NAME_WORD}{_SP}(?:{_PARTICLE}{_SP})?){{0,7}}{_NAME_WORD}"
_NAME_SLOT = r"\b(?P<name>" + _RUN + r"|[Hh]e|[Ss]he)\b"
# "Rhodes said", "Ben Rhodes, the deputy adviser, said", "he told", "Rhodes also said".
_BEFORE = re.compile(
    _NAME_SLOT
    + r"(?:,\s[^,;:“”\"]{2,90},)?\s+(?:also\s+|later\s+|then\s+|previously\s+|further\s+|once\s+)?"
    + rf"(?P<verb>{_BEFORE_VERBS})\b"
)
# "“…,” said Ben Rhodes", "according to Ben Rhodes".
# "“…,” said Ben Rhodes", "according to Ben Rhodes", "says Wells Fargo economist Sam Bullard" (an
# organisation and a lower-case job before the name). A pronoun after the verb is not an attribution
# ("…, said she reported it" has its subject before).
_AFTER = re.compile(
    r"(?:[,”\"’]\s*(?:" + _VERBS + r")|\b[Aa]ccording to)\s+"
    + rf"(?:{_RUN}{_SP}(?:[a-z][\w'’\-]*{_SP}){{1,3}}(?=[A-Z]))?"
    + r"\b(?P<name>" + _RUN + r")\b"
)


_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})


def surname(name: str) -> str:
    """The last word of a name, without a possessive ending or a generational suffix
    (``"Ben Rhodes's"`` -> ``"Rhodes"``, ``"Ferdinand Marcos Jr."`` -> ``"Marcos"``)."""
    parts = name.split()
    while len(parts) > 1 and parts[-1].lower().rstrip(".,") in _SUFFIXES:
        parts = parts[:-1]
    return _POSSESSIVE.sub("", parts[-1]) if parts else ""


def _clean_name(run: str) -> tuple[str, bool]:
    """A capitalised run reduced to the person's name and whether a title introduced it (for a
    single word: an honorific).

    Returns:
        ``(name, titled)``; ``name`` is "" when the run is not a person's name.
    """
    tokens = run.split()
    # "CNN's Drew Griffin", "NASA's Gordon Johnston": the name follows the possessive.
    for i in range(len(tokens) - 2, -1, -1):
        if tokens[i].endswith(("'s", "’s")):
            tokens = tokens[i + 1:]
            break
    # "An Evening With Sacheen Littlefeather", "Nineteen-year-old Zara Rutherford", "Dallas-based
    # Southwest": the name follows the last function word or compound adjective.
    for i in range(len(tokens) - 1, -1, -1):
        low = tokens[i].lower().rstrip(".")
        if low in _LEADING or low.endswith(("-old", "-based", "-born")):
            tokens = tokens[i + 1:]
            break
    titled = False
    # Keep what follows the last title word: "Russian President Vladimir Putin" -> "Vladimir Putin".
    # A single word counts as titled only after an honorific ("President Obama", not "National
    # Geographic").
    for i in range(len(tokens) - 1, -1, -1):
        title = tokens[i].lower().rstrip(".")
        if title in _TITLES:
            tokens = tokens[i + 1:]
            titled = len(tokens) > 1 or title in _HONORIFICS
            break
    if not tokens:
        return "", titled
    if any(t.lower().rstrip(".") in _NOT_PERSON or t.lower().rstrip(".s") in _NOT_PERSON for t in tokens):
        return "", titled
    if any(t.isupper() and len(t) > 1 and not t.endswith(".") for t in tokens):
        return "", titled  # acronyms: NATO, CNN
    tokens = tokens[-3:]
    while tokens and (len(tokens[0].rstrip(".")) == 1 and len(tokens) > 1 and tokens[0] == tokens[-1]):
        tokens = tokens[1:]
    name = " ".join(tokens)
    name = _POSSESSIVE.sub("", name) if name.endswith(("'s", "’s")) else name
    return name, titled


@dataclass
class _Paragraph:
    base: int  # offset of the paragraph in the article
    line: str
    segments: list[tuple[int, int]]  # quoted segments, marks included
    left_open: bool  # a quotation still open at the paragraph's end
    attributions: list[tuple[int, int, str]]  # (start, end, raw name) in the paragraph


def _paragraphs(text: str) -> list[_Paragraph]:
    """The article's non-empty paragraphs with their quotations and attributions."""
    out = []
    offset = 0
    for line in text.split("\n"):
        base = offset
        offset += len(line) + 1
        if line.strip():
            segments, left_open = _quote_segments(line)
            out.append(_Paragraph(base, line, segments, left_open, _attributions(_mask(line, segments))))
    return out


@dataclass
class _Mention:
    pos: int
    name: str  # full name (or a surname never expanded)
    sentence: int


class _People:
    """People named in one article, in order, so later surnames and pronouns can be resolved."""

    def __init__(self, text: str, sentences: list[tuple[int, int]], paragraphs: list[_Paragraph]):
        self.titled: set[str] = set()
        self.mentions: list[_Mention] = []
        self._text = text
        self._sentences = sentences
        self._starts = {s for s, _e in sentences}
        runs = [(m.start(), m.group(0)) for m in _CAP_RUN.finditer(text)]
        # A capitalised word opening a sentence says nothing about being a name; the article's other
        # uses of it do: one it also writes in lower case and never capitalises mid-sentence is a
        # common word ("Giving", "Will", "Please"), not a first name.
        self._lower = set(re.findall(r"(?<![\w'’\-])[a-z][a-z'’\-]*", text))
        self._capitalised: set[str] = set()
        for pos, run in runs:
            self._capitalised.update(run.split()[1 if self._initial(pos) else 0:])
        found = [(pos, *_clean_name(self._name_part(run, pos))) for pos, run in runs]
        full = [(pos, name) for pos, name, _t in found if len(name.split()) >= 2]
        self.titled = {name for _p, name, titled in found if titled and len(name.split()) == 1}
        # "Counsel Pat Cipollone" and "Pat Cipollone" are one person: a longer name that ends with a
        # shorter full name of the article, before which it has only words the article also writes
        # in lower case (descriptions: "counsel", "resident"), is that name ("Alyssa Farah Griffin"
        # stays whole).
        names = {name for _p, name in full}
        self._canon = {n: min(self._described(n, names), key=len, default=n) for n in names}
        self.full = [(pos, self._canon[name]) for pos, name in full]  # (position, full name) in order
        surnames = {surname(n) for _, n in self.full}
        self._weight = self._mention_counts(found, surnames)
        # Names seen as the speaker of an attribution somewhere in the article, or after a title:
        # the only candidates for a pronoun that follows no recent speaker ("Las Vegas" is not).
        self.personal: set[str] = set()
        for rx in (_BEFORE, _AFTER):
            for m in rx.finditer(text):
                name, titled = _clean_name(self._name_part(m.group("name"), m.start("name")))
                if name and (len(name.split()) >= 2 or titled or name in surnames):
                    self.personal.add(self.resolve(name, m.start()))
        quoted = [(par.base + a, par.base + b) for par in paragraphs for a, b in par.segments]
        for pos, name, titled in found:
            if not name:
                continue
            if len(name.split()) == 1 and not (titled or name in surnames):
                continue
            person = self.resolve(name, pos)
            if titled:
                self.personal.add(person)
            if not any(a <= pos < b for a, b in quoted):  # a name inside a quotation is not its subject
                self.mentions.append(_Mention(pos, person, self.sentence_of(pos)))
        # Who the named attributions make speak, in order: a pronoun's most likely person.
        self.speakers = [
            _Mention(par.base + a, person, self.sentence_of(par.base + a))
            for par in paragraphs for a, _e, raw in par.attributions
            if raw.lower() not in _PRONOUNS and (person := self.speaker(raw, par.base + a))
        ]

    def _described(self, name: str, names: set[str]) -> list[str]:
        """The shorter full names that ``name`` is with words of description before them."""
        words_ = name.split()
        return [
            m for m in names
            if len(m.split()) < len(words_) and name.endswith(" " + m)
            and all(w.lower() in self._lower for w in words_[: len(words_) - len(m.split())])
        ]

    def _mention_counts(self, found: list[tuple[int, str, bool]], surnames: set[str]) -> dict[str, int]:
        """How often the article mentions each full name: its full mentions, plus the bare mentions
        of its surname after its first full mention (those it can be the referent of)."""
        first: dict[str, int] = {}
        weight: dict[str, int] = {}
        for pos, name in self.full:
            first.setdefault(name, pos)
            weight[name] = weight.get(name, 0) + 1
        for pos, name, _t in found:
            if len(name.split()) == 1 and name in surnames:
                for full, at in first.items():
                    if at < pos and surname(full) == name:
                        weight[full] += 1
        return weight

    def _initial(self, pos: int) -> bool:
        """Whether ``pos`` opens a sentence, a paragraph or a quotation."""
        text, k = self._text, pos
        while k > 0 and text[k - 1] == " ":
            k -= 1
        if k == 0 or text[k - 1] == "\n" or pos in self._starts:
            return True
        mark = text[k - 1]
        return mark in "“‘([" or (mark == '"' and (k == 1 or text[k - 2] in " \n"))

    def _name_part(self, run: str, pos: int) -> str:
        """``run`` (a capitalised run at ``pos``) without an opening word that only the position
        capitalises."""
        first, _, rest = run.partition(" ")
        word = _POSSESSIVE.sub("", first)
        if self._initial(pos) and word.lower() in self._lower and word not in self._capitalised:
            return rest
        return run

    def sentence_of(self, pos: int) -> int:
        """Index of the sentence holding ``pos`` (the last sentence starting at or before it)."""
        lo, hi = 0, len(self._sentences)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._sentences[mid][0] <= pos:
                lo = mid + 1
            else:
                hi = mid
        return max(lo - 1, 0)

    def resolve(self, name: str, pos: int) -> str:
        """The full name a name at ``pos`` refers to ("Rhodes" -> "Ben Rhodes"), or the name itself.

        A bare surname shared by several full names is the article's principal bearer of it: of
        those already named at ``pos`` (else of all), the one mentioned most, the first on a tie.
        """
        if len(name.split()) >= 2:
            return self._canon.get(name, name)
        bearers = {n: p for p, n in reversed(self.full) if surname(n) == name}  # name -> first position
        named = [n for n, p in bearers.items() if p <= pos] or list(bearers)
        return max(sorted(named, key=bearers.__getitem__), key=self._weight.__getitem__, default=name)

    def speaker(self, raw: str, pos: int) -> str:
        """The person an attribution's name slot at ``pos`` names, or "" when it names nobody.

        Args:
            raw: the text in the name slot ("Ben Rhodes", "Rhodes", "he", "Apple").
            pos: its offset in the article.
        """
        if raw.lower() in _PRONOUNS:
            return self._antecedent(pos)
        name, titled = _clean_name(self._name_part(raw, pos))
        if not name:
            return ""
        if len(name.split()) == 1:
            resolved = self.resolve(name, pos)
            if resolved == name and not (titled or name in self.titled):
                return ""  # "Apple said": a single word that names no known person
            return resolved
        return name

    def _antecedent(self, pos: int) -> str:
        """The person ``he``/``she`` at ``pos`` stands for: the speaker of the last named attribution
        within reach, unless a later sentence opens with another person (the new subject)."""
        here = self.sentence_of(pos)
        spoke = [m for m in self.speakers if m.pos < pos and here - m.sentence <= _PRONOUN_REACH]
        named = [m for m in self.mentions if m.pos < pos and m.name in self.personal]
        if named and here - named[-1].sentence <= _PRONOUN_REACH:
            first = next(m for m in named if m.sentence == named[-1].sentence)
            if not spoke or (first.sentence > spoke[-1].sentence and self._opens(first)):
                return first.name
        return spoke[-1].name if spoke else ""

    def _opens(self, mention: _Mention) -> bool:
        """Whether a name is the subject that opens its sentence ("Gov. Ann Lee said", "On Monday,
        Lee said"), not a later word of it ("He met Lee")."""
        start = self._sentences[mention.sentence][0]
        return _OPENER.fullmatch(self._text, start, mention.pos) is not None


# What may stand before the subject of a sentence: a conjunction or a short opening phrase and a comma.
_OPENER = re.compile(r"[“\"‘(]?(?:(?:But|And|So|Yet|Still|Then|Now|Meanwhile|However,)\s+|[^,.;:“”\"]{1,40},\s+)?")


# --- quotation marks ----------------------------------------------------------------------------------
_MIN_QUOTE_WORDS = 3


def _quote_segments(line: str) -> tuple[list[tuple[int, int]], bool]:
    """Quoted segments of one paragraph as ``(start, end)`` including the marks, and whether the
    paragraph leaves a quotation open at its end."""
    segments: list[tuple[int, int]] = []
    open_at: int | None = None
    for i, ch in enumerate(line):
        if ch == "“" or (ch == '"' and open_at is None):
            if open_at is None:
                open_at = i
        elif ch == "”" or ch == '"':
            if open_at is not None:
                segments.append((open_at, i + 1))
                open_at = None
    if open_at is not None:
        segments.append((open_at, len(line)))
    return segments, open_at is not None


def _mask(line: str, segments: list[tuple[int, int]]) -> str:
    """The paragraph with the inside of each quotation blanked out (offsets kept)."""
    chars = list(line)
    for s, e in segments:
        for i in range(s + 1, max(s + 1, e - 1)):
            chars[i] = " " if chars[i] == " " else "x"
    return "".join(chars)


# A name right after one of these is part of a phrase, not a speaker ("the Department of Health
# and Human Services said", "the weather service in Los Angeles warns", "a spokesman for X said").
_OBJECT_OF = re.compile(r"\b(?:of|in|at|the|from|for|on|by|to|with|into|near)[^\S\n]+$")


def _attributions(frame: str) -> list[tuple[int, int, str]]:
    """``(start, end, raw name)`` of each attribution in a masked paragraph."""
    found = []
    for rx in (_BEFORE, _AFTER):
        for m in rx.finditer(frame):
            raw = m.group("name").strip()
            if rx is _BEFORE and _OBJECT_OF.search(frame, max(0, m.start("name") - 8), m.start("name")):
                continue
            if rx is _BEFORE and raw.endswith(("'s", "’s")):
                continue  # "Trump's claims", "the state's notes": a noun, not a speech verb
            found.append((m.start("name"), m.end(), raw))
    found.sort()
    return found


def find_quotes(text: str) -> list[Quote]:
    """Every quotation in an article with its speaker and character offsets.

    Args:
        text: the article text (normalised: one paragraph a line).

    Returns:
        Quotes in order of position; ``text[q.start:q.end]`` is the quoted sentence(s), whole.
        Sentences whose speaker is not a named person (an organisation, "a spokesman") are left out.
    """
    sentences = sentence_spans(text)
    paragraphs = _paragraphs(text)
    people = _People(text, sentences, paragraphs)
    quotes: list[Quote] = []
    carried: str = ""  # speaker of a quotation left open at the end of the previous paragraph
    for par in paragraphs:
        base, line, left_open = par.base, par.line, par.left_open
        direct = [(s, e) for s, e in par.segments if len(line[s:e].split()) >= _MIN_QUOTE_WORDS]
        found: list[tuple[int, str]] = []  # (position in line, speaker)
        for s, _e, raw in par.attributions:
            name = people.speaker(raw, base + s)
            if name:
                found.append((s, name))
        if not found and carried and line.lstrip().startswith(("“", '"')):
            found = [(0, carried)]
        carried = ""
        line_sentences = [(s - base, e - base) for s, e in sentences if base <= s < base + len(line)]
        covered: set[int] = set()
        for qs, qe in direct:
            span = [i for i, (s, e) in enumerate(line_sentences) if s < qe and qs < e]
            if not found or not span:
                continue
            first, last = line_sentences[span[0]], line_sentences[span[-1]]
            # An attribution inside the quoted sentence(s) names the speaker; a quote that stands
            # as sentences of its own takes the nearest attribution of its paragraph (“A,” X
            # said. “B.”); a quote embedded in a sentence with no attribution has no known speaker.
            inside = [f for f in found if first[0] <= f[0] < last[1]]
            standalone = first[0] >= qs and last[1] <= qe + 2
            if not inside and not standalone:
                continue
            speaker = min(inside or found, key=lambda f: min(abs(f[0] - qs), abs(f[0] - qe)))[1]
            covered.update(span)
            start, end = line_sentences[span[0]][0], line_sentences[span[-1]][1]
            quotes.append(Quote(speaker=speaker, start=base + start, end=base + end, kind="direct"))
            if left_open and qe == len(line):
                carried = speaker
        for pos, speaker in found:
            for i, (s, e) in enumerate(line_sentences):
                if s <= pos < e and i not in covered:
                    quotes.append(Quote(speaker=speaker, start=base + s, end=base + e, kind="reported"))
                    covered.add(i)
    unique = {(q.start, q.end, q.speaker): q for q in quotes}
    return sorted(unique.values(), key=lambda q: (q.start, q.end))


def quotes_of_chunk(chunk: Chunk) -> list[Quote]:
    """The quotations overlapping ``chunk``, in article offsets: those kept at ingest, else (a store
    built before they were kept) the ones ``find_quotes`` finds in the chunk's own text."""
    if chunk.quotes is not None:
        return chunk.quotes
    return [
        q.model_copy(update={"start": q.start + chunk.start, "end": q.end + chunk.start})
        for q in find_quotes(chunk.text)
    ]


def speaker_at(quotes: list[Quote], start: int, end: int) -> list[str]:
    """Speakers of the quotations that overlap the span ``[start, end)`` (empty: nobody speaks it)."""
    out: list[str] = []
    for q in quotes:
        if q.overlaps(start, end) and q.speaker not in out:
            out.append(q.speaker)
    return out


def speaker_matches(speaker: str, asked: str) -> bool:
    """True when ``speaker`` (a full name) is the person ``asked`` names ("Rhodes", "Ben Rhodes").

    Compares surnames as words (case, hyphens and generational suffixes aside: "saric" names
    "Alexander Hoehn-Saric", "marcos" names "Ferdinand Marcos Jr."); when ``asked`` has a first
    name too, it must agree.
    """
    a = [w for w in words(asked) if w not in _SUFFIXES]
    s = [w for w in words(speaker) if w not in _SUFFIXES]
    if not a or not s or a[-1] != s[-1]:
        return False
    return len(a) == 1 or len(s) == 1 or a[0] == s[0]


def speakers_field(quotes: list[Quote]) -> str:
    """The ``speakers`` metadata string: full names and surnames, ``"; "``-joined, each once."""
    out: list[str] = []
    for q in quotes:
        for name in (q.speaker, q.surname):
            if name and name not in out:
                out.append(name)
    return "; ".join(out)


def quotes_json(quotes: list[Quote]) -> str:
    """Quotes as compact JSON (``[[start, end, speaker, "d"|"r"], ...]``) for scalar metadata."""
    return json.dumps(
        [[q.start, q.end, q.speaker, q.kind[0]] for q in quotes], ensure_ascii=False, separators=(",", ":")
    )


def quotes_from_json(value: str | None) -> list[Quote]:
    """The inverse of ``quotes_json`` ("" or None give no quotes)."""
    if not value:
        return []
    kinds = {"d": "direct", "r": "reported"}
    return [Quote(speaker=sp, start=s, end=e, kind=kinds.get(k, "direct")) for s, e, sp, k in json.loads(value)]


def name_as_written(text: str, surname_: str) -> str:
    """The name ending in ``surname_`` as ``text`` writes it ("What did John Kerry say" + "kerry" ->
    "John Kerry"); the surname capitalised when ``text`` does not hold it."""
    m = re.search(rf"(?:{_NAME_WORD}{_SP})*(?:[A-Z][\w'’]*-)?(?i:{re.escape(surname_)})\b", text)
    if not m:
        return surname_[:1].upper() + surname_[1:]
    name, _titled = _clean_name(m.group(0))
    return name or m.group(0)
