"""Dutch public holidays and working days, for rolling GDPR deadlines (legal.md section 1).

The list is that of the Algemene termijnenwet art. 3; using it for GDPR periods is our reading
(legal.md). Days equated by royal decree (art. 3(3), often the Friday after Ascension) are not
predictable, so callers pass them in as `extra`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, datetime, timedelta

# Koningsdag (27 April) replaced Koninginnedag (30 April) in 2014; earlier years had other rules.
FIRST_SUPPORTED_YEAR = 2014


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian / Meeus-Jones-Butcher algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _koningsdag(year: int) -> date:
    king = date(year, 4, 27)
    # Celebrated on Saturday the 26th when the 27th is a Sunday.
    return king - timedelta(days=1) if king.weekday() == 6 else king


@functools.lru_cache(maxsize=128)
def _statutory_holidays(year: int) -> frozenset[date]:
    if year < FIRST_SUPPORTED_YEAR:
        raise ValueError(f"holidays are only defined from {FIRST_SUPPORTED_YEAR}, not {year}")
    easter = easter_sunday(year)
    return frozenset(
        {
            date(year, 1, 1),  # Nieuwjaarsdag
            easter - timedelta(days=2),  # Goede Vrijdag (art. 3(2))
            easter,  # eerste Paasdag
            easter + timedelta(days=1),  # tweede Paasdag
            _koningsdag(year),
            date(year, 5, 5),  # Bevrijdingsdag, every year for this Act
            easter + timedelta(days=39),  # Hemelvaartsdag
            easter + timedelta(days=49),  # eerste Pinksterdag
            easter + timedelta(days=50),  # tweede Pinksterdag
            date(year, 12, 25),  # eerste Kerstdag
            date(year, 12, 26),  # tweede Kerstdag
        }
    )


def _plain_date(day: date) -> date:
    # A datetime never compares equal to a date, so it would silently miss every holiday.
    if isinstance(day, datetime):
        raise TypeError("expected a date, got a datetime")
    return day


def public_holidays(year: int, extra: Iterable[date] = ()) -> frozenset[date]:
    """Holidays of `year` under Atw art. 3, plus those `extra` days that fall in `year`."""
    base = _statutory_holidays(year)
    extra_days = {d for d in map(_plain_date, extra) if d.year == year}
    return base | extra_days if extra_days else base


def is_working_day(day: date, extra: Iterable[date] = ()) -> bool:
    """False on Saturday, Sunday and public holidays (including `extra` days), else True."""
    day = _plain_date(day)
    return day.weekday() < 5 and day not in public_holidays(day.year, extra)


def next_working_day_on_or_after(day: date, extra: Iterable[date] = ()) -> date:
    """`day` itself when it is a working day, else the first working day after it."""
    extra_days = frozenset(extra)  # may be a one-shot iterator; it is read on every step
    while not is_working_day(day, extra_days):
        day += timedelta(days=1)
    return day
