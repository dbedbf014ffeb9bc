"""The case page: the thread, labels and their correction, identity, assigning, closing, the log."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx
from click.testing import CliRunner, Result
from PIL import Image
from sqlalchemy import select

from dsr_bot.cli import cli
from dsr_bot.console.context import ConsoleContext
from dsr_bot.console.views import case_log
from dsr_bot.domain.cases import EventKind, RequestKind
from dsr_bot.identity.id_check import CheckResult
from dsr_bot.services import casework
from dsr_bot.services import staff as accounts
from dsr_bot.services.identity_sweep import IdentityWorker
from dsr_bot.store.tables import (
    AuditRow,
    CaseEventRow,
    CaseRow,
    ErasureLedgerRow,
    IdCopyRow,
    LabelCorrectionRow,
    OutboxRow,
    TaskRow,
)
from tests.console.conftest import ACCOUNTS, NOW, Clock, LoggedIn, open_case

PETRA, SAM = ACCOUNTS["privacy_officer"][0], ACCOUNTS["staff"][0]


def flash(response: httpx.Response) -> str:
    """The message the next page shows: "ok:..." or "error:..."."""
    assert response.status_code == 303, response.text
    return unquote(response.cookies.get("dsr_flash") or "")


async def load(ctx: ConsoleContext, reference: str) -> CaseRow:
    async with ctx.sessions() as db:
        return await casework.case_by_reference(db, reference)


async def events(ctx: ConsoleContext, reference: str) -> list[CaseEventRow]:
    case = await load(ctx, reference)
    async with ctx.sessions() as db:
        return list(
            await db.scalars(
                select(CaseEventRow)
                .where(CaseEventRow.case_id == case.id)
                .order_by(CaseEventRow.id)
            )
        )


async def outbox(ctx: ConsoleContext, reference: str) -> list[OutboxRow]:
    case = await load(ctx, reference)
    async with ctx.sessions() as db:
        return list(
            await db.scalars(
                select(OutboxRow).where(OutboxRow.case_id == case.id).order_by(OutboxRow.id)
            )
        )


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 180, 160)).save(out, "PNG")
    return out.getvalue()


class CleanCopy:
    """The automatic check, as it answers for a well-shielded copy (OCR is not what this tests)."""

    def missing_tools(self) -> tuple[str, ...]:
        return ()

    def check(self, data: bytes) -> CheckResult:
        return CheckResult(findings=())


async def copy_in_review(
    ctx: ConsoleContext, clock: Clock, image: bytes, mime: str = "image/png"
) -> str:
    """An access request, then the person's reply with an ID copy that passed the check."""
    reference = await open_case(ctx, kind=RequestKind.ACCESS)
    replied = NOW + timedelta(days=1)
    await open_case(
        ctx,
        subject=f"Re: Uw verzoek {reference}",
        body="Hierbij mijn afgeschermde kopie.",
        received_at=replied,
        attachments=[("id." + mime.split("/")[1], mime, image)],
    )
    ctx.desk.checker = CleanCopy()
    clock.now = replied
    assert await IdentityWorker(sessions=ctx.sessions, desk=ctx.desk, clock=clock).check_pending()
    return reference


def stored_copies(ctx: ConsoleContext) -> list[Path]:
    root = ctx.settings.identity.storage_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- the page ------------------------------------------------------------------------------------


async def test_a_mail_case_shows_its_thread_both_ways_and_its_scores(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(
        ctx,
        subject="Inzage in mijn dossier",
        body="Ik wil weten welke gegevens u over mij bewaart.\n\nGroet, Jan",
        attachments=[("brief.pdf", "application/pdf", b"%PDF-1.4 a letter")],
    )
    sam = await logged_in("staff")
    page = await sam.get(f"/cases/{reference.lower()}")  # the reference, typed in lower case
    assert page.status_code == 200
    html = page.text
    inbound = html.index("Binnengekomen")
    outbound = html.index("Verstuurd")
    assert inbound < outbound  # oldest first: the request, then our acknowledgement
    assert "<pre>Ik wil weten welke gegevens u over mij bewaart." in html
    [ack] = await outbox(ctx, reference)
    assert ack.subject in html and "ontvangstbevestiging" in html
    # The attachment is named, never shown.
    assert "brief.pdf" in html and "<img" not in html
    # The classifier's score, as a percentage, and the label given.
    assert '<th scope="row">inzage</th><td class="num">90%</td>' in html
    # The deadlines in force, with the clock standing still for the ID copy asked for.
    assert "klok staat stil sinds 20 nov 2026" in html
    # The event log names the opening, in Dutch.
    assert "zaak geopend" in html and "ontvangstbevestiging klaargezet" in html


async def test_an_unknown_case_is_a_404_page(ctx: ConsoleContext, logged_in: LoggedIn) -> None:
    sam = await logged_in("staff")
    page = await sam.get("/cases/AVG-2026-9999")
    assert page.status_code == 404
    assert "bestaat niet" in page.text


def test_every_event_kind_has_a_dutch_name() -> None:
    assert set(case_log.EVENT_NL) == set(EventKind)


# --- labels --------------------------------------------------------------------------------------


def export(ctx: ConsoleContext, tmp_path: Path, *args: str) -> Result:
    config = tmp_path / "export.toml"
    url = ctx.settings.database.url.get_secret_value()
    config.write_text(f"[database]\nurl = {json.dumps(url)}\n")
    return CliRunner().invoke(cli, ["--config", str(config), "corrections", "export", *args])


async def test_correcting_a_triage_case_opens_it_asks_for_proof_and_exports_it(
    ctx: ConsoleContext, logged_in: LoggedIn, tmp_path: Path
) -> None:
    reference = await open_case(
        ctx,
        kind=RequestKind.ACCESS,
        confident=False,
        sender="Jan Jansen <jan@example.nl>",
        subject="Mijn gegevens",
        body="Verwijder alles wat u van mij heeft. Mail me op jan.jansen@example.nl of bel "
        "06-12345678.\n\nGroet, Jan Jansen",
    )
    before = await load(ctx, reference)
    assert (before.state, before.identity_state) == ("triage", "undecided")
    sam = await logged_in("staff")

    response = await sam.post_form(f"/cases/{reference}/labels", {"kinds": ["erasure"]})
    said = flash(response)
    assert said.startswith("ok:") and "staat nu open" in said and "kopie ID" in said

    after = await load(ctx, reference)
    assert after.kinds == ["erasure"] and after.state == "open"
    # Erasure needs an ID copy: asked for now the kinds are known, and the clock stands still.
    assert (after.identity_policy, after.identity_state) == ("always", "copy_requested")
    assert after.paused_since is not None
    assert [m.kind for m in await outbox(ctx, reference)] == ["acknowledgement", "id_request"]
    async with ctx.sessions() as db:
        [correction] = await db.scalars(select(LabelCorrectionRow))
        steps = list(await db.scalars(select(TaskRow).where(TaskRow.case_id == after.id)))
    assert (correction.before, correction.after, correction.by) == (["access"], ["erasure"], SAM)
    assert correction.model == "test" and correction.message_id is not None
    assert steps and {s.kind for s in steps} == {"erasure"}
    logged = [(e.kind, e.actor, e.detail) for e in await events(ctx, reference)]
    assert (
        "labels_corrected",
        SAM,
        {"before": ["access"], "after": ["erasure"], "correction": correction.id},
    ) in logged
    assert ("state_changed", SAM, {"before": "triage", "after": "open"}) in logged
    assert any(kind == "identity_requested" and who == SAM for kind, who, _ in logged)

    page = (await sam.get(f"/cases/{reference}")).text
    assert "labels gecorrigeerd" in page and "was: inzage; nu: verwijdering" in page

    result = await asyncio.to_thread(export, ctx, tmp_path)
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    example = json.loads(line)
    assert example["id"] == f"correction-{reference}-{correction.id}"
    assert (example["labels"], example["lang"], example["style"]) == (["erasure"], "nl", "mail")
    assert example["text"].startswith("Mijn gegevens\nVerwijder alles wat u van mij heeft.")
    for identifier in ("jan.jansen@example.nl", "06-12345678", "Jan Jansen"):
        assert identifier not in example["text"]
    assert "[e-mailadres]" in example["text"] and "[telefoonnummer]" in example["text"]
    assert "1 correction written to standard output" in result.stderr


async def test_labels_are_refused_when_unchanged_empty_or_other_with_more(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.OBJECTION)
    sam = await logged_in("staff")
    url = f"/cases/{reference}/labels"
    same = flash(await sam.post_form(url, {"kinds": ["objection"]}))
    assert same == "error:De zaak heeft deze labels al. Er is niets veranderd."
    assert flash(await sam.post_form(url, {})).startswith("error:Kies minstens één soort")
    mixed = flash(await sam.post_form(url, {"kinds": ["other", "access"]}))
    assert mixed.startswith("error:'Overig' betekent: geen privacyverzoek.")
    async with ctx.sessions() as db:
        assert list(await db.scalars(select(LabelCorrectionRow))) == []
    assert (await load(ctx, reference)).kinds == ["objection"]


async def test_a_correction_to_a_stricter_kind_on_a_settled_case_warns_and_asks_nothing(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.OBJECTION)  # no proof needed
    sam = await logged_in("staff")
    said = flash(
        await sam.post_form(f"/cases/{reference}/labels", {"kinds": ["access", "objection"]})
    )
    assert "Let op" in said and "kopie ID" in said
    case = await load(ctx, reference)
    assert case.identity_state == "not_needed"
    assert [m.kind for m in await outbox(ctx, reference)] == ["acknowledgement"]


# --- identity ------------------------------------------------------------------------------------


async def test_staff_see_no_identity_actions_and_may_not_use_them(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    reference = await copy_in_review(ctx, clock, png())
    sam = await logged_in("staff")
    page = (await sam.get(f"/cases/{reference}")).text
    assert "kopie ID ontvangen" in page  # the state is shown
    for action in ("identity/copy", "identity/verify", "identity/reject", "identity/waive"):
        assert action not in page
    refused = await sam.post_form(f"/cases/{reference}/identity/verify", {"document": "passport"})
    assert refused.status_code == 403
    assert (await sam.get(f"/cases/{reference}/identity/copy")).status_code == 403
    assert len(stored_copies(ctx)) == 1
    assert (await load(ctx, reference)).identity_state == "copy_received"


async def test_a_privacy_officer_views_the_copy_then_verifies_and_it_is_gone(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    image = png()
    reference = await copy_in_review(ctx, clock, image)
    petra = await logged_in("privacy_officer")
    page = (await petra.get(f"/cases/{reference}")).text
    link = f'href="/cases/{reference}/identity/copy"'
    assert link in page and "<img" not in page  # behind a link, never loaded by itself

    shown = await petra.get(f"/cases/{reference}/identity/copy")
    assert shown.status_code == 200 and shown.content == image
    assert shown.headers["content-type"] == "image/png"
    assert "no-store" in shown.headers["cache-control"]
    assert shown.headers["content-disposition"].startswith("inline")
    viewed = [e for e in await events(ctx, reference) if e.kind == "identity_copy_viewed"]
    assert [e.actor for e in viewed] == [PETRA]

    verified = await petra.post_form(f"/cases/{reference}/identity/verify", {"document": "id_card"})
    assert flash(verified).startswith("ok:De identiteit is geverifieerd")
    assert stored_copies(ctx) == []
    async with ctx.sessions() as db:
        [copy] = await db.scalars(select(IdCopyRow))
    assert (copy.status, copy.deleted_reason) == ("deleted", "verified")
    case = await load(ctx, reference)
    assert case.identity_state == "verified" and case.paused_since is None
    page = (await petra.get(f"/cases/{reference}")).text
    assert "identiteit geverifieerd" in page and "document: identiteitskaart" in page
    gone = await petra.get(f"/cases/{reference}/identity/copy")
    assert flash(gone) == "error:Er wacht geen kopie ID op beoordeling."


async def test_reject_and_waive_need_a_reason_and_asking_again_sends_mail(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    reference = await copy_in_review(ctx, clock, png())
    petra = await logged_in("privacy_officer")
    url = f"/cases/{reference}/identity"
    no_reason = flash(await petra.post_form(f"{url}/reject", {"reason": " "}))
    assert no_reason.startswith("error:Schrijf de reden op")
    assert len(stored_copies(ctx)) == 1

    rejected = await petra.post_form(f"{url}/reject", {"reason": "Andere naam dan de aanvrager"})
    assert flash(rejected).startswith("ok:De kopie ID is afgewezen")
    assert stored_copies(ctx) == []
    assert (await load(ctx, reference)).identity_state == "rejected"

    asked = await petra.post_form(f"{url}/request", {"reason": "De naam op de kopie klopte niet."})
    assert flash(asked).startswith("ok:De persoon krijgt een e-mail")
    mail = (await outbox(ctx, reference))[-1]
    assert mail.kind == "id_request" and "De naam op de kopie klopte niet." in mail.body
    again = flash(await petra.post_form(f"{url}/request"))
    assert again == "error:Er is al om een kopie ID gevraagd."

    waived = await petra.post_form(f"{url}/waive", {"reason": "Persoonlijk langs geweest"})
    assert flash(waived).startswith("ok:Bewijs van identiteit is niet nodig")
    assert (await load(ctx, reference)).identity_state == "not_needed"


# --- assign, close -------------------------------------------------------------------------------


async def test_staff_assign_the_case_and_take_it_away_again(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx)
    sam = await logged_in("staff")
    async with ctx.sessions() as db:
        sara = await accounts.by_email(db, ACCOUNTS["staff2"][0])
    assert sara is not None
    url = f"/cases/{reference}/assign"
    assert flash(await sam.post_form(url, {"staff": str(sara.id)})).startswith("ok:")
    assert (await load(ctx, reference)).assignee == sara.email
    assert flash(await sam.post_form(url, {"staff": str(sara.id)})) == (
        "ok:Er was niets te veranderen."
    )
    assert flash(await sam.post_form(url, {"staff": "none"})) == (
        "ok:Niemand behandelt deze zaak nu."
    )
    assert (await load(ctx, reference)).assignee is None
    assigned = [e.detail for e in await events(ctx, reference) if e.kind == "assigned"]
    assert assigned == [{"assignee": sara.email}, {"assignee": None}]
    assert flash(await sam.post_form(url, {"staff": "9999"})).startswith("error:")


async def test_closing_is_refused_while_identity_is_open_and_works_after(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.ACCESS)  # an ID copy is asked for
    sam, petra = await logged_in("staff"), await logged_in("privacy_officer")
    url = f"/cases/{reference}/close"
    assert "/close" not in (await sam.get(f"/cases/{reference}")).text
    assert (await sam.post_form(url, {"decision": "answered"})).status_code == 403

    blocked = flash(await petra.post_form(url, {"decision": "answered"}))
    assert blocked.startswith("error:De zaak kan niet gesloten worden als 'beantwoord'")
    shown = (await petra.get(f"/cases/{reference}")).text  # the page after the redirect
    assert 'role="alert"' in shown and "identiteit van de persoon is nog niet vastgesteld" in shown
    assert (await load(ctx, reference)).state == "open"

    withdrawn = flash(await petra.post_form(url, {"decision": "withdrawn"}))
    assert withdrawn == "ok:De zaak is gesloten: ingetrokken."
    case = await load(ctx, reference)
    assert (case.state, case.decision) == ("closed", "withdrawn")
    page = (await petra.get(f"/cases/{reference}")).text
    assert "zaak gesloten" in page and "besluit: ingetrokken" in page
    assert "/close" not in page


async def test_closing_as_erased_records_the_erasure_and_scrubs_the_messages(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(
        ctx, kind=RequestKind.OBJECTION, body="Haal mij uit alles. Bel 06-12345678."
    )
    petra = await logged_in("privacy_officer")
    done = flash(await petra.post_form(f"/cases/{reference}/close", {"decision": "erased"}))
    assert done == "ok:De zaak is gesloten: gegevens verwijderd."
    page = (await petra.get(f"/cases/{reference}")).text
    assert "verwijdering vastgelegd" in page and "06-12345678" not in page
    async with ctx.sessions() as db:
        ledger = list(await db.scalars(select(ErasureLedgerRow.kind)))
    assert sorted(ledger) == ["email", "phone"]


async def test_a_pdf_copy_is_shown_as_an_image_of_its_first_page(
    ctx: ConsoleContext, logged_in: LoggedIn, clock: Clock
) -> None:
    # The console allows no viewer plugin or script, so a PDF would show as nothing.
    out = io.BytesIO()
    Image.new("RGB", (400, 250), (200, 180, 160)).save(out, "PDF")
    reference = await copy_in_review(ctx, clock, out.getvalue(), "application/pdf")
    petra = await logged_in("privacy_officer")
    shown = await petra.get(f"/cases/{reference}/identity/copy")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(shown.content)).size[0] > 100


async def test_who_opened_a_case_is_in_the_audit_log(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx)
    sam = await logged_in("staff")
    assert (await sam.get(f"/cases/{reference.lower()}")).status_code == 200
    async with ctx.sessions() as db:
        viewed = [
            (row.actor, row.detail)
            for row in await db.scalars(select(AuditRow).where(AuditRow.action == "case_viewed"))
        ]
    assert viewed == [(SAM, {"reference": reference})]
