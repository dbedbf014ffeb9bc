"""The case page: facts and deadlines, the thread on both channels, labels and their correction,
assignment, closing. Identity is in case_identity.py, the event log's words in case_log.py,
tasks and drafts in work.py.

Every action is a plain form that a service carries out and logs on the case, with the staff
member as actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dsr_bot.console.auth import form_text, needs
from dsr_bot.console.context import console
from dsr_bot.console.templating import KIND_NL, redirect, render
from dsr_bot.console.views import case_data, case_identity, work
from dsr_bot.console.views.case_identity import POLICY_NL, case_or_404, case_url
from dsr_bot.console.views.case_log import CHANNEL_NL, DECISION_NL, event_line
from dsr_bot.console.views.cases import OUTBOX_KIND_NL, outbox_status_nl
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.deadlines import legal_in_force
from dsr_bot.domain.identity import IdentityState, blocks_decision
from dsr_bot.domain.roles import Permission
from dsr_bot.errors import DsrBotError, StaffError
from dsr_bot.secret_key import secret_file
from dsr_bot.services import accountability, casework, labels, overview
from dsr_bot.services import staff as accounts
from dsr_bot.services.casework import Actor
from dsr_bot.store import queries
from dsr_bot.store.tables import IdCopyRow, MessageRow, OutboxRow, StaffRow

LANGUAGE_NL = {"nl": "Nederlands", "en": "Engels"}
LABEL_ERRORS_NL = {
    "empty": "Kies minstens één soort verzoek.",
    "unknown": "Kies alleen soorten uit de lijst.",
    "other_alone": "'Overig' betekent: geen privacyverzoek. Kies het alleen, zonder andere "
    "soorten.",
    "unchanged": "De zaak heeft deze labels al. Er is niets veranderd.",
}
OUT_OF_THREAD = "staff"  # outbox source of mail to staff (task assignments, reminders)


@dataclass(frozen=True, slots=True)
class ThreadItem:
    """One message on the case, inbound or outbound, as the page shows it."""

    direction: str  # "in" or "out"
    at: datetime
    channel: str
    subject: str
    body: str
    who: str  # the sender (in) or the recipient (out)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    kind: str = ""  # out: what the message is, in Dutch
    status: str = ""  # out: sent, waiting, failed
    note: str = ""  # in: why a message was not treated as the person's (automatic mail)


def _label(row: StaffRow) -> str:
    return f"{row.name} ({row.email})" if row.name else row.email


# --- the page ------------------------------------------------------------------------------------


async def case_page(request: Request) -> Response:
    staff = needs(request, Permission.SEE_CASES)
    ctx = console(request)
    today = overview.today_of(ctx.now())
    async with ctx.sessions.begin() as db:
        case = await case_or_404(db, request.path_params["ref"])
        # Who looked at whose data: in the audit log, not the case log (it would drown there).
        accounts.audit(db, ctx.now(), staff.email, "case_viewed", reference=case.reference)
        history = await queries.case_history(db, case)
        people = await accounts.everyone(db)
        copies = list(
            await db.scalars(
                select(IdCopyRow).where(IdCopyRow.case_id == case.id).order_by(IdCopyRow.id)
            )
        )
        corrections = await labels.corrections_of(db, case)
        tasks_and_drafts = await work.work_context(db, case, staff, ctx)
        collected_data = await case_data.data_context(db, case, ctx)
    thread, notices = _thread(history.messages, history.outbox)
    names = {row.email: _label(row) for row in people}
    closed, paused = case.state == "closed", case.paused_since is not None
    extended = case.extension_sent_at is not None
    legal_due = legal_in_force(case.legal_due, case.extended_due, extended=extended)
    scores = sorted(
        ((str(k), float(v)) for k, v in (case.scores or {}).items()),
        key=lambda item: (-item[1], item[0]),
    )
    page: dict[str, Any] = {
        "case": case,
        "names": names,
        "channel_nl": CHANNEL_NL,
        "language_nl": LANGUAGE_NL,
        "decision_nl": DECISION_NL,
        "promise": overview.countdown(case.promise_due, today, paused=paused, closed=closed),
        "legal_due": legal_due,
        "legal": overview.countdown(legal_due, today, paused=paused, closed=closed),
        "extended": extended,
        "thread": thread,
        "notices": notices,
        "scores": [(kind, round(score * 100)) for kind, score in scores],
        "all_kinds": [(k.value, KIND_NL[k.value]) for k in RequestKind],
        "corrections": corrections,
        **case_identity.identity_context(case, copies),
        "active_staff": [(row.id, _label(row), row.email) for row in people if row.active],
        "decisions": [(d, DECISION_NL[d]) for d in casework.DECISIONS],
        "events": [event_line(event, names) for event in history.events],
    }
    return render(request, "case.html", {**tasks_and_drafts, **collected_data, **page})


def _thread(
    messages: list[MessageRow], outbox: list[OutboxRow]
) -> tuple[list[ThreadItem], list[OutboxRow]]:
    """The person's messages and ours, in time order; and the mail to staff about the case."""
    items: list[ThreadItem] = []
    for message in messages:
        items.append(
            ThreadItem(
                direction="in",
                at=message.received_at,
                channel=message.channel,
                subject=message.subject,
                body=message.body,
                who=_sender(message),
                attachments=[a for a in message.attachments if isinstance(a, dict)],
                note="automatisch bericht: niet beantwoord" if message.route == "ignored" else "",
            )
        )
    notices: list[OutboxRow] = []
    for row in outbox:
        if row.source == OUT_OF_THREAD:
            notices.append(row)
            continue
        items.append(
            ThreadItem(
                direction="out",
                at=row.sent_at or row.created_at,
                channel=row.channel,
                subject=row.subject,
                body=row.body,
                who=row.recipient,
                kind=OUTBOX_KIND_NL.get(row.kind, row.kind),
                status=outbox_status_nl(row.status, row.attempts),
            )
        )
    items.sort(key=lambda item: item.at)  # stable: same-moment messages keep their order
    return items, notices


def _sender(message: MessageRow) -> str:
    if message.sender_name and message.sender:
        return f"{message.sender_name} <{message.sender}>"
    return message.sender or message.sender_name or "onbekend"


# --- labels --------------------------------------------------------------------------------------


async def correct(request: Request) -> Response:
    staff = needs(request, Permission.CORRECT_LABELS)
    ctx = console(request)
    form = await request.form()
    chosen = _form_values(form, "kinds")
    url = case_url(request.path_params["ref"])
    try:
        async with ctx.sessions.begin() as db:
            case = await case_or_404(db, request.path_params["ref"])
            done = await labels.correct_labels(
                db, case, chosen, staff.email, ctx.now(), ctx.settings, ctx.desk
            )
    except labels.LabelError as exc:
        return redirect(url, error=LABEL_ERRORS_NL.get(exc.reason, str(exc)))
    except DsrBotError as exc:
        return redirect(url, error=str(exc))
    if done.outbox is not None:
        ctx.on_outbox()
    said = ["De labels zijn aangepast en de correctie is bewaard."]
    if done.opened:
        said.append("De zaak staat nu open.")
    if done.steps:
        said.append(f"Er {'is 1 stap' if done.steps == 1 else f'zijn {done.steps} stappen'} bij.")
    if done.asked == "copy":
        said.append("De persoon krijgt een e-mail met de vraag om een afgeschermde kopie ID.")
    elif done.asked == "code":
        said.append("De persoon krijgt een e-mail met een code om te bevestigen.")
    if done.stricter is not None:
        said.append(
            f"Let op: voor deze soort verzoek geldt: {POLICY_NL[done.stricter.value]}. "
            "Vraag zo nodig om bewijs van identiteit."
        )
    return redirect(case_url(case), ok=" ".join(said))


# --- assign and close ----------------------------------------------------------------------------


async def assign(request: Request) -> Response:
    staff = needs(request, Permission.ASSIGN)
    ctx = console(request)
    form = await request.form()
    choice = form_text(form, "staff", limit=20)
    reference = request.path_params["ref"]
    url = case_url(reference)
    if choice != "none" and not choice.isdigit():
        return redirect(url, error="Kies een medewerker, of niemand.")
    now = ctx.now()
    try:
        async with ctx.sessions.begin() as db:
            case = await case_or_404(db, reference)
            person = None if choice == "none" else await accounts.by_id(db, int(choice))
            if person is not None and not person.active:
                return redirect(url, error="Dit account is uitgeschakeld.")
            if (person.email if person else None) == case.assignee:
                return redirect(url, ok="Er was niets te veranderen.")
            await casework.assign(
                db, case.reference, person.email if person else None, Actor(staff.email), now
            )
    except StaffError:
        return redirect(url, error="Deze medewerker bestaat niet (meer).")
    except DsrBotError as exc:
        return redirect(url, error=str(exc))
    if person is None:
        return redirect(url, ok="Niemand behandelt deze zaak nu.")
    return redirect(url, ok=f"{_label(person)} behandelt deze zaak nu.")


async def close(request: Request) -> Response:
    staff = needs(request, Permission.CLOSE_CASES)
    ctx = console(request)
    form = await request.form()
    decision = form_text(form, "decision", limit=40)
    reference = request.path_params["ref"]
    url = case_url(reference)
    if decision not in casework.DECISIONS:
        return redirect(url, error="Kies het besluit waarmee u de zaak sluit.")
    key = accountability.ledger_key(secret_file(ctx.settings)) if decision == "erased" else None
    try:
        async with ctx.sessions.begin() as db:
            case = await case_or_404(db, reference)
            if case.state == "closed":
                return redirect(url, error="Deze zaak is al gesloten.")
            if blocks_decision(IdentityState(case.identity_state), decision):
                return redirect(
                    url,
                    error=f"De zaak kan niet gesloten worden als '{DECISION_NL[decision]}': de "
                    "identiteit van de persoon is nog niet vastgesteld. Verifieer die eerst, of "
                    "geef aan dat bewijs niet nodig is (met een reden).",
                )
            await casework.close(
                db, case.reference, decision, Actor(staff.email), ctx.now(), ledger_key=key
            )
    except DsrBotError as exc:
        return redirect(url, error=str(exc))
    return redirect(url, ok=f"De zaak is gesloten: {DECISION_NL[decision]}.")


def _form_values(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


routes: list[BaseRoute] = [
    Route("/cases/{ref}", case_page, methods=["GET"]),
    Route("/cases/{ref}/labels", correct, methods=["POST"]),
    Route("/cases/{ref}/assign", assign, methods=["POST"]),
    Route("/cases/{ref}/close", close, methods=["POST"]),
    *case_identity.routes,
]
