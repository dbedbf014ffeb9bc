"""Dates in Dutch and English notation, and which of them are dates of birth."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from dsr_bot.nlp.entities._model import Entity
from dsr_bot.nlp.entities._text import UPPER, trie, word_start

_MONTHS = {
    "januari": 1, "january": 1, "jan": 1, "februari": 2, "february": 2, "febr": 2, "feb": 2,
    "maart": 3, "march": 3, "mrt": 3, "mar": 3, "april": 4, "apr": 4, "mei": 5, "may": 5,
    "juni": 6, "june": 6, "jun": 6, "juli": 7, "july": 7, "jul": 7, "augustus": 8, "august": 8,
    "aug": 8, "september": 9, "sept": 9, "sep": 9, "oktober": 10, "october": 10, "okt": 10,
    "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_MONTH = trie(_MONTHS)
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
_SENTENCE_BREAK = re.compile(rf"[.!?]\s+[{UPPER}]")


def _date(text: str, low: str, m: re.Match[str]) -> Entity | None:
    start = m.start()
    if not word_start(low, start):
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


def find_dates(text: str, low: str) -> Iterator[Entity]:
    for pattern in _DATES:
        for m in pattern.finditer(low):
            if (found := _date(text, low, m)) is not None:
                yield found


def date_at(text: str, low: str, pos: int) -> Entity | None:
    for pattern in _DATES:
        if (m := pattern.match(low, pos)) is not None:
            return _date(text, low, m)
    return None
