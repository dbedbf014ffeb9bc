"""Personal names, found after a greeting, a closing, an introduction or a label."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dsr_bot.nlp.entities._model import Entity
from dsr_bot.nlp.entities._text import LOWER, UPPER, line_start, trie, word_start

_CAP = (
    rf"[{UPPER}](?:'[{UPPER}])?[{LOWER}]+(?:[{UPPER}][{LOWER}]+)?"
    rf"(?:-[{UPPER}{LOWER}][{LOWER}]+)*"
)
_INITIALS = rf"[{UPPER}]\.(?:[ ]?[{UPPER}]\.){{0,3}}"
_PARTICLE = (
    r"(?:van|von|de|der|den|des|del|di|da|du|dos|het|'t|ter|ten|te|in|op|el|al|la|le|bin|ben|ibn|"
    r"abu|Van|Von|De|Der|Den|Ter|Ten|Te|El|Al|La|Le|Da|Di|Du)"
)
_NAME_TAIL = (
    rf"(?:[ ](?:{_PARTICLE}[ ]){{0,3}}{_CAP}){{0,4}}"
    rf"(?![\w@-]|'\w|\.[{UPPER}{LOWER}0-9])"
)
_NAME = re.compile(rf"(?P<first>{_INITIALS}|{_CAP}){_NAME_TAIL}")
SURNAME = re.compile(rf"(?:{_PARTICLE}[ ]){{0,3}}(?P<first>{_INITIALS}|{_CAP}){_NAME_TAIL}")
_PARTICLES = frozenset(re.findall(r"[\w']+", _PARTICLE))
# Any of these in a capitalised run makes it an organisation or a title, not a person.
_ORG_WORDS = frozenset(
    (
        "academie academy werkend leren onderwijs school college hogeschool universiteit "
        "university instituut institute team afdeling department klantenservice customer support "
        "service services helpdesk administratie studentenadministratie secretariaat stichting "
        "foundation groep group bureau privacy functionaris gegevensbescherming officer company "
        "gemeente centrum center centre opleiding opleidingen training trainingen bv nv vof ltd "
        "inc avg gdpr directeur director manager"
    ).split()
)
# Triggers run on the lower-cased text.
_CLOSINGS = [
    f"{met}{kind} {word}"
    for met in ("met ", "")
    for kind in ("vriendelijke", "hartelijke", "beste", "warme", "lieve", "collegiale")
    for word in ("groet", "groeten")
] + [
    "met groet", "met groeten", "groet", "groeten", "groetjes", "hoogachtend", "mvg", "m.v.g.",
    "gr.", "kind regards", "with kind regards", "best regards", "warm regards", "kindest regards",
    "warmest regards", "regards", "best wishes", "sincerely", "yours sincerely",
    "yours faithfully", "yours truly", "thanks", "many thanks", "thanks in advance", "thank you",
    "cheers", "bij voorbaat dank", "alvast bedankt", "bedankt", "hartelijk bedankt",
    "dank u wel", "dank je wel",
]  # fmt: skip
_CLOSING = re.compile(rf"{trie(_CLOSINGS)}[ \t]*[,.!:]?[ \t]*(?:\r?\n[ \t]*){{0,3}}")
_GREETINGS = "beste geachte dear hallo hello hi hoi goedemorgen goedemiddag".split()
_TITLES = r"heer|mevrouw|meneer|mevr\.?|dhr\.?|mr\.?|mrs\.?|ms\.?|dr\.?"
_GREETING = re.compile(rf"{trie(_GREETINGS)}(?:[ ]+(?:{_TITLES}))?[ ]+")
# A name never starts with one of these capitalised words, nor with a greeting or closing word.
_NOT_FIRST_WORDS = (
    "ik i we wij hier dit het een graag bedankt thanks namens sent verzonden student docent "
    "cursist deelnemer dutch english nederlands nederlander belgian belg not writing happy sorry "
    "afzender the a an mijn my uw your per via met with from na after benieuwd blij bezig klant "
    "sir madam heer mevrouw meneer"
).split()
_NOT_FIRST = _ORG_WORDS.union(
    _NOT_FIRST_WORDS, (word for phrase in _CLOSINGS + _GREETINGS for word in phrase.split())
)
_AFTER_SENTENCE = frozenset({". ", "! ", "? ", ", "})
_INTROS = ["mijn naam is", "ik heet", "ik ben", "my name is", "i am", "i'm", "ondergetekende"]
_LABELS = ["naam:", "volledige naam:", "voornaam:", "name:", "full name:", "first name:"]
_SURNAME_LABELS = ["achternaam:", "surname:", "last name:"]
_INTRO = re.compile(rf"{trie(_INTROS + _LABELS)}[ \t]*")
_SURNAME_INTRO = re.compile(rf"{trie(_SURNAME_LABELS)}[ \t]*")


def name_at(text: str, pos: int, pattern: re.Pattern[str] = _NAME) -> Entity | None:
    m = pattern.match(text, pos)
    if m is None or m.group("first").lower() in _NOT_FIRST:
        return None
    words = m.group().split(" ")
    # Cut the name before an organisation word ("Jan de Vries Academie Werkend Leren").
    for i, word in enumerate(words):
        if word.lower() in _ORG_WORDS and word not in _PARTICLES:
            words = words[:i]
            break
    while words and words[-1] in _PARTICLES:
        words.pop()
    if all(word.endswith(".") or word in _PARTICLES for word in words):
        return None  # nothing left, or initials alone
    name = " ".join(words)
    return Entity("name", name, m.start(), m.start() + len(name), value=name)


def find_names(text: str, low: str) -> Iterator[Entity]:
    triggers: list[tuple[re.Match[str], re.Pattern[str]]] = []
    for m in _CLOSING.finditer(low):
        # A closing opens its line or follows a sentence: "... Groeten, Jan".
        start = m.start()
        if line_start(low, start) or (start >= 2 and low[start - 2 : start] in _AFTER_SENTENCE):
            triggers.append((m, _NAME))
    triggers += [(m, _NAME) for m in _GREETING.finditer(low) if line_start(low, m.start())]
    triggers += [(m, _NAME) for m in _INTRO.finditer(low) if word_start(low, m.start())]
    triggers += [(m, SURNAME) for m in _SURNAME_INTRO.finditer(low) if word_start(low, m.start())]
    for m, pattern in triggers:
        if (found := name_at(text, m.end(), pattern)) is not None:
            yield found
