"""The checklist of a case in the console: add a step, tick it off and on, give it to someone."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import httpx
from sqlalchemy import select

from dsr_bot.console.context import ConsoleContext
from dsr_bot.console.templating import templates
from dsr_bot.console.views import work
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.roles import may
from dsr_bot.services import casework
from dsr_bot.services import staff as accounts
from dsr_bot.store.tables import CaseEventRow, OutboxRow, TaskRow
from tests.console.conftest import ACCOUNTS, LoggedIn, open_case

SAM, SARA = ACCOUNTS["staff"][0], ACCOUNTS["staff2"][0]


def flash(response: httpx.Response) -> str:
    """The message the next page shows: "ok:..." or "error:..."."""
    assert response.status_code == 303, response.text
    return unquote(response.cookies.get("dsr_flash") or "")


async def task_ids(ctx: ConsoleContext, reference: str) -> list[int]:
    async with ctx.sessions() as db:
        case = await casework.case_by_reference(db, reference)
        return list(
            await db.scalars(
                select(TaskRow.id).where(TaskRow.case_id == case.id).order_by(TaskRow.position)
            )
        )


async def task_events(ctx: ConsoleContext, reference: str) -> list[tuple[str, str, Any]]:
    async with ctx.sessions() as db:
        case = await casework.case_by_reference(db, reference)
        rows = await db.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case.id).order_by(CaseEventRow.id)
        )
        return [(e.kind, e.actor, e.detail) for e in rows if e.kind.startswith("task_")]


async def tasks_partial(ctx: ConsoleContext, reference: str, who: str) -> str:
    """_tasks.html as the case page includes it, for the account `who`."""
    async with ctx.sessions() as db:
        case = await casework.case_by_reference(db, reference)
        staff = await accounts.by_email(db, ACCOUNTS[who][0])
        assert staff is not None
        data = await work.work_context(db, case, staff, ctx)
    role = staff.role
    return templates.env.get_template("_tasks.html").render(
        **data, csrf="token", may=lambda p: may(role, p), staff=staff, case=case
    )


async def test_a_new_access_case_shows_its_checklist(ctx: ConsoleContext) -> None:
    reference = await open_case(ctx, kind=RequestKind.ACCESS)
    html = await tasks_partial(ctx, reference, "staff")
    systems = [system.name for system in ctx.settings.profiles["default"].systems]
    for words in [*(f"{name}: zoek de persoon op" for name in systems), "de export"]:
        assert words in html
    assert html.count("Afvinken") == len(systems) + 1
    assert f"0 van {len(systems) + 1} stappen klaar" in html


async def test_staff_tick_a_step_off_and_on_again_and_the_log_says_who(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.ACCESS)
    first = (await task_ids(ctx, reference))[0]
    sam, sara = await logged_in("staff"), await logged_in("staff2")
    done = await sam.post_form(f"/cases/{reference}/tasks/{first}/done")
    assert flash(done).startswith("ok:Afgevinkt")
    assert done.headers["location"] == f"/cases/{reference}"
    html = await tasks_partial(ctx, reference, "staff")
    steps = len(ctx.settings.profiles["default"].systems) + 1
    assert f"1 van {steps} stappen klaar" in html and "Weer openzetten" in html and SAM in html
    undone = await sara.post_form(f"/cases/{reference}/tasks/{first}/undone")
    assert flash(undone).startswith("ok:Weer open")
    logged = [
        (kind, actor, detail["task"]) for kind, actor, detail in await task_events(ctx, reference)
    ]
    assert logged == [("task_done", SAM, first), ("task_undone", SARA, first)]


async def test_a_step_given_to_a_colleague_reaches_them_by_mail(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    woken: list[bool] = []
    ctx.on_outbox = lambda: woken.append(True)
    reference = await open_case(ctx, kind=RequestKind.ERASURE)
    last = (await task_ids(ctx, reference))[-1]
    async with ctx.sessions() as db:
        sara = await accounts.by_email(db, SARA)
    assert sara is not None
    sam = await logged_in("staff")
    response = await sam.post_form(f"/cases/{reference}/tasks/{last}/assign", {"staff": sara.id})
    assert flash(response) == f"ok:Toegewezen aan {SARA}. Die krijgt er een e-mail over."
    assert woken == [True]
    async with ctx.sessions() as db:
        [mail] = list(await db.scalars(select(OutboxRow).where(OutboxRow.kind == "staff_task")))
    assert mail.recipient == SARA
    assert "art. 19 AVG" in mail.body and f"/cases/{reference}" in mail.body
    assert [(k, a, d["assignee"]) for k, a, d in await task_events(ctx, reference)] == [
        ("task_assigned", SAM, SARA)
    ]
    html = await tasks_partial(ctx, reference, "staff")
    assert f'<option value="{sara.id}" selected>' in html
    # And back to nobody: logged, no mail.
    none = await sam.post_form(f"/cases/{reference}/tasks/{last}/assign", {"staff": "none"})
    assert flash(none).startswith("ok:Niemand")
    async with ctx.sessions() as db:
        mails = list(await db.scalars(select(OutboxRow).where(OutboxRow.kind == "staff_task")))
    assert len(mails) == 1


async def test_staff_add_their_own_step(ctx: ConsoleContext, logged_in: LoggedIn) -> None:
    reference = await open_case(ctx, kind=RequestKind.OBJECTION)
    sam = await logged_in("staff")
    empty = await sam.post_form(f"/cases/{reference}/tasks", {"title": "  "})
    assert flash(empty) == "error:Beschrijf de nieuwe stap."
    added = await sam.post_form(f"/cases/{reference}/tasks", {"title": "Bel de docent"})
    assert flash(added) == "ok:De stap is toegevoegd."
    html = await tasks_partial(ctx, reference, "staff")
    assert "Bel de docent" in html and "eigen stap" in html
    assert [(k, a, d["title"]) for k, a, d in await task_events(ctx, reference)] == [
        ("task_added", SAM, "Bel de docent")
    ]


async def test_a_step_is_reached_only_through_its_own_case(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    mine = await open_case(ctx, kind=RequestKind.ACCESS, sender="Jan <jan@example.nl>")
    other = await open_case(ctx, kind=RequestKind.ACCESS, sender="Els <els@example.nl>")
    step_of_other = (await task_ids(ctx, other))[0]
    sam = await logged_in("staff")
    response = await sam.post_form(f"/cases/{mine}/tasks/{step_of_other}/done")
    assert response.status_code == 404
    missing = await sam.post_form("/cases/AVG-2099-9999/tasks", {"title": "x"})
    assert missing.status_code == 404
    assert await task_events(ctx, other) == []


async def test_a_step_is_given_only_to_an_existing_active_account(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.ACCESS)
    first = (await task_ids(ctx, reference))[0]
    sam = await logged_in("staff")
    url = f"/cases/{reference}/tasks/{first}/assign"
    assert flash(await sam.post_form(url, {"staff": "9999"})).startswith("error:")
    assert flash(await sam.post_form(url, {"staff": SARA})).startswith("error:")  # no addresses
    async with ctx.sessions.begin() as db:
        sara = await accounts.by_email(db, SARA)
        assert sara is not None
        await accounts.set_active(db, sara, False, ctx.now(), actor="test")
    assert (
        flash(await sam.post_form(url, {"staff": sara.id})) == "error:Dit account is uitgeschakeld."
    )
    assert await task_events(ctx, reference) == []
    html = await tasks_partial(ctx, reference, "staff")
    assert SARA not in html  # not offered either
