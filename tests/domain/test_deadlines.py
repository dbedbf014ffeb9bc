from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dsr_bot.domain.calendar_nl import is_working_day
from dsr_bot.domain.deadlines import (
    AMSTERDAM,
    Deadlines,
    add_months,
    compute_deadlines,
    receipt_date,
)


def at_noon(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=AMSTERDAM)


def d(day: str) -> date:
    return date.fromisoformat(day)


# --- add_months -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2024-03-05", 1, "2024-04-05"),  # EDPB: 5 March -> 5 April
        ("2024-08-31", 1, "2024-09-30"),  # EDPB: 31 August -> 30 September
        ("2024-01-31", 1, "2024-02-29"),  # leap year
        ("2025-01-31", 1, "2025-02-28"),
        ("2024-01-31", 2, "2024-03-31"),  # not chained through February
        ("2024-12-15", 1, "2025-01-15"),  # year boundary
        ("2024-11-30", 3, "2025-02-28"),
        ("2023-11-30", 3, "2024-02-29"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2024-05-31", -1, "2024-04-30"),
        ("2024-01-15", -1, "2023-12-15"),
        ("2024-01-31", 0, "2024-01-31"),
    ],
)
def test_add_months(day: str, months: int, expected: str) -> None:
    assert add_months(d(day), months) == d(expected)


# --- receipt_date ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received_at", "expected"),
    [
        (datetime(2024, 1, 31, 22, 59, tzinfo=UTC), "2024-01-31"),  # 23:59 CET
        (datetime(2024, 1, 31, 23, 0, tzinfo=UTC), "2024-02-01"),  # 00:00 CET
        (datetime(2024, 1, 31, 23, 30, tzinfo=UTC), "2024-02-01"),
        (datetime(2024, 6, 30, 21, 59, tzinfo=UTC), "2024-06-30"),  # 23:59 CEST
        (datetime(2024, 6, 30, 22, 30, tzinfo=UTC), "2024-07-01"),  # 00:30 CEST
        (datetime(2024, 1, 31, 18, 30, tzinfo=timezone(timedelta(hours=-5))), "2024-02-01"),
        (datetime(2024, 1, 31, 0, 10, tzinfo=AMSTERDAM), "2024-01-31"),
    ],
)
def test_receipt_date_is_amsterdam_calendar_date(received_at: datetime, expected: str) -> None:
    assert receipt_date(received_at) == d(expected)


def test_naive_datetime_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        receipt_date(datetime(2024, 3, 5, 12, 0))
    with pytest.raises(ValueError, match="timezone"):
        compute_deadlines(datetime(2024, 3, 5, 12, 0))


def test_amsterdam_zone() -> None:
    assert AMSTERDAM.key == "Europe/Amsterdam"


# --- compute_deadlines ----------------------------------------------------------------------------

# received (noon, Amsterdam), promise (4 weeks), legal (1 month), legal_extended (3 months).
# Weekdays and holidays worked out by hand; rolled dates say why.
CASES = [
    pytest.param(
        "2024-03-05", "2024-04-02", "2024-04-05", "2024-06-05", id="edpb-5-march-2024-no-roll"
    ),
    pytest.param(
        # 28 Sep is a Saturday; 30 Nov a Saturday.
        "2024-08-31",
        "2024-09-30",
        "2024-09-30",
        "2024-12-02",
        id="edpb-31-august-2024",
    ),
    pytest.param(
        # 5 April 2026 is Easter Sunday, 6 April tweede Paasdag.
        "2026-03-05",
        "2026-04-02",
        "2026-04-07",
        "2026-06-05",
        id="edpb-5-march-2026-rolls",
    ),
    pytest.param(
        # 30 Sep 2023 is a Saturday.
        "2023-08-31",
        "2023-09-28",
        "2023-10-02",
        "2023-11-30",
        id="edpb-31-august-2023-rolls",
    ),
    pytest.param(
        # Monday 27 April 2026 is Koningsdag; 27 June 2026 a Saturday.
        "2026-03-27",
        "2026-04-24",
        "2026-04-28",
        "2026-06-29",
        id="koningsdag-2026",
    ),
    pytest.param(
        # Friday 26 Dec 2025 is tweede Kerstdag, then a weekend.
        "2025-11-26",
        "2025-12-24",
        "2025-12-29",
        "2026-02-26",
        id="tweede-kerstdag-2025",
    ),
    pytest.param(
        # Sat 30 Dec, Sun 31 Dec 2023, Mon 1 Jan 2024 Nieuwjaarsdag; 3 months clamps to 29 Feb.
        "2023-11-30",
        "2023-12-28",
        "2024-01-02",
        "2024-02-29",
        id="over-new-year",
    ),
    pytest.param(
        # 3 May 2026 is a Sunday; Tuesday 5 May 2026 is 5 mei; 5 July a Sunday.
        "2026-04-05",
        "2026-05-04",
        "2026-05-06",
        "2026-07-06",
        id="5-mei-2026",
    ),
    pytest.param(
        # Thursday 14 May 2026 is Hemelvaartsdag.
        "2026-04-14",
        "2026-05-12",
        "2026-05-15",
        "2026-07-14",
        id="hemelvaart-2026",
    ),
    pytest.param(
        # 23-24 May 2026 weekend, Monday 25 May tweede Pinksterdag; 25 July a Saturday.
        "2026-04-25",
        "2026-05-26",
        "2026-05-26",
        "2026-07-27",
        id="pinksteren-2026",
    ),
    pytest.param(
        # Monday 1 April 2024 is tweede Paasdag.
        "2024-03-04",
        "2024-04-02",
        "2024-04-04",
        "2024-06-04",
        id="promise-on-paasmaandag",
    ),
]


@pytest.mark.parametrize(("received", "promise", "legal", "extended"), CASES)
def test_compute_deadlines(received: str, promise: str, legal: str, extended: str) -> None:
    assert compute_deadlines(at_noon(received)) == Deadlines(
        received_on=d(received), promise=d(promise), legal=d(legal), legal_extended=d(extended)
    )


def test_receipt_late_utc_counts_from_amsterdam_date() -> None:
    # 23:30 UTC on 31 Jan is 00:30 on 1 Feb in Amsterdam: one month later is 1 March, not 29 Feb.
    result = compute_deadlines(datetime(2024, 1, 31, 23, 30, tzinfo=UTC))
    assert result == Deadlines(
        received_on=d("2024-02-01"),
        promise=d("2024-02-29"),
        legal=d("2024-03-01"),
        legal_extended=d("2024-05-01"),
    )


def test_extra_equated_day_rolls() -> None:
    # Friday 15 May 2026, the day after Hemelvaartsdag, equated by (assumed) royal decree.
    plain = compute_deadlines(at_noon("2026-04-15"))
    assert plain.legal == d("2026-05-15")
    extra = compute_deadlines(at_noon("2026-04-15"), extra_holidays=iter([d("2026-05-15")]))
    assert extra.legal == d("2026-05-18")
    assert extra.promise == d("2026-05-13")
    assert extra.legal_extended == d("2026-07-15")


def test_extra_day_after_a_holiday_extends_the_roll() -> None:
    extra = compute_deadlines(at_noon("2026-04-14"), extra_holidays=[d("2026-05-15")])
    assert extra.legal == d("2026-05-18")  # Hemelvaart, equated Friday, weekend


@pytest.mark.parametrize(
    ("received", "paused", "promise", "legal", "extended"),
    [
        # 5 Apr + 3 = Mon 8 Apr; 5 Jun + 3 = Sat 8 Jun -> Mon 10 Jun.
        ("2024-03-05", 3, "2024-04-05", "2024-04-08", "2024-06-10"),
        # The pause is added before rolling: 5 Apr 2026 + 2 = Tue 7 Apr (rolling first: 9 Apr).
        # Promise 2 Apr + 2 = Sat 4 Apr -> Sun, tweede Paasdag -> Tue 7 Apr.
        ("2026-03-05", 2, "2026-04-07", "2026-04-07", "2026-06-08"),
        # Mon 26 Dec 2022 + 5 = Sat 31 Dec -> Sun 1 Jan -> Mon 2 Jan 2023; 26 Feb + 5 = Fri 3 Mar.
        ("2022-11-26", 5, "2022-12-29", "2023-01-02", "2023-03-03"),
        ("2024-03-05", 0, "2024-04-02", "2024-04-05", "2024-06-05"),
    ],
)
def test_paused_days_shift(
    received: str, paused: int, promise: str, legal: str, extended: str
) -> None:
    result = compute_deadlines(at_noon(received), paused_days=paused)
    assert (result.promise, result.legal, result.legal_extended) == (
        d(promise),
        d(legal),
        d(extended),
    )
    assert result.received_on == d(received)


@pytest.mark.parametrize(
    ("received", "weeks", "promise"),
    [
        ("2024-03-05", 4, "2024-04-02"),  # a period in weeks ends on the same weekday
        ("2024-03-05", 2, "2024-03-19"),
        ("2024-03-04", 4, "2024-04-02"),  # Monday 1 April 2024 is tweede Paasdag
        ("2026-12-05", 3, "2026-12-28"),  # Saturday 26 Dec -> Monday 28 Dec
        ("2024-03-05", 0, "2024-03-05"),
    ],
)
def test_promise_weeks(received: str, weeks: int, promise: str) -> None:
    assert compute_deadlines(at_noon(received), promise_weeks=weeks).promise == d(promise)


def test_negative_parameters_refused() -> None:
    with pytest.raises(ValueError):
        compute_deadlines(at_noon("2024-03-05"), paused_days=-1)
    with pytest.raises(ValueError):
        compute_deadlines(at_noon("2024-03-05"), promise_weeks=-1)


def test_deadlines_are_frozen() -> None:
    result = compute_deadlines(at_noon("2024-03-05"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.legal = d("2024-04-06")  # type: ignore[misc]


def test_deadline_order_and_working_days_over_two_years() -> None:
    day = d("2025-01-01")
    while day < d("2027-01-01"):
        result = compute_deadlines(at_noon(day.isoformat()))
        for due in (result.promise, result.legal, result.legal_extended):
            assert is_working_day(due)
        assert result.received_on < result.promise <= result.legal < result.legal_extended
        # Rolling never moves more than 4 days (e.g. Goede Vrijdag .. tweede Paasdag).
        assert 0 <= (result.legal - add_months(day, 1)).days <= 4
        day += timedelta(days=1)
