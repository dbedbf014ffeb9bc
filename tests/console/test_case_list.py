"""The case list ("Mijn taken" and all cases, filters, order, days left, pages) and the outbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from dsr_bot.config import Settings
from dsr_bot.console.context import ConsoleContext
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.services import casework
from dsr_bot.store.tables import CaseRow, OutboxRow, StaffRow, TaskRow
from tests.conftest import make_settings
from tests.console.conftest import ACCOUNTS, NOW, Clock, LoggedIn, open_case

SAM, SARA, PETRA = ACCOUNTS["staff"][0], ACCOUNTS["staff2"][0], ACCOUNTS["privacy_officer"][0]
ROW_RE = re.compile(r'<th scope="row"><a href="/cases/(AVG-[0-9-]+)">')
PAGE_SIZE = 10


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The smallest page the settings allow, so paging shows with a dozen cases."""
    return make_settings(database_url, tmp_path, console={"page_size": PAGE_SIZE})


def listed(page: str) -> list[str]:
    """The case references in the list, top to bottom."""
    return ROW_RE.findall(page)


def row_of(page: str, reference: str) -> str:
    start = page.index(f'<a href="/cases/{reference}">')
    return page[start : page.index("</tr>", start)]


async def all_cases(logged_in: LoggedIn) -> str:
    """The list of all cases, signed in afresh: a session does not outlive a jump of the clock."""
    client = await logged_in("staff")
    return (await client.get("/cases", params={"view": "all"})).text


async def opened(ctx: ConsoleContext, n: int, **options: Any) -> str:
    """A case about which no identity is needed (objection), so its clock runs."""
    options.setdefault("kind", RequestKind.OBJECTION)
    options.setdefault("sender", f"Persoon {n} <persoon{n}@example.nl>")
    return await open_case(ctx, **options)


async def assign(ctx: ConsoleContext, reference: str, who: str) -> None:
    async with ctx.sessions.begin() as db:
        await casework.assign(db, reference, who, casework.Actor(PETRA), ctx.now())


async def give_task(ctx: ConsoleContext, reference: str, who: str, *, done: bool = False) -> None:
    async with ctx.sessions.begin() as db:
        case = await casework.case_by_reference(db, reference)
        db.add(
            TaskRow(
                case_id=case.id,
                key="test/1",
                kind="added",
                position=9999,
                title="Zoek in het CRM",
                assignee=who,
                done_at=ctx.now() if done else None,
                created_at=ctx.now(),
            )
        )


async def set_case(ctx: ConsoleContext, reference: str, **values: Any) -> None:
    async with ctx.sessions.begin() as db:
        await db.execute(update(CaseRow).where(CaseRow.reference == reference).values(**values))


async def staff_id(ctx: ConsoleContext, email: str) -> int:
    async with ctx.sessions() as db:
        found = await db.scalar(select(StaffRow.id).where(StaffRow.email == email))
    assert found is not None
    return found


async def test_my_tasks_shows_only_cases_assigned_to_me_or_with_my_open_task(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    mine = await opened(ctx, 1)
    my_task = await opened(ctx, 2)
    done_task = await opened(ctx, 3)
    hers = await opened(ctx, 4)
    nobodys = await opened(ctx, 5)
    await assign(ctx, mine, SAM)
    await give_task(ctx, my_task, SAM)
    await give_task(ctx, done_task, SAM, done=True)
    await assign(ctx, hers, SARA)
    client = await logged_in("staff")

    page = await client.get("/cases")
    assert page.status_code == 200
    assert 'aria-current="page">Mijn taken' in page.text
    assert sorted(listed(page.text)) == sorted([mine, my_task])
    everything = await client.get("/cases", params={"view": "all"})
    assert sorted(listed(everything.text)) == sorted([mine, my_task, done_task, hers, nobodys])
    assert SARA in row_of(everything.text, hers)
    assert "niet toegewezen" in row_of(everything.text, nobodys)

    # Closing my case takes it off my list (the default shows cases still to handle).
    async with ctx.sessions.begin() as db:
        await casework.close(db, mine, "withdrawn", casework.Actor(PETRA), ctx.now())
    assert listed((await client.get("/cases")).text) == [my_task]
    closed = await client.get("/cases", params={"state": "closed"})
    assert listed(closed.text) == [mine]


async def test_an_empty_list_says_why_and_where_to_look(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    await opened(ctx, 1)
    client = await logged_in("staff")
    page = await client.get("/cases")
    assert listed(page.text) == []
    assert "U heeft geen open zaken of taken" in page.text
    assert 'href="/cases?view=all&amp;assignee=none"' in page.text
    filtered = await client.get("/cases", params={"view": "all", "kind": "erasure"})
    assert "Geen zaken met deze filters" in filtered.text
    assert 'href="/cases?view=all">Wis de filters' in filtered.text


async def test_the_nearest_due_date_comes_first(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    # Opened newest first, so the order by due date is not the order of the ids.
    late = await opened(ctx, 1, received_at=NOW)
    early = await opened(ctx, 2, received_at=NOW - timedelta(days=20))
    middle = await opened(ctx, 3, received_at=NOW - timedelta(days=10))
    undated = await opened(ctx, 4, received_at=NOW - timedelta(days=30))
    await set_case(ctx, undated, promise_due=None)
    client = await logged_in("staff")
    page = await client.get("/cases", params={"view": "all"})
    assert listed(page.text) == [early, middle, late, undated]


async def test_days_left_to_the_promise_and_to_the_legal_deadline(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    reference = await opened(ctx, 1)
    waiting = await open_case(ctx, kind=RequestKind.ACCESS, sender="Els <els@example.nl>")
    async with ctx.sessions() as db:
        case = await casework.case_by_reference(db, reference)
    assert case.promise_due is not None and case.legal_due is not None
    client = await logged_in("staff")

    page = await client.get("/cases", params={"view": "all"})
    promise_days = (case.promise_due - NOW.date()).days
    legal_days = (case.legal_due - NOW.date()).days
    assert f"nog {promise_days} dagen" in row_of(page.text, reference)
    assert f"nog {legal_days} dagen" in row_of(page.text, reference)
    # The ID copy was asked for: the clock stands still, and no day counts down.
    assert "klok staat stil" in row_of(page.text, waiting)

    clock.now = datetime.combine(case.promise_due, NOW.timetz())
    row = row_of(await all_cases(logged_in), reference)
    assert '<span class="soon">vandaag</span>' in row

    # Late on our own promise, then on the law: both shown as late.
    clock.now = datetime.combine(case.promise_due + timedelta(days=3), NOW.timetz())
    row = row_of(await all_cases(logged_in), reference)
    assert '<span class="late">3 dagen te laat</span>' in row
    assert "wettelijke termijn verlopen" not in row
    clock.now = datetime.combine(case.legal_due + timedelta(days=1), NOW.timetz())
    row = row_of(await all_cases(logged_in), reference)
    assert '<span class="late">1 dag te laat</span>' in row
    assert "wettelijke termijn verlopen" in row


async def test_after_an_extension_the_extended_deadline_counts(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    reference = await opened(ctx, 1)
    async with ctx.sessions() as db:
        case = await casework.case_by_reference(db, reference)
    assert case.legal_due is not None and case.extended_due is not None
    clock.now = datetime.combine(case.legal_due + timedelta(days=2), NOW.timetz())
    await set_case(ctx, reference, extension_sent_at=NOW.astimezone(UTC))
    row = row_of(await all_cases(logged_in), reference)
    days = (case.extended_due - case.legal_due).days - 2
    assert f"nog {days} dagen" in row and "wettelijke termijn verlopen" not in row


async def test_the_overdue_filter_shows_cases_late_on_our_promise_with_a_running_clock(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    late = await opened(ctx, 1, received_at=NOW - timedelta(days=33))
    await opened(ctx, 2, received_at=NOW)  # in time
    paused = await opened(ctx, 3, received_at=NOW - timedelta(days=33))
    await set_case(ctx, paused, paused_since=NOW.date() - timedelta(days=1))
    client = await logged_in("staff")
    everything = await client.get("/cases", params={"view": "all"})
    assert len(listed(everything.text)) == 3
    page = await client.get("/cases", params={"view": "all", "overdue": "1"})
    assert listed(page.text) == [late]
    assert 'id="f-overdue" name="overdue" value="1" checked' in page.text


async def test_filters_by_kind_state_and_assignee_use_ids_not_addresses(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    objection = await opened(ctx, 1)
    complaint = await opened(ctx, 2, kind=RequestKind.COMPLAINT)
    triage = await opened(ctx, 3, kind=RequestKind.ERASURE, confident=False)
    await assign(ctx, complaint, SARA)
    sara = await staff_id(ctx, SARA)
    client = await logged_in("staff")

    by_kind = await client.get("/cases", params={"view": "all", "kind": "complaint"})
    assert listed(by_kind.text) == [complaint]
    by_state = await client.get("/cases", params={"view": "all", "state": "triage"})
    assert listed(by_state.text) == [triage]
    by_person = await client.get("/cases", params={"view": "all", "assignee": str(sara)})
    assert listed(by_person.text) == [complaint]
    assert f'<option value="{sara}" selected>' in by_person.text
    unassigned = await client.get("/cases", params={"view": "all", "assignee": "none"})
    assert sorted(listed(unassigned.text)) == sorted([objection, triage])
    nobody = await client.get("/cases", params={"view": "all", "assignee": "99999"})
    assert listed(nobody.text) == []
    # No e-mail address in any link or form value of the page.
    targets = re.findall(r'(?:href|action|value)="([^"]*)"', by_person.text)
    assert targets and not [t for t in targets if "@" in t]


async def test_pages_keep_the_filters(ctx: ConsoleContext, logged_in: LoggedIn) -> None:
    for n in range(PAGE_SIZE + 2):
        await opened(ctx, n, received_at=NOW - timedelta(days=n))
    await opened(ctx, 99, kind=RequestKind.COMPLAINT)
    async with ctx.sessions() as db:
        by_due = await db.scalars(
            select(CaseRow.reference)
            .where(CaseRow.state == "open", CaseRow.identity_state == "not_needed")
            .where(CaseRow.requester != "persoon99@example.nl")
            .order_by(CaseRow.promise_due, CaseRow.id)
        )
        oldest_first = list(by_due)
    assert len(oldest_first) == PAGE_SIZE + 2
    client = await logged_in("staff")
    first = await client.get("/cases", params={"view": "all", "kind": "objection"})
    assert "12 zaken; 1 tot en met 10 op deze pagina" in first.text
    assert listed(first.text) == oldest_first[:PAGE_SIZE]
    assert "Pagina 1 van 2" in first.text
    assert 'href="/cases?view=all&amp;kind=objection&amp;page=2" rel="next"' in first.text
    second = await client.get("/cases", params={"view": "all", "kind": "objection", "page": "2"})
    assert listed(second.text) == oldest_first[PAGE_SIZE:]
    assert 'href="/cases?view=all&amp;kind=objection" rel="prev"' in second.text
    beyond = await client.get("/cases", params={"view": "all", "kind": "objection", "page": "9"})
    assert listed(beyond.text) == oldest_first[PAGE_SIZE:]  # the last page


async def test_the_outbox_lists_what_went_out_newest_first(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    client = await logged_in("staff")
    empty = await client.get("/outbox")
    assert "Er is nog niets verzonden" in empty.text
    first = await opened(ctx, 1, received_at=NOW - timedelta(hours=2))
    second = await opened(ctx, 2, received_at=NOW - timedelta(hours=1))
    async with ctx.sessions.begin() as db:
        case = await casework.case_by_reference(db, first)
        await db.execute(
            update(OutboxRow)
            .where(OutboxRow.case_id == case.id)
            .values(status="sent", sent_at=datetime(2026, 11, 20, 8, 5, tzinfo=AMSTERDAM))
        )
    page = await client.get("/outbox")
    assert page.status_code == 200
    rows = re.findall(r'<a href="/cases/(AVG-[0-9-]+)">', page.text)
    assert rows == [second, first]
    newest = page.text[page.text.index(f'<a href="/cases/{second}">') :]
    newest = newest[: newest.index("</tr>")]
    assert "ontvangstbevestiging" in newest and "wacht op verzending" in newest
    assert "persoon2@example.nl" in newest
    oldest = page.text[page.text.index(f'<a href="/cases/{first}">') :]
    assert "verzonden" in oldest[: oldest.index("</tr>")]
    assert "20 nov 2026 08:05" in oldest[: oldest.index("</tr>")]
