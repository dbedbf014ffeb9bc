"""Drafts in the console: written by staff, edited, approved under four eyes, or rejected."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from dsr_bot.console.app import create_app
from dsr_bot.console.context import ConsoleContext
from dsr_bot.console.templating import templates
from dsr_bot.console.views import work
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.roles import may
from dsr_bot.services import casework
from dsr_bot.services import staff as accounts
from dsr_bot.store.tables import CaseEventRow, CaseRow, DraftRow, OutboxRow
from tests.conftest import make_settings
from tests.console.conftest import (
    ACCOUNTS,
    CSRF_RE,
    Client,
    Clock,
    LoggedIn,
    anonymous,
    open_case,
    sign_in,
)

SAM, SARA = ACCOUNTS["staff"][0], ACCOUNTS["staff2"][0]
PETRA, PIETER = ACCOUNTS["privacy_officer"][0], ACCOUNTS["privacy_officer2"][0]
REQUESTER = "jan@example.nl"
ANSWER = "Wij hebben u van de lijst voor de nieuwsbrief gehaald.\r\nU krijgt geen post meer."


def flash(response: httpx.Response) -> str:
    """The message the next page shows: "ok:..." or "error:..."."""
    assert response.status_code == 303, response.text
    return unquote(response.cookies.get("dsr_flash") or "")


@dataclasses.dataclass
class Lenient:
    """The console with `console.four_eyes = false`, on the same database and accounts."""

    ctx: ConsoleContext
    app: Starlette
    clients: list[Client] = dataclasses.field(default_factory=list)

    async def login(self, who: str) -> Client:
        client = anonymous(self.app)
        self.clients.append(client)
        assert (await sign_in(client, ACCOUNTS[who][0])).status_code == 303
        token = CSRF_RE.search((await client.get("/no-such-page")).text)
        assert token
        client.csrf = token[1]
        return client


@pytest.fixture
async def lenient(ctx: ConsoleContext, database_url: str, tmp_path: Path) -> AsyncIterator[Lenient]:
    settings = make_settings(database_url, tmp_path, console={"four_eyes": False})
    relaxed = dataclasses.replace(ctx, settings=settings)
    found = Lenient(relaxed, create_app(relaxed))
    yield found
    for client in found.clients:
        await client.aclose()


async def drafts_of(ctx: ConsoleContext, reference: str) -> list[DraftRow]:
    async with ctx.sessions() as db:
        case = await casework.case_by_reference(db, reference)
        return list(
            await db.scalars(
                select(DraftRow).where(DraftRow.case_id == case.id).order_by(DraftRow.id)
            )
        )


async def sent_to_requester(ctx: ConsoleContext, kind: str) -> list[OutboxRow]:
    async with ctx.sessions() as db:
        return list(
            await db.scalars(
                select(OutboxRow).where(OutboxRow.recipient == REQUESTER, OutboxRow.kind == kind)
            )
        )


async def events(ctx: ConsoleContext, reference: str) -> list[CaseEventRow]:
    async with ctx.sessions() as db:
        case = await casework.case_by_reference(db, reference)
        return list(
            await db.scalars(
                select(CaseEventRow)
                .where(CaseEventRow.case_id == case.id)
                .order_by(CaseEventRow.id)
            )
        )


async def drafts_partial(ctx: ConsoleContext, reference: str, who: str) -> str:
    """_drafts.html as the case page includes it, for the account `who`."""
    async with ctx.sessions() as db:
        case = await casework.case_by_reference(db, reference)
        staff = await accounts.by_email(db, ACCOUNTS[who][0])
        assert staff is not None
        data = await work.work_context(db, case, staff, ctx)
    role = staff.role
    return templates.env.get_template("_drafts.html").render(
        **data, csrf="token", may=lambda p: may(role, p), staff=staff, case=case
    )


async def write(client: Client, reference: str, kind: str, text: str) -> httpx.Response:
    return await client.post_form(f"/cases/{reference}/drafts", {"kind": kind, "text": text})


async def test_staff_write_an_answer_that_only_a_privacy_officer_sends(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    woken: list[bool] = []
    ctx.on_outbox = lambda: woken.append(True)
    reference = await open_case(ctx, kind=RequestKind.OBJECTION)  # no proof of identity needed
    sam, petra = await logged_in("staff"), await logged_in("privacy_officer")
    assert flash(await write(sam, reference, "answer", ANSWER)).startswith("ok:Het concept")
    [draft] = await drafts_of(ctx, reference)
    assert (draft.kind, draft.status, draft.created_by) == ("answer", "draft", SAM)
    assert draft.body.startswith("Beste Jan Jansen,\n\n")
    assert reference in draft.subject and reference in draft.body
    assert "gehaald.\nU krijgt geen post meer." in draft.body  # the browser's CRLF made plain
    assert draft.body.endswith("academiewerkendleren.nl\n")

    denied = await sam.post_form(f"/drafts/{draft.id}/approve")
    assert denied.status_code == 403
    assert await sent_to_requester(ctx, "answer") == []

    queue = await sam.get("/drafts")
    assert queue.status_code == 200 and reference in queue.text and SAM in queue.text
    assert "Goedkeuren en verzenden" not in queue.text  # staff cannot approve
    queue = await petra.get("/drafts")
    assert "Goedkeuren en verzenden" in queue.text and "U krijgt geen post meer." in queue.text

    approved = await petra.post_form(f"/drafts/{draft.id}/approve", {"back": "drafts"})
    assert flash(approved).startswith("ok:Goedgekeurd")
    assert approved.headers["location"] == "/drafts"
    assert woken == [True]
    [mail] = await sent_to_requester(ctx, "answer")
    assert mail.body == draft.body and mail.subject == draft.subject
    [after] = await drafts_of(ctx, reference)
    assert (after.status, after.decided_by, after.outbox_id) == ("approved", PETRA, mail.id)
    approvals = [e for e in await events(ctx, reference) if e.kind == "draft_approved"]
    assert [(e.actor, e.detail["draft"]) for e in approvals] == [(PETRA, draft.id)]
    assert "goedgekeurd en verzonden" in await drafts_partial(ctx, reference, "staff")
    assert reference not in (await petra.get("/drafts")).text  # no longer waiting


async def test_who_edited_a_draft_last_does_not_approve_it(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.OBJECTION)
    sam, petra, pieter = (
        await logged_in("staff"),
        await logged_in("privacy_officer"),
        await logged_in("privacy_officer2"),
    )
    await write(sam, reference, "answer", ANSWER)
    [draft] = await drafts_of(ctx, reference)
    edited = await petra.post_form(
        f"/drafts/{draft.id}/edit",
        {"subject": "Uw afmelding [" + reference + "]", "body": "Beste Jan,\r\n\r\nGedaan."},
    )
    assert flash(edited).startswith("ok:Het concept is aangepast")
    [draft] = await drafts_of(ctx, reference)
    assert (draft.edited_by, draft.subject, draft.body) == (
        PETRA,
        f"Uw afmelding [{reference}]",
        "Beste Jan,\n\nGedaan.\n",
    )
    assert "Laatst bewerkt door" in await drafts_partial(ctx, reference, "staff")
    assert "het laatst bewerkt" in await drafts_partial(ctx, reference, "privacy_officer")

    refused = await petra.post_form(f"/drafts/{draft.id}/approve")
    assert flash(refused).startswith("error:U heeft dit concept het laatst bewerkt")
    assert await sent_to_requester(ctx, "answer") == []
    assert flash(await pieter.post_form(f"/drafts/{draft.id}/approve")).startswith("ok:")
    [mail] = await sent_to_requester(ctx, "answer")
    assert mail.body == "Beste Jan,\n\nGedaan.\n"
    logged = [(e.kind, e.actor) for e in await events(ctx, reference) if "draft" in e.kind]
    assert logged == [("drafted", SAM), ("draft_edited", PETRA), ("draft_approved", PIETER)]


async def test_a_privacy_officer_never_approves_a_refusal_they_wrote_or_edited(
    lenient: Lenient,
) -> None:
    relaxed = lenient.ctx
    assert relaxed.settings.console.four_eyes is False
    reference = await open_case(relaxed, kind=RequestKind.ACCESS)
    petra, pieter = await lenient.login("privacy_officer"), await lenient.login("privacy_officer2")
    sam = await lenient.login("staff")
    await write(petra, reference, "refusal_notice", "U bent nooit bij ons ingeschreven.")
    [own] = await drafts_of(relaxed, reference)
    assert own.kind == "refusal_notice" and "nooit bij ons ingeschreven" in own.body
    refused = await petra.post_form(f"/drafts/{own.id}/approve")
    assert flash(refused).startswith("error:U schreef dit concept")
    assert await sent_to_requester(relaxed, "refusal_notice") == []

    # Written by staff, edited by the officer: still not theirs to approve.
    await write(sam, reference, "refusal_notice", "Wij hebben geen gegevens van u.")
    second = (await drafts_of(relaxed, reference))[-1]
    await petra.post_form(
        f"/drafts/{second.id}/edit",
        {"subject": second.subject, "body": second.body + "\nExtra uitleg."},
    )
    refused = await petra.post_form(f"/drafts/{second.id}/approve")
    assert flash(refused).startswith("error:U heeft dit concept het laatst bewerkt")
    # The service itself refuses too, whatever the page offers.
    with pytest.raises(casework.CaseworkError, match="four eyes"):
        async with relaxed.sessions.begin() as db:
            await casework.approve(
                db, own.id, casework.Actor(PETRA), relaxed.now(), relaxed.settings
            )

    assert flash(await pieter.post_form(f"/drafts/{own.id}/approve")).startswith("ok:")
    [mail] = await sent_to_requester(relaxed, "refusal_notice")
    assert "nooit bij ons ingeschreven" in mail.body
    async with relaxed.sessions() as db:
        case = await db.scalar(select(CaseRow).where(CaseRow.reference == reference))
    assert case is not None and (case.state, case.decision) == ("closed", "refused")


async def test_without_four_eyes_a_privacy_officer_sends_their_own_answer(
    lenient: Lenient,
) -> None:
    relaxed = lenient.ctx
    reference = await open_case(relaxed, kind=RequestKind.OBJECTION)
    petra = await lenient.login("privacy_officer")
    await write(petra, reference, "answer", ANSWER)
    [draft] = await drafts_of(relaxed, reference)
    assert "Goedkeuren en verzenden" in await drafts_partial(relaxed, reference, "privacy_officer")
    assert flash(await petra.post_form(f"/drafts/{draft.id}/approve")).startswith("ok:")
    [mail] = await sent_to_requester(relaxed, "answer")
    assert "U krijgt geen post meer." in mail.body


async def test_a_rejected_draft_is_not_sent_and_its_writer_reads_why(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.OBJECTION)
    sam, petra = await logged_in("staff"), await logged_in("privacy_officer")
    await write(sam, reference, "answer", ANSWER)
    [draft] = await drafts_of(ctx, reference)
    no_reason = await petra.post_form(f"/drafts/{draft.id}/reject", {"reason": " "})
    assert flash(no_reason) == "error:Schrijf waarom u het concept afwijst."
    reason = "Noem ook hoe lang wij de gegevens nog bewaren."
    rejected = await petra.post_form(f"/drafts/{draft.id}/reject", {"reason": reason})
    assert flash(rejected).startswith("ok:Afgewezen")
    [draft] = await drafts_of(ctx, reference)
    assert (draft.status, draft.reject_reason, draft.decided_by) == ("rejected", reason, PETRA)
    [event] = [e for e in await events(ctx, reference) if e.kind == "draft_rejected"]
    assert (event.actor, event.detail) == (PETRA, {"draft": draft.id, "reason": reason})
    assert reason in (await sam.get("/drafts")).text
    partial = await drafts_partial(ctx, reference, "staff")
    assert reason in partial and "afgewezen" in partial
    # Nothing more happens to it: not sent, not edited.
    late = await petra.post_form(f"/drafts/{draft.id}/approve")
    assert flash(late) == "error:Dit concept is al afgewezen."
    edit = await sam.post_form(f"/drafts/{draft.id}/edit", {"subject": "x", "body": "y"})
    assert flash(edit) == "error:Dit concept is al afgewezen."
    assert await sent_to_requester(ctx, "answer") == []


async def test_an_answer_waits_until_identity_is_established(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.ACCESS)  # a shielded ID copy is asked for
    sam, petra = await logged_in("staff"), await logged_in("privacy_officer")
    await write(sam, reference, "answer", "Hierbij het overzicht van uw gegevens.")
    [draft] = await drafts_of(ctx, reference)
    assert "pas weg als de identiteit" in await drafts_partial(ctx, reference, "privacy_officer")
    refused = await petra.post_form(f"/drafts/{draft.id}/approve")
    assert flash(refused).startswith("error:De identiteit van de persoon is nog niet vastgesteld")
    assert await sent_to_requester(ctx, "answer") == []
    assert [d.status for d in await drafts_of(ctx, reference)] == ["draft"]


async def test_an_extension_drafted_in_the_console_moves_the_deadline_once_approved(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.ACCESS)
    sam, petra = await logged_in("staff"), await logged_in("privacy_officer")
    empty = await write(sam, reference, "extension_notice", "")
    assert flash(empty) == "error:Schrijf de redenen: de persoon leest die."
    await write(sam, reference, "extension_notice", "Uw gegevens staan in vier systemen.")
    [draft] = await drafts_of(ctx, reference)
    assert "Uw gegevens staan in vier systemen." in draft.body
    assert flash(await petra.post_form(f"/drafts/{draft.id}/approve")).startswith("ok:")
    async with ctx.sessions() as db:
        case = await db.scalar(select(CaseRow).where(CaseRow.reference == reference))
    assert case is not None and case.extension_sent_at is not None
    assert len(await sent_to_requester(ctx, "extension_notice")) == 1


async def test_the_queue_lists_waiting_drafts_oldest_first(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    older = await open_case(ctx, kind=RequestKind.OBJECTION, sender="Jan <jan@example.nl>")
    newer = await open_case(ctx, kind=RequestKind.OBJECTION, sender="Els <els@example.nl>")
    sam = await logged_in("staff")
    await write(sam, older, "answer", "Eerste antwoord.")
    clock.now += timedelta(minutes=30)  # within the session's idle time
    await write(sam, newer, "answer", "Tweede antwoord.")
    page = (await sam.get("/drafts")).text
    assert older in page and newer in page
    assert page.index(older) < page.index(newer)
    assert "jan@example.nl" not in page and "els@example.nl" not in page


async def test_a_draft_is_thrown_away_by_its_writer_or_an_officer_only(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.OBJECTION)
    sam, sara = await logged_in("staff"), await logged_in("staff2")
    await write(sam, reference, "answer", ANSWER)
    [draft] = await drafts_of(ctx, reference)
    assert (await sara.post_form(f"/drafts/{draft.id}/discard")).status_code == 403
    assert flash(await sam.post_form(f"/drafts/{draft.id}/discard")) == (
        "ok:Het concept is weggegooid."
    )
    assert [d.status for d in await drafts_of(ctx, reference)] == ["discarded"]
    assert "weggegooid" in await drafts_partial(ctx, reference, "staff")


async def test_only_an_approval_puts_a_draft_in_the_outbox(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.OBJECTION)
    sam, petra = await logged_in("staff"), await logged_in("privacy_officer")
    for text in ("Een.", "Twee.", "Drie."):
        await write(sam, reference, "answer", text)
    one, two, three = await drafts_of(ctx, reference)
    await petra.post_form(f"/drafts/{one.id}/edit", {"subject": one.subject, "body": "Anders."})
    await petra.post_form(f"/drafts/{two.id}/reject", {"reason": "Te kort."})
    await sam.post_form(f"/drafts/{three.id}/discard")
    assert await sent_to_requester(ctx, "answer") == []
    async with ctx.sessions() as db:
        kinds = set(
            await db.scalars(select(OutboxRow.kind).where(OutboxRow.recipient == REQUESTER))
        )
    assert kinds == {"acknowledgement"}  # sent without approval: the automatic receipt only
