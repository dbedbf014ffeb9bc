"""The dashboard's figures and chart, and the register download."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

from sqlalchemy import select, update

from dsr_bot.console.context import ConsoleContext
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.services import casework
from dsr_bot.services.accountability import REGISTER_COLUMNS
from dsr_bot.store.tables import AuditRow, CaseRow
from tests.console.conftest import ACCOUNTS, NOW, Clock, LoggedIn, open_case

PETRA = ACCOUNTS["privacy_officer"][0]


def figure(page: str, label: str) -> int:
    """The number next to a label in one of the dashboard's tables."""
    found = re.search(
        rf"<th scope=\"row\">(?:<a [^>]*>)?{re.escape(label)}(?:</a>)?</th>\s*"
        r"<td class=\"num\">(?:<span[^>]*>)?(\d+)",
        page,
    )
    assert found, f"no figure for {label!r}"
    return int(found[1])


async def close(ctx: ConsoleContext, reference: str, when: datetime) -> None:
    async with ctx.sessions.begin() as db:
        await casework.close(db, reference, "withdrawn", casework.Actor(PETRA), when)


async def test_open_cases_by_state_and_deadlines(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    await open_case(ctx, kind=RequestKind.ERASURE, confident=False, sender="a <a@example.nl>")
    await open_case(ctx, kind=RequestKind.ACCESS, sender="b <b@example.nl>")  # ID copy asked
    running = await open_case(ctx, kind=RequestKind.OBJECTION, sender="c <c@example.nl>")
    late = await open_case(
        ctx,
        kind=RequestKind.COMPLAINT,
        sender="d <d@example.nl>",
        received_at=NOW - timedelta(days=30),  # promise 18 Nov, legal deadline 23 Nov
    )
    gone = await open_case(ctx, kind=RequestKind.OBJECTION, sender="e <e@example.nl>")
    await close(ctx, gone, clock())
    async with ctx.sessions.begin() as db:
        await db.execute(
            update(CaseRow)
            .where(CaseRow.reference == running)
            .values(promise_due=NOW.date() + timedelta(days=3))
        )
        late_case = await casework.case_by_reference(db, late)
    client = await logged_in("staff")

    page = (await client.get("/dashboard")).text
    assert "Open zaken: 4" in page
    assert figure(page, "te beoordelen") == 1
    assert figure(page, "wacht op identiteit") == 1
    assert figure(page, "open") == 2
    assert figure(page, "klok stil") == 0
    # The running case (promise in 3 days) and the late one (legal deadline in 3 days).
    assert figure(page, "Verloopt binnen 7 dagen") == 2
    assert figure(page, "Te laat: onze belofte verlopen") == 1
    assert figure(page, "Te laat: wettelijke termijn verlopen") == 0
    assert 'href="/cases?view=all&amp;overdue=1"' in page

    # Once the legal deadline of the late case has passed, it counts there too.
    assert late_case.legal_due is not None
    clock.now = datetime.combine(late_case.legal_due + timedelta(days=1), NOW.timetz())
    client = await logged_in("staff")  # the old session went idle while the clock moved
    page = (await client.get("/dashboard")).text
    assert figure(page, "Te laat: wettelijke termijn verlopen") == 1


async def test_the_chart_shows_the_share_closed_on_time_per_month(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    september = datetime(2026, 9, 1, 10, 0, tzinfo=AMSTERDAM)
    on_time = await open_case(ctx, kind=RequestKind.OBJECTION, received_at=september)
    too_late = await open_case(
        ctx, kind=RequestKind.OBJECTION, received_at=september, sender="b <b@example.nl>"
    )
    also_on_time = await open_case(
        ctx,
        kind=RequestKind.OBJECTION,
        received_at=september + timedelta(days=20),
        sender="c <c@example.nl>",
    )
    await close(ctx, on_time, datetime(2026, 9, 20, 12, 0, tzinfo=AMSTERDAM))
    await close(ctx, too_late, datetime(2026, 10, 20, 12, 0, tzinfo=AMSTERDAM))
    await close(ctx, also_on_time, datetime(2026, 10, 5, 12, 0, tzinfo=AMSTERDAM))
    client = await logged_in("staff")

    page = (await client.get("/dashboard")).text
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "sep 2026: 1 van 1 op tijd (100%)" in svg
    assert "okt 2026: 1 van 2 op tijd (50%)" in svg
    assert "nov 2026: geen gesloten zaken" in svg
    assert "dec 2025" in svg  # twelve months back
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 2 and heights[0] == 2 * heights[1]  # September 100%, October 50%
    assert "<script" not in page
    # The same figures as a table, for screen readers and anyone who wants the numbers.
    table = page[page.index('<table class="chart-data">') :]
    row = re.search(r"okt 2026</th>\s*((?:<td[^>]*>[^<]*</td>\s*)+)", table)
    assert row and re.findall(r">([^<]*)</td>", row[1]) == ["2", "1", "1", "50%"]


async def test_only_the_privacy_officer_downloads_the_register_and_it_is_recorded(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.OBJECTION)
    staff = await logged_in("staff")
    refused = await staff.get("/register.csv")
    assert refused.status_code == 403
    assert "/register.csv" not in (await staff.get("/dashboard")).text

    officer = await logged_in("privacy_officer")
    assert 'href="/register.csv"' in (await officer.get("/dashboard")).text
    response = await officer.get("/register.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="register-2026-11-20.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == REGISTER_COLUMNS
    assert [(r["reference"], r["kinds"], r["on_time"]) for r in rows] == [
        (reference, "objection", "open")
    ]
    async with ctx.sessions() as db:
        exports = list(
            await db.scalars(select(AuditRow).where(AuditRow.action == "register_exported"))
        )
    assert [(e.actor, e.detail) for e in exports] == [(PETRA, {"rows": 1})]
