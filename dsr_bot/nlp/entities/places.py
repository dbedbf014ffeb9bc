"""Where a person lives: Dutch and Belgian postcodes and street addresses."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dsr_bot.nlp.entities._model import Entity
from dsr_bot.nlp.entities._text import LOWER, UPPER, trie

_PC_NL = r"[1-9][0-9]{3}[ ]?(?!SA|SD|SS)[A-Z]{2}(?!\w)"
_POSTCODE_NL = re.compile(
    r"[1-9](?<![\w.,][1-9])(?<![0-9]-[1-9])[0-9]{3}[ ]?(?!SA|SD|SS)[A-Z]{2}(?!\w)"
)
_POSTCODE_BE = re.compile(r"B(?<![\w-]B)-([1-9][0-9]{3})(?!\w)")

_STREET_SUFFIXES = (
    "straat straatje laan laantje weg plein pleintje gracht kade singel dijk hof hoven park dreef "
    "steeg pad markt plantsoen baan wal dam haven ring plaats erf boulevard lei vest poort allee "
    "promenade kwartier veld oord zijde gang akker weide brink kanaal"
).split()
_SUFFIX = trie(_STREET_SUFFIXES)
_SUFFIX_WORD = trie(s.capitalize() for s in _STREET_SUFFIXES)
# Where to look: a space and a house number, after a word ending in a street suffix.
_SPACE_DIGIT = re.compile(r"[ ][1-9]")
_SUFFIX_TUPLE = tuple(_STREET_SUFFIXES)
# Capitalised words that start a sentence or label rather than a street name.
_STREET_STOP = (
    "Adres|Address|Woonadres|Postadres|Huisadres|Bezorgadres|Factuuradres|Mijn|My|Ons|Onze|Our|"
    "Ik|I|We|Wij|Naar|To|Op|At|In|Aan|On|Is|Het|Dit|Dat|Deze|Die|Nieuw|New|Juiste|Correct|"
    "Correcte|Wonend|Woonachtig|Living|Verhuisd|Moved|Graag|Please|Ook|Also|En|And|Of|Or|Via|Bij|"
    "Per|From|Sinds|Since|Tot|Until|Vanaf|Woon|Wonen|Woont|Lives|Live|Staat|Dus|So|Maar|But|"
    "Zie|See|Bezoek|Visit|Postbus|Tel|Telefoon|Phone|Naam|Name|Dear|Beste|Geachte|Hallo|Hi"
)
_LC_PARTICLE = r"(?:van|de|der|den|het|'t|ten|ter|la|le|op|aan|bij|in)"
_PLACE_PREFIX = r"(?:Den|Nieuw|Nieuwe|Oud|Oude|Sint|St\.|Groot|Klein|Hoog|Zuid|Noord|Oost|West)"
_PLACE_WORD = rf"[{UPPER}][{UPPER}{LOWER}'-]*"
_PLACE = (
    rf"(?:'[st][- ]?)?(?:{_PLACE_PREFIX}[ ])?{_PLACE_WORD}"
    rf"(?:[ ](?:(?:aan|den|de|op|bij|van|het|ter|ten|in|a/d)[ ])+{_PLACE_WORD})*"
)
ADDRESS = re.compile(
    rf"(?<![\w'\u2019-])"
    rf"(?:(?!(?:{_STREET_STOP})\b)[{UPPER}][{UPPER}{LOWER}'.-]*[ ]"
    rf"(?:{_LC_PARTICLE}[ ]){{0,2}}){{0,3}}"
    rf"(?:[{UPPER}][{LOWER}'-]*(?:{_SUFFIX})|{_SUFFIX_WORD})"
    r"[ ][1-9][0-9]{0,4}(?![0-9])"
    r"(?:[ ]?-[ ]?[0-9]{1,4}|/[0-9]{1,4}|[ ]bus[ ]?[0-9]{1,4}|[ ](?:III|II|IV|I)"
    r"|[ ]?-?[ ]?(?:bis|hs|huis|boven|[A-Za-z]))?(?!\w)"
    r"(?:(?:[ ]*,[ ]*(?:\r?\n[ \t]*)?|[ \t]*\r?\n[ \t]*|[ ]+)"
    rf"(?P<postcode>{_PC_NL}|(?:B-)?[1-9][0-9]{{3}}(?=[ ]+(?:'[st][- ]?)?[{UPPER}]))"
    rf"(?:[ ]*,?[ ]*(?P<place>{_PLACE}))?)?"
)
_ADDRESS_REACH = (80, 120)  # how far before / after a hint an address may start / end


def _postcode_value(raw: str) -> str:
    if raw[-1].isdecimal():  # Belgian
        return raw[-4:]
    return f"{raw[:4]} {raw[-2:]}"


def find_postcodes(text: str) -> Iterator[Entity]:
    for m in _POSTCODE_NL.finditer(text):
        yield Entity("postcode", m.group(), m.start(), m.end(), value=_postcode_value(m.group()))
    for m in _POSTCODE_BE.finditer(text):
        yield Entity("postcode", m.group(), m.start(), m.end(), value=m.group(1))


def one_line(text: str) -> str:
    parts = (" ".join(line.split()).strip(" ,") for line in text.splitlines())
    return ", ".join(part for part in parts if part)


def _address_around(text: str, hint: int, done: int) -> re.Match[str] | None:
    before, after = _ADDRESS_REACH
    pos, endpos = max(done, hint - before), hint + after
    while (m := ADDRESS.search(text, pos, endpos)) is not None and m.start() <= hint:
        if hint < m.end():
            return m
        pos = m.end()
    return None


def find_addresses(text: str, low: str) -> Iterator[Entity]:
    done = 0
    for space in _SPACE_DIGIT.finditer(text):
        hint = space.start()
        if hint < done or not low.endswith(_SUFFIX_TUPLE, 0, hint):
            continue
        if (m := _address_around(text, hint, done)) is None:
            continue
        done = m.end()
        yield Entity("address", m.group(), m.start(), m.end(), value=one_line(m.group()))
        if (raw := m.group("postcode")) is not None:
            start, end = m.span("postcode")
            yield Entity("postcode", raw, start, end, value=_postcode_value(raw))
