from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from dsr_bot.domain.calendar_nl import (
    easter_sunday,
    is_working_day,
    next_working_day_on_or_after,
    public_holidays,
)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2014, date(2014, 4, 20)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),  # latest possible date
        (2285, date(2285, 3, 22)),  # earliest possible date
        (1818, date(1818, 3, 22)),
        (2000, date(2000, 4, 23)),
    ],
)
def test_easter_sunday(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter
    assert easter.weekday() == 6


def test_holidays_2026_exactly() -> None:
    # Easter Sunday 5 April 2026; 27 April 2026 is a Monday.
    assert public_holidays(2026) == {
        date(2026, 1, 1),  # Nieuwjaarsdag
        date(2026, 4, 3),  # Goede Vrijdag
        date(2026, 4, 5),  # eerste Paasdag
        date(2026, 4, 6),  # tweede Paasdag
        date(2026, 4, 27),  # Koningsdag
        date(2026, 5, 5),  # 5 mei
        date(2026, 5, 14),  # Hemelvaartsdag
        date(2026, 5, 24),  # eerste Pinksterdag
        date(2026, 5, 25),  # tweede Pinksterdag
        date(2026, 12, 25),
        date(2026, 12, 26),
    }


@pytest.mark.parametrize(
    ("year", "koningsdag"),
    [
        (2014, date(2014, 4, 26)),  # 27 April 2014 was a Sunday
        (2024, date(2024, 4, 27)),  # a Saturday: stays on the 27th
        (2025, date(2025, 4, 26)),  # 27 April 2025 is a Sunday
        (2026, date(2026, 4, 27)),
        (2031, date(2031, 4, 26)),
    ],
)
def test_koningsdag(year: int, koningsdag: date) -> None:
    holidays = public_holidays(year)
    assert koningsdag in holidays
    april = {d for d in holidays if d.month == 4 and d.day in (26, 27)}
    assert april == {koningsdag}


@pytest.mark.parametrize("year", [2014, 2024, 2025, 2026, 2027, 2028, 2029, 2030])
def test_fifth_of_may_every_year(year: int) -> None:
    assert date(year, 5, 5) in public_holidays(year)


@pytest.mark.parametrize("year", range(2014, 2060))
def test_easter_dependent_days(year: int) -> None:
    easter = easter_sunday(year)
    holidays = public_holidays(year)
    for offset in (-2, 0, 1, 39, 49, 50):
        assert easter + timedelta(days=offset) in holidays
    # Goede Vrijdag is a Friday, Hemelvaart a Thursday, the second days Mondays.
    assert (easter - timedelta(days=2)).weekday() == 4
    assert (easter + timedelta(days=39)).weekday() == 3
    assert (easter + timedelta(days=50)).weekday() == 0


def test_coinciding_days_count_once() -> None:
    # Easter 27 March 2016 put Hemelvaartsdag on 5 May.
    assert easter_sunday(2016) + timedelta(days=39) == date(2016, 5, 5)
    assert len(public_holidays(2016)) == 10
    assert len(public_holidays(2026)) == 11


def test_not_holidays() -> None:
    holidays = public_holidays(2026)
    for day in (date(2026, 4, 30), date(2026, 5, 15), date(2026, 12, 31), date(2026, 12, 24)):
        assert day not in holidays


def test_before_2014_is_refused() -> None:
    with pytest.raises(ValueError, match="2014"):
        public_holidays(2013)


def test_extra_days_are_merged_for_their_year_only() -> None:
    friday_after_ascension = date(2026, 5, 15)
    other_year = date(2027, 5, 7)
    holidays = public_holidays(2026, [friday_after_ascension, other_year])
    assert friday_after_ascension in holidays
    assert other_year not in holidays
    # The cached base set is not changed by extras.
    assert friday_after_ascension not in public_holidays(2026)


def test_cached_per_year() -> None:
    assert public_holidays(2026) is public_holidays(2026)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 4, 28), True),  # Tuesday
        (date(2026, 4, 27), False),  # Koningsdag, Monday
        (date(2026, 5, 2), False),  # Saturday
        (date(2026, 5, 3), False),  # Sunday
        (date(2026, 5, 5), False),  # Tuesday, 5 mei
        (date(2026, 4, 3), False),  # Goede Vrijdag
        (date(2026, 5, 15), True),  # Friday after Ascension, unless equated
        (date(2026, 12, 24), True),
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_is_working_day_with_extra() -> None:
    assert not is_working_day(date(2026, 5, 15), [date(2026, 5, 15)])


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 4, 28), date(2026, 4, 28)),  # already a working day
        (date(2026, 4, 2), date(2026, 4, 2)),  # Thursday before Goede Vrijdag
        (date(2026, 4, 3), date(2026, 4, 7)),  # Goede Vrijdag .. tweede Paasdag
        (date(2026, 4, 25), date(2026, 4, 28)),  # Saturday, Sunday, Koningsdag
        (date(2026, 5, 23), date(2026, 5, 26)),  # Pinksteren weekend + Monday
        (date(2026, 12, 25), date(2026, 12, 28)),  # Friday Kerst, weekend
        (
            date(2023, 12, 30),
            date(2024, 1, 2),
        ),  # Saturday, Sunday, Nieuwjaarsdag: into the next year
        (date(2025, 4, 26), date(2025, 4, 28)),  # Koningsdag on Saturday, then Sunday
    ],
)
def test_next_working_day_on_or_after(day: date, expected: date) -> None:
    assert next_working_day_on_or_after(day) == expected


def test_next_working_day_with_extra_from_an_iterator() -> None:
    # A one-shot iterator must still count on every day the loop looks at.
    extras = iter([date(2026, 5, 15), date(2026, 5, 18)])
    assert next_working_day_on_or_after(date(2026, 5, 14), extras) == date(2026, 5, 19)


def test_datetime_is_refused() -> None:
    # datetime(2026, 4, 27) != date(2026, 4, 27), so it would silently look like a working day.
    with pytest.raises(TypeError):
        is_working_day(datetime(2026, 4, 27, 12, 0))
    with pytest.raises(TypeError):
        public_holidays(2026, [datetime(2026, 5, 15)])
