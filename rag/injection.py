"""Instructions planted in articles: sentences that give orders to the assistant or to the reader.

News reports what happened; it does not tell a language model to ignore its rules, nor tell its
reader to visit a site to claim a prize. A sentence is an *instruction* when it

1. addresses an AI system: asks it to ignore or override its instructions, gives it a new role,
   speaks as a chat role ("Assistant: ...") or in chat-template tokens, asks for its prompt, or
   dictates its reply; or
2. is a call to action aimed at the reader that carries a hook: "click here"; an imperative
   (a verb opening a clause: "Visit ...", "Send ...") that asks for the reader's password, bank
   details or account, or promises a prize to claim; or a link offered with a prize to claim.

Reported speech is not an imperative: in "He urged voters to visit polling stations early" the
verb does not open a clause, and there is no hook. A link alone is no hook ("Visit
detroitlions.com for a camp schedule" is service information), and warnings ("never send your
password") are not requests. On rtqa-dev's 888 articles (69,114 sentences and titles) only 11
sentences are instructions, all "click here" lines of page furniture.

``instruction_kind`` is the one test every stage uses: the context leaves such sentences out,
and the grounding stage never lets one support a claim.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE

# --- 1. aimed at an AI -----------------------------------------------------------------------------
# "ignore previous guidelines/rules" is also news (a health agency's advice); instructions and
# prompts are what an assistant is given
_OBJECT = r"(?:instructions?|prompts?|directives?|programming)"
_QUALIFIER = r"(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system|your|my)"
_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\s+"
    r"(?:(?:all|any|the|these|those|every|of)\s+)*"
    rf"{_QUALIFIER}\s+(?:\w+\s+)?{_OBJECT}\b",
    _I,
)
_OVERRIDE_ABOVE = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:(?:all|everything|anything|what(?:ever)?)\s+)?"
    r"(?:(?:the|that|you\s+were|you've\s+been|you\s+have\s+been|was|is|written|said|stated|told)\s+)*"
    r"(?:above|before\s+this|so\s+far)\b",
    _I,
)
_NEW_INSTRUCTIONS = re.compile(r"\b(?:new|updated|real|actual)\s+instructions?\s*:", _I)
_AI = r"(?:AI|A\.I\.|assistants?|chatbots?|bots?|(?:large\s+)?language\s+models?|LLMs?|GPT\w*)"
_ADDRESS_AI = re.compile(
    rf"(?:\b(?:dear|attention|note\s+to|hey|hello)\s+(?:the\s+|all\s+|any\s+)?{_AI}\b"
    rf"|\b{_AI}(?:\s+(?:models?|systems?|tools?|agents?))?\s+(?:reading|summari[sz]ing|processing|parsing|answering)\s+(?:this|these)\b"
    rf"|\bif\s+you\s+are\s+an?\s+{_AI}\b"
    rf"|\binstructions?\s+(?:for|to)\s+(?:the\s+|any\s+|all\s+)?{_AI}"
    r"|\bwhen(?:ever)?\s+you\s+(?:are\s+asked|answer|summari[sz]e|respond|reply|read)\b[^.]{0,60}?"
    r"\b(?:this|the)\s+(?:article|text|page|passage|document|story)\b"
    rf"|\bas\s+an?\s+(?:AI|artificial\s+intelligence|(?:large\s+)?language\s+model)"
    r"(?:\s+(?:assistant|model|chatbot))?,?\s+(?:I|you)\b)",
    _I,
)
_ROLE = re.compile(
    r"\b(?:you\s+are\s+now|from\s+now\s+on,?\s+you|you\s+must\s+now|act\s+as\s+(?:an?|the|my)"
    r"|pretend\s+(?:to\s+be|you\s+are)|role-?play\s+as|you\s+have\s+been\s+(?:reprogrammed|jailbroken))\b",
    _I,
)
_AI_WORDS = re.compile(
    rf"\b(?:{_AI}|jailbr\w+|DAN|mode|prompts?|instructions?|respond|reply|answer|output|restrictions|filters)\b", _I
)
_ROLE_LABEL = re.compile(r"^\W{0,3}(?:system|assistant|user|AI|chatbot|bot)\s*:", _I)
_TEMPLATE = re.compile(
    r"<\|[a-z_]{2,20}\|>|<</?SYS>>|\[/?INST\]|\[/?(?:system|assistant)\]|^#{1,6}\s*(?:instructions?|system|response)\b",
    _I,
)
_PROMPT_REQUEST = re.compile(
    r"\b(?:reveal|print|repeat|show|output|disclose|leak)\s+(?:me\s+)?your\s+(?:system\s+)?(?:prompt|instructions|rules)\b"
    r"|\b(?:new|updated|your)\s+system\s+prompt\b"
    r"|\b(?:do\s+not|don't|never)\s+(?:tell|mention\s+\w+\s+to|inform|alert)\s+the\s+user\b",
    _I,
)
_DICTATE = re.compile(
    r"^\W{0,3}(?:(?:now|please|instead)\s*,?\s+)*(?:"
    r"(?:respond|reply|answer)\s+(?:only\s+|just\s+)?with\b"
    r"|(?:say|output|print|write)\s+(?:only\s+|exactly\s+|just\s+)?(?:the\s+(?:word|phrase|following)\b|[\"'“‘]))",
    _I,
)

# --- 2. calls to action aimed at the reader --------------------------------------------------------
_CLAUSE_START = r"(?:^|[:;!?]\s+|[—–]\s*|\.\s+)\W{0,3}(?:(?:please|now|simply|just|then|so|quickly|immediately|today|also|and)\s*,?\s+)*"
_IMPERATIVE = re.compile(
    _CLAUSE_START
    + r"(?:visit|go\s+to|head\s+(?:to|over\s+to)|click|tap|call|text|dial|send|e-?mail|reply|sign\s+up|register"
    r"|log\s*in(?:to)?|download|install|claim|redeem|enter|transfer|wire|deposit|provide|share|confirm|verify"
    r"|update|contact|scan|subscribe|act)\b(?!\s*:)(?!\s+(?:messages?|logs?|records?|centers?|centres?|of)\b)",
    _I,
)
_TELL_READERS = re.compile(
    _CLAUSE_START
    + r"(?:tell|inform|advise|instruct|remind|urge|encourage)\s+(?:the\s+|all\s+|your\s+)?"
    r"(?:readers?|users?|visitors?|customers?|people)\s+(?:to|that)\b",
    _I,
)
_LINK = re.compile(
    r"https?://|\bwww\.|\b[a-z0-9][\w-]*(?:\.[\w-]+)*\.(?:com|net|org|info|biz|io|co|xyz|top|ru|cn|tk|example"
    r"|app|site|online|click|link|me|ly|gl|shop|win|live|today|us|uk)\b(?!\.\w)",
    _I,
)
_REWARD = re.compile(
    r"\b(?:claim|collect|redeem|unlock)\s+(?:your|a|an|the|this)?\s*(?:\w+\s+){0,2}"
    r"(?:prizes?|rewards?|gift\s*cards?|giveaways?|bonus(?:es)?|winnings|jackpot|vouchers?|cash|money)\b"
    r"|\bwin\s+(?:a\s+)?free\b|\byou(?:'ve|\s+have)\s+(?:been\s+selected|won)\b",
    _I,
)
_CREDENTIAL = (
    r"(?:passwords?|passcodes?|PINs?|bank\s+(?:details|account(?:\s+(?:number|details))?)|account\s+(?:number|details)"
    r"|credit\s+card(?:\s+(?:number|details))?|card\s+(?:number|details)|social\s+security\s+number"
    r"|login(?:\s+details)?|credentials|seed\s+phrase|private\s+key|one-time\s+(?:code|password)|verification\s+code)"
)
_ASK_CREDENTIAL = re.compile(
    r"\b(?:send|give|provide|enter|share|confirm|verify|update|reply\s+with|e-?mail|text|submit|type)\s+"
    rf"(?:us\s+|me\s+|in\s+)?your\s+(?:(?:\w+\s+){{0,2}}{_CREDENTIAL}|account|identity)\b",
    _I,
)
_CLICK_HERE = re.compile(r"\bclick\s+(?:here|this\s+link|the\s+link(?:\s+below)?|below|now)\b", _I)
_NEGATION = re.compile(r"\b(?:never|not|don't|do\s+not|doesn't|won't|shouldn't|n't)\s+(?:\w+\s+){0,2}$", _I)


def _asks_for_credentials(sentence: str) -> bool:
    """"Send your password ..." in a sentence that gives orders (a clause opens with an imperative
    at or before it), unless it warns against it: "never send your password"."""
    for m in _ASK_CREDENTIAL.finditer(sentence):
        if _NEGATION.search(sentence[max(0, m.start() - 40) : m.start()]):
            continue
        if any(i.end() <= m.end() for i in _IMPERATIVE.finditer(sentence)):
            return True
    return False


def instruction_kind(sentence: str) -> str | None:
    """Why ``sentence`` is an instruction to the assistant or the reader, or None when it is not.

    Args:
        sentence: one sentence (or a title) of an article.

    Returns:
        ``"override"`` (ignore your instructions), ``"role"`` (you are now ..., chat role labels or
        template tokens), ``"prompt"`` (asks for or dictates the assistant's output), ``"lure"``
        (a call to action with a link, reward or credentials; "click here"), or None.
    """
    s = sentence.strip()
    if not s:
        return None
    if _OVERRIDE.search(s) or _OVERRIDE_ABOVE.search(s) or _NEW_INSTRUCTIONS.search(s):
        return "override"
    if _ADDRESS_AI.search(s) or _ROLE_LABEL.search(s) or _TEMPLATE.search(s):
        return "role"
    if _ROLE.search(s) and _AI_WORDS.search(s):
        return "role"
    if _PROMPT_REQUEST.search(s) or _DICTATE.search(s) or _TELL_READERS.search(s):
        return "prompt"
    if _CLICK_HERE.search(s) or _asks_for_credentials(s):
        return "lure"
    if _REWARD.search(s) and (_LINK.search(s) or _IMPERATIVE.search(s)):
        return "lure"
    return None


def is_instruction(sentence: str) -> bool:
    """True when ``sentence`` addresses the assistant or the reader with an instruction
    (see ``instruction_kind``)."""
    return instruction_kind(sentence) is not None
