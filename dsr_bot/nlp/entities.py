"""Find the personal data a message names: e-mail, phone, dates, postcode, address, IBAN, BSN, ...

Pure and stdlib-only. Each kind is a precompiled pattern plus the check a pattern cannot make
(elfproef, ISO 13616 mod-97, the calendar, phone number lengths), so a run of digits is reported
only when it really is one of these.

Kinds: email, phone, date, birth_date, postcode, address, iban, student_number, name, bsn, and
new_value: the new value a rectification request states, with the field it updates.

Overlapping spans keep the more specific kind: iban > bsn > email > student_number > birth_date >
date > phone > address > postcode > name. An address and the postcode in it are both reported, and
a new_value is reported next to whatever other entity its text is.

Speed: every pattern starts with a literal or a character class, so the regex engine skips ahead
in C instead of trying the whole pattern at each position; keywords are matched case-sensitively
in a lower-cased copy of the text (same offsets). A 3,000-character mail takes well under 1 ms.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dsr_bot.domain.bsn import find_bsns

__all__ = ["KINDS", "Entity", "extract_entities"]

KINDS = (
    "email",
    "phone",
    "date",
    "birth_date",
    "postcode",
    "address",
    "iban",
    "student_number",
    "name",
    "bsn",
    "new_value",
)


@dataclass(frozen=True, slots=True)
class Entity:
    """One piece of personal data; `text` is input[start:end], `value` its normalised form.

    Normalised: e-mail lowercased, phone E.164, date ISO, IBAN compact uppercase, Dutch postcode
    "1234 AB" (Belgian: the four digits), BSN the nine digits. `field` is set for new_value only.
    """

    kind: str
    text: str
    start: int
    end: int
    field: str | None = None
    value: str | None = None


_U = "A-ZÀ-ÖØ-Þ"  # upper-case letters, Latin-1 included
_L = "a-zß-öø-ÿ"
_QUOTES = "\"'\u2018\u2019\u201c\u201d\u201e\u00ab\u00bb"
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


_Node = dict[str, "_Node"]
_SPECIAL = {" ": r"\s+", ":": r"\s*:"}


def _trie(phrases: Iterable[str]) -> str:
    """A pattern matching any of the literal phrases, longest first, written as a trie.

    A space in a phrase matches any run of whitespace, a colon may have whitespace before it. As a
    trie the alternatives at each point start with different characters, so the engine rejects a
    position after one comparison per branch instead of one per phrase.
    """
    tree: _Node = {}
    for phrase in phrases:
        node = tree
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}
    return _emit(tree)


def _emit(node: _Node) -> str:
    alts = [_SPECIAL.get(c, re.escape(c)) + _emit(sub) for c, sub in sorted(node.items()) if c]
    if not alts:
        return ""
    if len(alts) == 1 and "" not in node:
        return alts[0]
    return "(?:" + "|".join(alts) + ")" + ("?" if "" in node else "")


def _word_start(low: str, start: int) -> bool:
    return start == 0 or not low[start - 1].isalnum()


def _line_start(low: str, start: int) -> bool:
    return low[low.rfind("\n", 0, start) + 1 : start].strip(" \t") == ""


# --- e-mail ---------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9_%+-](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w-]|\.[A-Za-z0-9])"
)
_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "._%+-")


def _email_at(text: str, pos: int) -> Entity | None:
    m = _EMAIL.match(text, pos)
    if m is None:
        return None
    return Entity("email", m.group(), m.start(), m.end(), value=m.group().lower())


def _emails(text: str) -> Iterator[Entity]:
    # Work outwards from each "@": a mail has few of them and many words.
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        found = _email_at(text, start)
        if found is not None:
            yield found
        at = text.find("@", at + 1 if found is None else found.end)


# --- IBAN -----------------------------------------------------------------------------------------

# SEPA countries; an IBAN from elsewhere is not expected in mail to a Dutch school.
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31,
    "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
}  # fmt: skip
# Over-long on purpose (single spaces allowed anywhere); _iban cuts it at the country's length.
_IBAN = re.compile(r"[A-Za-z](?<![A-Za-z0-9][A-Za-z])[A-Za-z][0-9]{2}(?:[ ]?[A-Za-z0-9]){11,30}")
# Where to look: two digits after two letters that start a token (digits are rarer than letters).
_IBAN_HINT = re.compile(r"[0-9](?<=[A-Za-z]{2}[0-9])(?<![A-Za-z0-9]{3}[0-9])[0-9]")


def _iban_checksum_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _iban(m: re.Match[str]) -> Entity | None:
    raw = m.group()
    length = _IBAN_LENGTHS.get(raw[:2].upper())
    if length is None:
        return None
    count = 0
    for i, char in enumerate(raw):
        count += char != " "
        if count == length:
            end = m.start() + i + 1
            break
    else:
        return None
    text = m.string
    if text[end : end + 1].isalnum():
        return None
    compact = raw[: end - m.start()].replace(" ", "").upper()
    if not _iban_checksum_ok(compact):
        return None
    return Entity("iban", text[m.start() : end], m.start(), end, value=compact)


def _ibans(text: str) -> Iterator[Entity]:
    done = 0
    for hint in _IBAN_HINT.finditer(text):
        start = hint.start() - 2
        if start >= done and (m := _IBAN.match(text, start)) and (found := _iban(m)):
            yield found
            done = found.end


# --- BSN ------------------------------------------------------------------------------------------


def _bsns(text: str) -> Iterator[Entity]:
    # Exactly the numbers that masking removes, so what is shown and what is masked agree.
    for start, end, digits in find_bsns(text):
        yield Entity("bsn", text[start:end], start, end, value=digits)


# --- phone ----------------------------------------------------------------------------------------

_SEP = r"(?:\)[ ]?|[ ]?[-./][ ]?|[ ])"
# The first character is +, 0 or ( and the lookbehinds after it tell which form follows. For a
# national number that first 0 is not part of `body`.
_PHONE = re.compile(
    r"[+0(](?<![\w+#€$@/.,-][+0(])"
    r"(?:(?:(?<=\+)|(?<=0)0)(?P<cc>3[12])(?:[ .-]?\(0\))?[ .-]?\(?"
    r"|(?<=\()0(?=[1-9])|(?<=0)(?=[1-9]))"
    rf"(?P<body>[0-9]+(?:{_SEP}[0-9]+){{0,7}})"
)
_DIGITS = re.compile(r"[0-9]+")
# The tail of a spaced IBAN ("NL91 ABNA 0417 1643 00") must not turn into a phone number when the
# IBAN itself fails its checksum.
_IBAN_HEAD = re.compile(r"[A-Za-z]{2}[0-9]{2}[ ]?(?:[A-Za-z0-9]{4}[ ]?){1,2}$")
_NOT_PHONE_CONTEXT = re.compile(
    r"(?:order|bestel|factuur|invoice|dossier|referentie|reference|kenmerk|ticket|zaak|klant|"
    r"artikel|pakket|tracking|contract|polis)\w*(?:[ ]?(?:n(?:umme)?r|no|number|id))?"
    r"(?:[ ]+is)?[ .:#]*$"
)


def _phone_value(cc: str | None, number: str, sizes: list[int], slash: bool) -> str | None:
    if cc is not None:
        national = number[1:] if number.startswith("0") else number
        if cc == "31":
            ok = len(national) == 9 and national[0] != "0"
        else:
            ok = (len(national) == 8 and national[0] != "0") or (
                len(national) == 9 and national[0] == "4"
            )
        return f"+{cc}{national}" if ok else None
    if len(number) == 10 and number[1] != "0":
        # 046x-049x is a Belgian mobile when grouped the Belgian way, else a Dutch area code.
        belgian = number[1] == "4" and number[2] in "6789" and (sizes == [4, 2, 2, 2] or slash)
        return ("+32" if belgian else "+31") + number[1:]
    if len(number) == 9 and number[1] != "0" and len(sizes) > 1:
        return "+32" + number[1:]  # Belgian landline; Dutch numbers have ten digits
    return None


def _continues(text: str, end: int) -> bool:
    nxt = text[end : end + 1]
    return nxt.isalnum() or (nxt in ("-", ".", "/", ",") and text[end + 1 : end + 2].isdecimal())


def _phone(m: re.Match[str]) -> Entity | None:
    text, start, cc = m.string, m.start(), m.group("cc")
    body_start = m.start("body")
    runs = list(_DIGITS.finditer(m.group("body")))
    slash = len(runs) > 1 and text[body_start + runs[0].end()] == "/"
    lead = "" if cc is not None else "0"
    # Try the longest run of digit groups first: "06 1234 5678 12 keer" is still a phone number.
    for k in range(len(runs), 0, -1):
        number = lead + "".join(r.group() for r in runs[:k])
        if len(number) < 8:
            break
        end = body_start + runs[k - 1].end()
        if _continues(text, end):
            continue
        sizes = [len(r.group()) for r in runs[:k]]
        sizes[0] += len(lead)
        value = _phone_value(cc, number, sizes, slash)
        if value is not None:
            return Entity("phone", text[start:end], start, end, value=value)
    return None


def _phones(text: str, low: str) -> Iterator[Entity]:
    for m in _PHONE.finditer(text):
        start = m.start()
        if _IBAN_HEAD.search(text, max(0, start - 16), start) or _NOT_PHONE_CONTEXT.search(
            low, max(0, start - 40), start
        ):
            continue
        if (found := _phone(m)) is not None:
            yield found


# --- dates ----------------------------------------------------------------------------------------

_MONTHS = {
    "januari": 1, "january": 1, "jan": 1, "februari": 2, "february": 2, "febr": 2, "feb": 2,
    "maart": 3, "march": 3, "mrt": 3, "mar": 3, "april": 4, "apr": 4, "mei": 5, "may": 5,
    "juni": 6, "june": 6, "jun": 6, "juli": 7, "july": 7, "jul": 7, "augustus": 8, "august": 8,
    "aug": 8, "september": 9, "sept": 9, "sep": 9, "oktober": 10, "october": 10, "okt": 10,
    "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_MONTH = _trie(_MONTHS)
_NUM_END = r"(?!\w|[-/.,][0-9])"
_DAY = r"(?P<d>[0-9](?<![\w.,/-][0-9])[0-9]?)"
# All four run on the lower-cased text.
_DATES = (
    re.compile(rf"{_DAY}([-/.])(?P<m>[01]?[0-9])\2(?P<y>[12][0-9]{{3}}){_NUM_END}"),
    re.compile(
        rf"(?P<y>[12](?<![\w.,/-][12])[0-9]{{3}})([-/.])(?P<m>[01]?[0-9])\2(?P<d>[0-3]?[0-9])"
        rf"{_NUM_END}"
    ),
    re.compile(
        rf"{_DAY}(?:st|nd|rd|th|ste|de|e)?(?:[ ]+of)?[ ]+(?P<m>{_MONTH})\b\.?,?[ ]+"
        r"(?P<y>[12][0-9]{3})(?![0-9])"
    ),
    re.compile(
        rf"(?P<m>{_MONTH})\b\.?[ ]+(?P<d>[0-3]?[0-9])(?:st|nd|rd|th)?,?[ ]+(?P<y>[12][0-9]{{3}})"
        r"(?![0-9])"
    ),
)
_BIRTH_CONTEXT = re.compile(
    r"geboortedatum|geboren|\bgeb\b|date\s+of\s+birth|birth\s*date|birthday|\bborn\b|\bd\.?o\.?b\b"
)
_SENTENCE_BREAK = re.compile(rf"[.!?]\s+[{_U}]")


def _date(text: str, low: str, m: re.Match[str]) -> Entity | None:
    start = m.start()
    if not _word_start(low, start):
        return None
    month_text = m.group("m")
    month = int(month_text) if month_text.isdecimal() else _MONTHS[month_text]
    year = int(m.group("y"))
    if not 1900 <= year <= 2100:
        return None
    try:
        value = dt.date(year, month, int(m.group("d"))).isoformat()
    except ValueError:
        return None
    birth = False
    for cue in _BIRTH_CONTEXT.finditer(low, max(0, start - 40), start):
        birth = _SENTENCE_BREAK.search(text, cue.end(), start) is None
    kind = "birth_date" if birth else "date"
    return Entity(kind, text[start : m.end()], start, m.end(), value=value)


def _dates(text: str, low: str) -> Iterator[Entity]:
    for pattern in _DATES:
        for m in pattern.finditer(low):
            if (found := _date(text, low, m)) is not None:
                yield found


def _date_at(text: str, low: str, pos: int) -> Entity | None:
    for pattern in _DATES:
        if (m := pattern.match(low, pos)) is not None:
            return _date(text, low, m)
    return None


# --- postcode and address -------------------------------------------------------------------------

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
_SUFFIX = _trie(_STREET_SUFFIXES)
_SUFFIX_WORD = _trie(s.capitalize() for s in _STREET_SUFFIXES)
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
_PLACE_WORD = rf"[{_U}][{_U}{_L}'-]*"
_PLACE = (
    rf"(?:'[st][- ]?)?(?:{_PLACE_PREFIX}[ ])?{_PLACE_WORD}"
    rf"(?:[ ](?:(?:aan|den|de|op|bij|van|het|ter|ten|in|a/d)[ ])+{_PLACE_WORD})*"
)
_ADDRESS = re.compile(
    rf"(?<![\w'\u2019-])"
    rf"(?:(?!(?:{_STREET_STOP})\b)[{_U}][{_U}{_L}'.-]*[ ](?:{_LC_PARTICLE}[ ]){{0,2}}){{0,3}}"
    rf"(?:[{_U}][{_L}'-]*(?:{_SUFFIX})|{_SUFFIX_WORD})"
    r"[ ][1-9][0-9]{0,4}(?![0-9])"
    r"(?:[ ]?-[ ]?[0-9]{1,4}|/[0-9]{1,4}|[ ]bus[ ]?[0-9]{1,4}|[ ](?:III|II|IV|I)"
    r"|[ ]?-?[ ]?(?:bis|hs|huis|boven|[A-Za-z]))?(?!\w)"
    r"(?:(?:[ ]*,[ ]*(?:\r?\n[ \t]*)?|[ \t]*\r?\n[ \t]*|[ ]+)"
    rf"(?P<postcode>{_PC_NL}|(?:B-)?[1-9][0-9]{{3}}(?=[ ]+(?:'[st][- ]?)?[{_U}]))"
    rf"(?:[ ]*,?[ ]*(?P<place>{_PLACE}))?)?"
)
_ADDRESS_REACH = (80, 120)  # how far before / after a hint an address may start / end


def _postcode_value(raw: str) -> str:
    if raw[-1].isdecimal():  # Belgian
        return raw[-4:]
    return f"{raw[:4]} {raw[-2:]}"


def _postcodes(text: str) -> Iterator[Entity]:
    for m in _POSTCODE_NL.finditer(text):
        yield Entity("postcode", m.group(), m.start(), m.end(), value=_postcode_value(m.group()))
    for m in _POSTCODE_BE.finditer(text):
        yield Entity("postcode", m.group(), m.start(), m.end(), value=m.group(1))


def _one_line(text: str) -> str:
    parts = (" ".join(line.split()).strip(" ,") for line in text.splitlines())
    return ", ".join(part for part in parts if part)


def _address_around(text: str, hint: int, done: int) -> re.Match[str] | None:
    before, after = _ADDRESS_REACH
    pos, endpos = max(done, hint - before), hint + after
    while (m := _ADDRESS.search(text, pos, endpos)) is not None and m.start() <= hint:
        if hint < m.end():
            return m
        pos = m.end()
    return None


def _addresses(text: str, low: str) -> Iterator[Entity]:
    done = 0
    for space in _SPACE_DIGIT.finditer(text):
        hint = space.start()
        if hint < done or not low.endswith(_SUFFIX_TUPLE, 0, hint):
            continue
        if (m := _address_around(text, hint, done)) is None:
            continue
        done = m.end()
        yield Entity("address", m.group(), m.start(), m.end(), value=_one_line(m.group()))
        if (raw := m.group("postcode")) is not None:
            start, end = m.span("postcode")
            yield Entity("postcode", raw, start, end, value=_postcode_value(raw))


# --- student number -------------------------------------------------------------------------------

_STUDENT_NUMBER = re.compile(  # on the lower-cased text
    r"(?:student(?:en)?[ -]?(?:nummer|nr\.?|number|no\.?|id)|leerling(?:en)?[ -]?(?:nummer|nr\.?)"
    r"|cursist[ -]?(?:nummer|nr\.?)|deelnemers?[ -]?(?:nummer|nr\.?))"
    r"(?:[ ]+(?:is|was))?[ ]*[:#]?[ ]*"
    r"(?<![a-z0-9])(?P<token>[a-z0-9]{5,10})(?![a-z0-9])"
)


def _student_numbers(text: str, low: str) -> Iterator[Entity]:
    for m in _STUDENT_NUMBER.finditer(low):
        start, end = m.span("token")
        token = text[start:end]
        if _word_start(low, m.start()) and sum(c.isdecimal() for c in token) >= 4:
            yield Entity("student_number", token, start, end, value=token)


# --- names ----------------------------------------------------------------------------------------

_CAP = rf"[{_U}](?:'[{_U}])?[{_L}]+(?:[{_U}][{_L}]+)?(?:-[{_U}{_L}][{_L}]+)*"
_INITIALS = rf"[{_U}]\.(?:[ ]?[{_U}]\.){{0,3}}"
_PARTICLE = (
    r"(?:van|von|de|der|den|des|del|di|da|du|dos|het|'t|ter|ten|te|in|op|el|al|la|le|bin|ben|ibn|"
    r"abu|Van|Von|De|Der|Den|Ter|Ten|Te|El|Al|La|Le|Da|Di|Du)"
)
_NAME_TAIL = rf"(?:[ ](?:{_PARTICLE}[ ]){{0,3}}{_CAP}){{0,4}}(?![\w@-]|'\w|\.[{_U}{_L}0-9])"
_NAME = re.compile(rf"(?P<first>{_INITIALS}|{_CAP}){_NAME_TAIL}")
_SURNAME = re.compile(rf"(?:{_PARTICLE}[ ]){{0,3}}(?P<first>{_INITIALS}|{_CAP}){_NAME_TAIL}")
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
_CLOSING = re.compile(rf"{_trie(_CLOSINGS)}[ \t]*[,.!:]?[ \t]*(?:\r?\n[ \t]*){{0,3}}")
_GREETINGS = "beste geachte dear hallo hello hi hoi goedemorgen goedemiddag".split()
_TITLES = r"heer|mevrouw|meneer|mevr\.?|dhr\.?|mr\.?|mrs\.?|ms\.?|dr\.?"
_GREETING = re.compile(rf"{_trie(_GREETINGS)}(?:[ ]+(?:{_TITLES}))?[ ]+")
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
_INTRO = re.compile(rf"{_trie(_INTROS + _LABELS)}[ \t]*")
_SURNAME_INTRO = re.compile(rf"{_trie(_SURNAME_LABELS)}[ \t]*")


def _name_at(text: str, pos: int, pattern: re.Pattern[str] = _NAME) -> Entity | None:
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


def _names(text: str, low: str) -> Iterator[Entity]:
    triggers: list[tuple[re.Match[str], re.Pattern[str]]] = []
    for m in _CLOSING.finditer(low):
        # A closing opens its line or follows a sentence: "... Groeten, Jan".
        start = m.start()
        if _line_start(low, start) or (start >= 2 and low[start - 2 : start] in _AFTER_SENTENCE):
            triggers.append((m, _NAME))
    triggers += [(m, _NAME) for m in _GREETING.finditer(low) if _line_start(low, m.start())]
    triggers += [(m, _NAME) for m in _INTRO.finditer(low) if _word_start(low, m.start())]
    triggers += [(m, _SURNAME) for m in _SURNAME_INTRO.finditer(low) if _word_start(low, m.start())]
    for m, pattern in triggers:
        if (found := _name_at(text, m.end(), pattern)) is not None:
            yield found


# --- new values (rectification) -------------------------------------------------------------------

_FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "address": ("woonadres", "postadres", "huisadres", "adres", "address"),
    "email": (
        "e-mailadres", "emailadres", "mailadres", "e-mail adres", "e-mail", "email",
        "e-mail address", "email address", "mail address",
    ),
    "phone": (
        "telefoonnummer", "mobiele nummer", "mobiel nummer", "mobiele telefoonnummer",
        "gsm-nummer", "gsmnummer", "gsm", "phone number", "telephone number", "mobile number",
        "mobile phone number", "phone", "mobile", "telephone",
    ),
    "name": (
        "achternaam", "voornaam", "familienaam", "naam", "surname", "last name", "first name",
        "family name", "full name", "name",
    ),
    "birth_date": ("geboortedatum", "date of birth", "birth date", "birthdate", "dob"),
    "iban": (
        "bankrekeningnummer", "rekeningnummer", "iban-nummer", "iban", "bank account number",
        "bank account", "account number",
    ),
}  # fmt: skip
_FIELD_OF = {word: field for field, words in _FIELD_WORDS.items() for word in words}
# On the lower-cased text: a field word, then what says a new value follows.
_NEW_VALUE = re.compile(
    rf"(?P<field>{_trie(_FIELD_OF)})\b"
    r"(?:(?P<notbut>\s+(?:is|was|klopt)\s+(?:niet|not)\b[^\n]{1,60}?\b(?:maar|but)\s+"
    r"(?:(?:het|it|dat)\s+(?:is|moet\s+zijn|should\s+be)\s+)?)"
    r"|(?P<changed>\s+(?:(?:is|werd|wordt|has|have|was)\s+(?:been\s+)?)?(?:gewijzigd|veranderd|"
    r"aangepast|gecorrigeerd|changed|updated|corrected)\s+(?:naar|in|to|into)\b)"
    r"|(?P<spelled>\s+(?:wordt|is|moet\s+worden|should\s+be)\s+(?:gespeld|geschreven|spelled|"
    r"spelt|written)\s+(?:als|met|as)\b)"
    r"|(?P<verb>\s+(?:te\s+)?(?:wijzigen|veranderen|aanpassen|corrigeren|updaten|bijwerken)\s+"
    r"(?:naar|in)\b)"
    r"|(?P<must>\s+(?:moet|dient|should|must)\b(?:\s+(?:zijn|worden|be|read)\b)?)"
    r"|(?P<to>\s+(?:to|into|naar|in)\b)"
    r"|(?P<is>\s*(?:(?:is|are|luidt|wordt)\b\s*:?|:)(?:\s*(?P<now>nu|voortaan|vanaf\s+nu|now|"
    r"from\s+now\s+on)\b)?))"
)
# Just before the field word: "my new", "het juiste", "change my", "wijzig mijn".
_BEFORE_FIELD = re.compile(
    r"(?<![a-z])(?:(?P<imp>change|update|correct|amend|rectify|fix|wijzig|verander|corrigeer)\s+"
    r"(?:my|the|mijn|het|de)\s+|(?P<new>nieuwe?|juiste|correcte?|goede|new|correct|right|"
    r"updated)\s+)$"
)
_LEADING = re.compile(rf"[\s:{_QUOTES}]*")
_SENTENCE_END = re.compile(r"\n|;|[.!?](?=\s|$)")
_ABBREVIATIONS = frozenset("st dr mr mgr prof burg ir jhr sr jr".split())
_TRAILING_VERB = re.compile(r"\s+(?:zijn|worden|be)\s*$")


def _sentence_at(text: str, pos: int) -> str:
    for m in _SENTENCE_END.finditer(text, pos):
        if m.group() == ".":
            word = text[pos : m.start()].rsplit(maxsplit=1)[-1:]
            if word and word[0].lower() in _ABBREVIATIONS:
                continue
        return text[pos : m.start()]
    return text[pos:]


def _value_at(text: str, low: str, pos: int, field: str) -> tuple[int, int, str] | None:
    found: Entity | None = None
    if field == "email":
        found = _email_at(text, pos)
    elif field == "phone":
        m = _PHONE.match(text, pos)
        found = None if m is None else _phone(m)
    elif field == "birth_date":
        found = _date_at(text, low, pos)
    elif field == "iban":
        m = _IBAN.match(text, pos)
        found = None if m is None else _iban(m)
    elif field == "name":
        found = _name_at(text, pos, _SURNAME)
    else:  # address: the rest of the line or sentence, or the recognised address if longer
        sentence = _sentence_at(text, pos)
        sentence = _TRAILING_VERB.sub("", sentence).rstrip(f" \t,{_QUOTES}")
        end = pos + len(sentence)
        if (m := _ADDRESS.match(text, pos)) is not None and m.end() > end:
            end = m.end()
        elif not any(c.isdecimal() for c in sentence) or len(sentence) > 150:
            return None
        return pos, end, _one_line(text[pos:end])
    if found is None or found.value is None:
        return None
    return found.start, found.end, found.value


def _new_values(text: str, low: str) -> Iterator[Entity]:
    for m in _NEW_VALUE.finditer(low):
        start = m.start()
        if not _word_start(low, start):
            continue
        before = _BEFORE_FIELD.search(low, max(0, start - 30), start)
        imp = before is not None and before.group("imp") is not None
        new = before is not None and before.group("new") is not None
        if m.group("to") is not None and not imp:
            continue
        if m.group("is") is not None and not new and m.group("now") is None:
            continue
        field = _FIELD_OF[" ".join(m.group("field").split())]
        lead = _LEADING.match(text, m.end())
        found = _value_at(text, low, m.end() if lead is None else lead.end(), field)
        if found is not None:
            start, end, value = found
            yield Entity("new_value", text[start:end], start, end, field=field, value=value)


# --- putting it together --------------------------------------------------------------------------

_RANK = {
    "iban": 10,
    "bsn": 9,
    "email": 8,
    "student_number": 7,
    "birth_date": 6,
    "date": 5,
    "phone": 4,
    "address": 3,
    "postcode": 2,
    "name": 1,
    "new_value": 0,
}
_BOTH_KEPT = frozenset({"address", "postcode"})
_DIGIT_CHARS = frozenset(string.digits)


def _candidates(text: str) -> Iterator[Entity]:
    low = text.lower()
    if len(low) != len(text):  # a few characters lower-case to two; keep the offsets
        low = text.translate(_ASCII_LOWER)
    if "@" in text:
        yield from _emails(text)
    if not _DIGIT_CHARS.isdisjoint(text):
        yield from _ibans(text)
        yield from _bsns(text)
        yield from _phones(text, low)
        yield from _dates(text, low)
        yield from _postcodes(text)
        yield from _addresses(text, low)
        yield from _student_numbers(text, low)
    yield from _new_values(text, low)
    yield from _names(text, low)


def _conflict(a: Entity, b: Entity) -> bool:
    if a.start >= b.end or b.start >= a.end:
        return False
    if "new_value" in (a.kind, b.kind):
        return False
    return {a.kind, b.kind} != _BOTH_KEPT


def _resolve(cluster: list[Entity]) -> list[Entity]:
    """The entities of one run of overlapping spans that survive, most specific first."""
    if len(cluster) == 1:
        return cluster
    kept: list[Entity] = []
    for entity in sorted(cluster, key=lambda e: (-_RANK[e.kind], e.start, -e.end)):
        if not any(_conflict(entity, other) for other in kept):
            kept.append(entity)
    return kept


def extract_entities(text: str) -> list[Entity]:
    """Every entity found in `text`, sorted by start (then end)."""
    kept: list[Entity] = []
    cluster: list[Entity] = []
    cluster_end = -1
    for entity in sorted(set(_candidates(text)), key=lambda e: (e.start, e.end, e.kind)):
        if entity.start >= cluster_end and cluster:
            kept += _resolve(cluster)
            cluster = []
        cluster.append(entity)
        cluster_end = max(cluster_end, entity.end)
    kept += _resolve(cluster) if cluster else []
    kept.sort(key=lambda e: (e.start, e.end, e.kind))
    return kept
