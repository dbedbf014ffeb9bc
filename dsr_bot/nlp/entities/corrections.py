"""New values for rectification: "my new address is ...", with the field each one updates."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dsr_bot.nlp.entities._model import Entity
from dsr_bot.nlp.entities._text import QUOTES, trie, word_start
from dsr_bot.nlp.entities.contact import email_at, phone_at
from dsr_bot.nlp.entities.dates import date_at
from dsr_bot.nlp.entities.names import SURNAME, name_at
from dsr_bot.nlp.entities.numbers import iban_at
from dsr_bot.nlp.entities.places import ADDRESS, one_line

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
    rf"(?P<field>{trie(_FIELD_OF)})\b"
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
_LEADING = re.compile(rf"[\s:{QUOTES}]*")
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
        found = email_at(text, pos)
    elif field == "phone":
        found = phone_at(text, pos)
    elif field == "birth_date":
        found = date_at(text, low, pos)
    elif field == "iban":
        found = iban_at(text, pos)
    elif field == "name":
        found = name_at(text, pos, SURNAME)
    else:  # address: the rest of the line or sentence, or the recognised address if longer
        sentence = _sentence_at(text, pos)
        sentence = _TRAILING_VERB.sub("", sentence).rstrip(f" \t,{QUOTES}")
        end = pos + len(sentence)
        if (m := ADDRESS.match(text, pos)) is not None and m.end() > end:
            end = m.end()
        elif not any(c.isdecimal() for c in sentence) or len(sentence) > 150:
            return None
        return pos, end, one_line(text[pos:end])
    if found is None or found.value is None:
        return None
    return found.start, found.end, found.value


def find_new_values(text: str, low: str) -> Iterator[Entity]:
    for m in _NEW_VALUE.finditer(low):
        start = m.start()
        if not word_start(low, start):
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
