"""Contact details: e-mail addresses and Dutch and Belgian phone numbers."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator

from dsr_bot.nlp.entities._model import Entity

# --- e-mail ---------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9_%+-](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w-]|\.[A-Za-z0-9])"
)
_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "._%+-")


def email_at(text: str, pos: int) -> Entity | None:
    m = _EMAIL.match(text, pos)
    if m is None:
        return None
    return Entity("email", m.group(), m.start(), m.end(), value=m.group().lower())


def find_emails(text: str) -> Iterator[Entity]:
    # Work outwards from each "@": a mail has few of them and many words.
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        found = email_at(text, start)
        if found is not None:
            yield found
        at = text.find("@", at + 1 if found is None else found.end)


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


def phone_at(text: str, pos: int) -> Entity | None:
    m = _PHONE.match(text, pos)
    return None if m is None else _phone(m)


def find_phones(text: str, low: str) -> Iterator[Entity]:
    for m in _PHONE.finditer(text):
        start = m.start()
        if _IBAN_HEAD.search(text, max(0, start - 16), start) or _NOT_PHONE_CONTEXT.search(
            low, max(0, start - 40), start
        ):
            continue
        if (found := _phone(m)) is not None:
            yield found
