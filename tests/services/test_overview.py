"""The pure side of the lists and the dashboard: days left, overdue, the on-time rate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from dsr_bot.domain.deadlines import AMSTERDAM, legal_in_force, on_time
from dsr_bot.services.accountability import register_row
from dsr_bot.services.overview import (
    CaseFilter,
    MonthRate,
    OpenClock,
    countdown,
    month_starts,
    rate_chart,
    summarise,
    today_of,
)
from dsr_bot.store.tables import CaseRow

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("due", "text", "css"),
    [
        (TODAY + timedelta(days=12), "nog 12 dagen", ""),
        (TODAY + timedelta(days=7), "nog 7 dagen", "soon"),
        (TODAY + timedelta(days=1), "nog 1 dag", "soon"),
        (TODAY, "vandaag", "soon"),
        (TODAY - timedelta(days=1), "1 dag te laat", "late"),
        (TODAY - timedelta(days=9), "9 dagen te laat", "late"),
    ],
)
def test_days_left_are_calendar_days_in_plain_dutch(due: date, text: str, css: str) -> None:
    shown = countdown(due, TODAY, paused=False, closed=False)
    assert (shown.text, shown.css) == (text, css)
    assert shown.late == (due < TODAY)


def test_a_paused_clock_or_a_closed_case_counts_no_days() -> None:
    past = TODAY - timedelta(days=30)
    assert countdown(past, TODAY, paused=True, closed=False).text == "klok staat stil"
    assert not countdown(past, TODAY, paused=True, closed=False).late
    assert not countdown(past, TODAY, paused=False, closed=True).late


def test_today_is_the_amsterdam_date() -> None:
    # 23:30 UTC on 24 November is already 25 November in Amsterdam.
    assert today_of(datetime(2026, 11, 24, 23, 30, tzinfo=UTC)) == TODAY


def _case(**values: Any) -> CaseRow:
    row: dict[str, Any] = {
        "reference": "AVG-2026-0001",
        "kinds": ["access"],
        "received_at": datetime(2026, 10, 1, 9, 0, tzinfo=UTC),
        "promise_due": date(2026, 10, 15),
        "legal_due": date(2026, 11, 2),
        "extended_due": date(2027, 1, 4),
        "extension_sent_at": None,
        "decision": "answered",
        "closed_at": None,
    }
    row.update(values)
    return CaseRow(**row)


CLOSINGS = [
    datetime(2026, 11, 2, 22, 30, tzinfo=UTC),  # 23:30 in Amsterdam, 2 Nov: on time
    datetime(2026, 11, 2, 23, 30, tzinfo=UTC),  # 3 Nov in Amsterdam: late without extension
    datetime(2026, 12, 20, 9, 0, tzinfo=UTC),
    datetime(2027, 1, 5, 9, 0, tzinfo=UTC),
]


@pytest.mark.parametrize("closed_at", CLOSINGS)
@pytest.mark.parametrize("extended", [False, True])
@pytest.mark.parametrize("extended_due", [date(2027, 1, 4), None])
def test_on_time_answers_as_the_register_does(
    closed_at: datetime, extended: bool, extended_due: date | None
) -> None:
    sent = datetime(2026, 10, 20, 9, 0, tzinfo=UTC) if extended else None
    case = _case(closed_at=closed_at, extension_sent_at=sent, extended_due=extended_due)
    row = register_row(case)
    in_force = legal_in_force(case.legal_due, case.extended_due, extended=sent is not None)
    assert (in_force.isoformat() if in_force else "") == row["legal_due_in_force"]
    answer = on_time(today_of(closed_at), in_force)
    assert {True: "yes", False: "no", None: ""}[answer] == row["on_time"]


def test_twelve_months_back_across_the_new_year() -> None:
    months = month_starts(date(2026, 2, 10))
    assert len(months) == 12
    assert months[0] == date(2025, 3, 1) and months[-1] == date(2026, 2, 1)


def _clock(**values: Any) -> OpenClock:
    row: dict[str, Any] = {
        "state": "open",
        "identity_state": "not_needed",
        "paused": False,
        "promise_due": TODAY + timedelta(days=20),
        "legal_due": TODAY + timedelta(days=30),
    }
    row.update(values)
    return OpenClock(**row)


def test_open_cases_are_counted_once_each_and_deadlines_from_today() -> None:
    cases = [
        _clock(state="triage"),
        _clock(identity_state="copy_requested", paused=True),
        _clock(paused=True, promise_due=TODAY - timedelta(days=40)),  # paused: not late
        _clock(),
        _clock(promise_due=TODAY + timedelta(days=7)),  # due this week
        _clock(promise_due=TODAY - timedelta(days=1), legal_due=TODAY + timedelta(days=3)),
        _clock(promise_due=TODAY - timedelta(days=20), legal_due=TODAY - timedelta(days=2)),
        _clock(promise_due=TODAY + timedelta(days=8)),  # not this week
    ]
    figures = summarise(cases, [], TODAY)
    assert figures.by_state == {"triage": 1, "open": 5, "paused": 1, "identity": 1}
    assert figures.open_total == 8
    assert figures.due_this_week == 2  # the one due in 7 days, and the legal deadline in 3
    assert figures.overdue_promise == 2
    assert figures.overdue_legal == 1
    # The next day the case due in 7 days is 6 days away, and the one due in 8 is in the week.
    assert summarise(cases, [], TODAY + timedelta(days=1)).due_this_week == 3


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=AMSTERDAM)


def test_the_on_time_rate_per_month_counts_closings_by_their_amsterdam_date() -> None:
    deadline = date(2026, 11, 10)
    closed = [
        (_at(date(2026, 11, 9)), deadline),  # on time
        (_at(date(2026, 11, 10)), deadline),  # on the day: on time
        (_at(date(2026, 11, 11)), deadline),  # late
        (datetime(2026, 10, 31, 23, 30, tzinfo=UTC), deadline),  # 1 Nov in Amsterdam: on time
        (_at(date(2026, 9, 3)), date(2026, 9, 1)),  # late
        (_at(date(2026, 9, 3)), None),  # no deadline recorded: not counted
        (_at(date(2025, 11, 30)), deadline),  # thirteen months ago: outside the chart
    ]
    figures = summarise([], closed, TODAY)
    months = {m.month: m for m in figures.months}
    assert len(figures.months) == 12 and date(2025, 11, 1) not in months
    assert (months[date(2026, 11, 1)].on_time, months[date(2026, 11, 1)].late) == (3, 1)
    assert months[date(2026, 11, 1)].percent == 75
    assert months[date(2026, 9, 1)].percent == 0
    assert months[date(2026, 10, 1)].percent is None  # nothing closed: no rate, not 0%


def test_the_chart_bar_height_is_the_rate() -> None:
    months = [
        MonthRate(date(2026, 9, 1), on_time=0, late=0),
        MonthRate(date(2026, 10, 1), on_time=1, late=1),
        MonthRate(date(2026, 11, 1), on_time=4, late=0),
    ]
    chart = rate_chart(months)
    empty, half, full = chart.bars
    assert empty.height == 0
    assert full.y == pytest.approx(chart.top) and full.height == pytest.approx(
        chart.base - chart.top
    )
    assert half.height == pytest.approx(full.height / 2, abs=0.1)
    assert empty.x < half.x < full.x and full.x + full.width <= chart.width


def test_the_case_list_query_string_keeps_the_filters_and_drops_junk() -> None:
    chosen = CaseFilter.from_query(
        {"view": "all", "state": "closed", "kind": "erasure", "assignee": "7", "overdue": "1"}
    )
    assert not chosen.mine and chosen.states == ("closed",) and chosen.filtered
    assert chosen.url(page=3) == (
        "/cases?view=all&state=closed&kind=erasure&assignee=7&overdue=1&page=3"
    )
    junk = CaseFilter.from_query(
        {"state": "x", "kind": "'; drop", "assignee": "a@b.nl", "page": "-2", "overdue": "yes"}
    )
    assert junk == CaseFilter()
    assert junk.states == ("triage", "open") and junk.url() == "/cases"
