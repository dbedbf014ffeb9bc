"""Reminder and escalation planning: which notice is due on which day, and its once-only key."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dsr_bot.domain.reminders import (
    CaseClock,
    NoticeKind,
    due_notices,
    next_check,
    working_days_before,
    working_days_between,
)

# Received Wed 4 Nov 2026: promise Wed 2 Dec, legal Fri 4 Dec (no holidays in between).
CASE = CaseClock(
    reference="AVG-2026-0001",
    promise_due=date(2026, 12, 2),
    legal_due=date(2026, 12, 4),
    extended=False,
    paused=False,
)


def kinds(today: date, case: CaseClock = CASE) -> list[tuple[str, int]]:
    return [(n.kind.value, n.step or n.working_days_left) for n in due_notices(case, today)]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 20), []),  # 8 working days before the promise: nothing yet
        (date(2026, 11, 23), [("promise_near", 7)]),  # Mon: 7 working days to Wed 2 Dec
        (date(2026, 11, 25), [("promise_near", 7), ("legal_near", 7)]),
        # Fri 27 Nov: 3 working days to the promise, 5 to the legal deadline -> extension prompt
        (date(2026, 11, 27), [("promise_near", 3), ("legal_near", 7), ("extension_prompt", 5)]),
        (
            date(2026, 12, 1),
            [("promise_near", 1), ("legal_near", 3), ("extension_prompt", 3)],
        ),
        (date(2026, 12, 3), [("legal_near", 1), ("promise_overdue", -1), ("extension_prompt", 1)]),
        (date(2026, 12, 7), [("promise_overdue", -3), ("legal_overdue", -1)]),
    ],
)
def test_notices_by_day(today: date, expected: list[tuple[str, int]]) -> None:
    assert kinds(today) == expected


def test_a_paused_case_is_due_nothing() -> None:
    paused = CaseClock("AVG-2026-0001", date(2026, 12, 2), date(2026, 12, 4), False, True)
    assert due_notices(paused, date(2026, 12, 7)) == []


def test_an_extended_case_gets_no_extension_prompt() -> None:
    extended = CaseClock("AVG-2026-0001", date(2026, 12, 2), date(2027, 2, 4), True, False)
    assert "extension_prompt" not in [k for k, _ in kinds(date(2026, 12, 1), extended)]


def test_after_a_week_away_only_the_nearest_reminder_is_due() -> None:
    # The 7-day reminder was never sent; on day 3 the bot sends the 3-day one, not both.
    notices = due_notices(CASE, date(2026, 11, 27))
    promise = [n for n in notices if n.kind is NoticeKind.PROMISE_NEAR]
    assert [n.step for n in promise] == [3]


def test_keys_are_stable_per_step_and_differ_between_steps() -> None:
    first = {n.key for n in due_notices(CASE, date(2026, 11, 23))}
    again = {n.key for n in due_notices(CASE, date(2026, 11, 24))}  # same step, next day
    later = {n.key for n in due_notices(CASE, date(2026, 11, 27))}
    assert first == {"promise_near:AVG-2026-0001:2026-12-02:7"}
    assert first <= again
    assert "promise_near:AVG-2026-0001:2026-12-02:3" in later


def test_working_days_skip_weekends_and_holidays() -> None:
    # Christmas 2026: Fri 25 and Sat 26 Dec; New Year's Day Fri 1 Jan 2027.
    assert working_days_between(date(2026, 12, 24), date(2026, 12, 28)) == 1
    assert working_days_between(date(2026, 12, 31), date(2027, 1, 4)) == 1
    assert working_days_before(date(2027, 1, 4), 3) == date(2026, 12, 29)
    assert working_days_between(date(2026, 12, 28), date(2026, 12, 24)) == -1


def test_configured_extra_holidays_count() -> None:
    extra = [date(2026, 11, 30)]
    assert working_days_between(date(2026, 11, 27), date(2026, 12, 1), extra) == 1


def test_next_check_is_the_next_day_a_notice_can_fall_due() -> None:
    assert next_check(CASE, date(2026, 11, 5)) == date(2026, 11, 23)  # the 7-day reminder
    assert next_check(CASE, date(2026, 11, 23)) == date(2026, 11, 25)  # legal, 7 days
    assert next_check(CASE, date(2026, 12, 3)) == date(2026, 12, 5)  # legal overdue
    assert next_check(CASE, date(2026, 12, 5)) is None  # nothing more can come
    paused = CaseClock("AVG-2026-0001", date(2026, 12, 2), date(2026, 12, 4), False, True)
    assert next_check(paused, date(2026, 11, 5)) is None


def test_every_day_with_a_notice_is_a_next_check_day() -> None:
    # Walking from check day to check day finds every notice that a daily walk finds.
    daily = set()
    day = date(2026, 11, 5)
    while day <= date(2026, 12, 10):
        daily |= {n.key for n in due_notices(CASE, day)}
        day += timedelta(days=1)
    hopped = set()
    check: date | None = date(2026, 11, 5)
    while check is not None:
        hopped |= {n.key for n in due_notices(CASE, check)}
        check = next_check(CASE, check)
    assert hopped == daily
