"""Numbers that identify a person: IBAN, BSN and student number."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dsr_bot.domain import bsn
from dsr_bot.nlp.entities._model import Entity
from dsr_bot.nlp.entities._text import word_start

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


def iban_at(text: str, pos: int) -> Entity | None:
    m = _IBAN.match(text, pos)
    return None if m is None else _iban(m)


def find_ibans(text: str) -> Iterator[Entity]:
    done = 0
    for hint in _IBAN_HINT.finditer(text):
        start = hint.start() - 2
        if start >= done and (m := _IBAN.match(text, start)) and (found := _iban(m)):
            yield found
            done = found.end


# --- BSN ------------------------------------------------------------------------------------------


def find_bsns(text: str) -> Iterator[Entity]:
    # Exactly the numbers that masking removes, so what is shown and what is masked agree.
    for start, end, digits in bsn.find_bsns(text):
        yield Entity("bsn", text[start:end], start, end, value=digits)


# --- student number -------------------------------------------------------------------------------

_STUDENT_NUMBER = re.compile(  # on the lower-cased text
    r"(?:student(?:en)?[ -]?(?:nummer|nr\.?|number|no\.?|id)|leerling(?:en)?[ -]?(?:nummer|nr\.?)"
    r"|cursist[ -]?(?:nummer|nr\.?)|deelnemers?[ -]?(?:nummer|nr\.?))"
    r"(?:[ ]+(?:is|was))?[ ]*[:#]?[ ]*"
    r"(?<![a-z0-9])(?P<token>[a-z0-9]{5,10})(?![a-z0-9])"
)


def find_student_numbers(text: str, low: str) -> Iterator[Entity]:
    for m in _STUDENT_NUMBER.finditer(low):
        start, end = m.span("token")
        token = text[start:end]
        if word_start(low, m.start()) and sum(c.isdecimal() for c in token) >= 4:
            yield Entity("student_number", token, start, end, value=token)
