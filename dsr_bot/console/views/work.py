"""Tasks and drafts in the console: a case's checklist, and replies from draft to sent.

Every action is a plain form; the services do the work and log it on the case. Four eyes is
checked here first only to say it in Dutch; `casework.approve` decides.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dsr_bot.config import ProfileSettings
from dsr_bot.console.auth import form_text, needs
from dsr_bot.console.context import ConsoleContext, console
from dsr_bot.console.templating import redirect, render
from dsr_bot.domain.identity import IdentityState, blocks_draft
from dsr_bot.domain.roles import Permission, may
from dsr_bot.domain.wording import DRAFT_KIND_NL, DRAFT_REFUSED_NL, DRAFT_TEXT_NL, REFUSED_NL
from dsr_bot.errors import CaseNotFound, DsrBotError, StaffError
from dsr_bot.services import casework, tasks
from dsr_bot.services import staff as accounts
from dsr_bot.services.casework import Actor, CaseworkError
from dsr_bot.store.tables import CaseRow, DraftRow, StaffRow

DRAFT_STATUS_NL = {
    "draft": "concept",
    "approved": "goedgekeurd en verzonden",
    "rejected": "afgewezen",
    "discarded": "weggegooid",
}
NEW_DRAFT_KINDS = [
    ("answer", "Antwoord: schrijf de inhoud; aanhef, nummer en afsluiting komen er vanzelf bij"),
    ("extension_notice", "Verlenging van de termijn: schrijf de redenen"),
    ("refusal_notice", "Weigering (art. 12 lid 4): schrijf de redenen"),
    (
        "access_reply",
        "Inzage (art. 15): doelen, gegevens, ontvangers, bewaartermijn, rechten, klachtroute, "
        "bron en automatische besluiten komen uit het profiel; de export gaat als bijlage mee. "
        "Tekst: een toelichting (mag leeg)",
    ),
    ("rectification_done", "Gegevens aangepast (art. 16): schrijf wat u hebt aangepast"),
    (
        "erasure_done",
        "Gegevens gewist (art. 17): schrijf wat u hebt bewaard en waarom{kept}. "
        "Leeg: alles is gewist",
    ),
    (
        "restriction_applied",
        "Gebruik beperkt (art. 18): tekst mag leeg, of schrijf welke gegevens en hoe lang",
    ),
    (
        "restriction_lifting",
        "Beperking wordt opgeheven (art. 18 lid 3): schrijf waarom, en kies hieronder de datum",
    ),
    (
        "portability_reply",
        "Gegevens in een bestand (art. 20): het zip-bestand gaat als bijlage mee. "
        "Tekst: een toelichting (mag leeg)",
    ),
    (
        "objection_confirmed",
        "Bezwaar uitgevoerd (art. 21): vink hieronder aan wat geldt, of schrijf wat is gestopt",
    ),
    ("clarification", "Vraag om verduidelijking: schrijf uw vraag"),
    ("identity_verified", "Identiteit vastgesteld: tekst mag leeg"),
]
REJECTED_SHOWN = timedelta(days=14)  # the queue page also shows recent rejections, with reasons
QUEUE_LIMIT = 500


# --- helpers -------------------------------------------------------------------------------------


def _case_url(case: CaseRow | str) -> str:
    return f"/cases/{case.reference if isinstance(case, CaseRow) else case}"


async def _case(db: AsyncSession, reference: str) -> CaseRow:
    try:
        return await casework.case_by_reference(db, reference)
    except CaseNotFound:
        raise HTTPException(404) from None


async def _draft_and_case(db: AsyncSession, draft_id: int) -> tuple[DraftRow, CaseRow]:
    draft = await db.get(DraftRow, draft_id)
    if draft is None:
        raise HTTPException(404)
    case = await db.get(CaseRow, draft.case_id)
    assert case is not None  # noqa: S101 - a foreign key
    return draft, case


def _back(form_value: str, case: CaseRow) -> str:
    """Where a draft form returns to: the queue it was sent from, or the case."""
    return "/drafts" if form_value == "drafts" else _case_url(case)


def _still_open(draft: DraftRow) -> str | None:
    if draft.status == "draft":
        return None
    return f"Dit concept is al {DRAFT_STATUS_NL.get(draft.status, draft.status)}."


def _label(row: StaffRow) -> str:
    return f"{row.name} ({row.email})" if row.name else row.email


# --- tasks ---------------------------------------------------------------------------------------


async def add_step(request: Request) -> Response:
    staff = needs(request, Permission.HANDLE_TASKS)
    ctx = console(request)
    form = await request.form()
    title = form_text(form, "title", limit=tasks.MAX_TITLE + 1)
    reference = request.path_params["ref"]
    if not title:
        return redirect(_case_url(reference), error="Beschrijf de nieuwe stap.")
    try:
        async with ctx.sessions.begin() as db:
            case = await _case(db, reference)
            await tasks.add_task(db, case, title, staff.email, ctx.now())
    except DsrBotError as exc:
        return redirect(_case_url(reference), error=str(exc))
    return redirect(_case_url(case), ok="De stap is toegevoegd.")


async def _tick(request: Request, done: bool) -> Response:
    staff = needs(request, Permission.HANDLE_TASKS)
    ctx = console(request)
    async with ctx.sessions.begin() as db:
        case = await _case(db, request.path_params["ref"])
        try:
            task = await tasks.task_of(db, case, request.path_params["task_id"])
        except CaseNotFound:
            raise HTTPException(404) from None
        changed = await tasks.set_done(db, task, done, staff.email, ctx.now())
    if not changed:
        return redirect(_case_url(case), ok="Er was niets te veranderen.")
    return redirect(
        _case_url(case),
        ok=f"Afgevinkt: {task.title}" if done else f"Weer open: {task.title}",
    )


async def step_done(request: Request) -> Response:
    return await _tick(request, True)


async def step_undone(request: Request) -> Response:
    return await _tick(request, False)


async def assign_step(request: Request) -> Response:
    staff = needs(request, Permission.HANDLE_TASKS)
    ctx = console(request)
    form = await request.form()
    choice = form_text(form, "staff", limit=20)
    reference = request.path_params["ref"]
    if choice != "none" and not choice.isdigit():
        return redirect(_case_url(reference), error="Kies een medewerker, of niemand.")
    try:
        async with ctx.sessions.begin() as db:
            case = await _case(db, reference)
            try:
                task = await tasks.task_of(db, case, request.path_params["task_id"])
            except CaseNotFound:
                raise HTTPException(404) from None
            assignee = None if choice == "none" else await accounts.by_id(db, int(choice))
            if assignee is not None and not assignee.active:
                return redirect(_case_url(case), error="Dit account is uitgeschakeld.")
            changed = await tasks.assign_task(
                db, task, assignee, staff.email, ctx.now(), ctx.settings, ctx.replies
            )
    except StaffError:
        return redirect(_case_url(reference), error="Deze medewerker bestaat niet (meer).")
    except DsrBotError as exc:
        return redirect(_case_url(reference), error=str(exc))
    if not changed:
        return redirect(_case_url(case), ok="Er was niets te veranderen.")
    if assignee is None:
        return redirect(_case_url(case), ok=f"Niemand heeft nu de stap: {task.title}")
    if assignee.email != staff.email:
        ctx.on_outbox()  # the mail to the assignee
        told = " Die krijgt er een e-mail over."
    else:
        told = ""
    return redirect(_case_url(case), ok=f"Toegewezen aan {assignee.email}.{told}")


# --- drafts --------------------------------------------------------------------------------------


def _new_draft_kinds(profile: ProfileSettings) -> list[tuple[str, str]]:
    """The kinds offered, the erasure hint with what the profile says must be kept longer."""
    longer = "; ".join(f"{r.what.nl}: {r.years} jaar" for r in profile.retention.longer)
    kept = f" (bijvoorbeeld: {longer})" if longer else ""
    return [(kind, label.replace("{kept}", kept)) for kind, label in NEW_DRAFT_KINDS]


def _lift_on(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def new_draft(request: Request) -> Response:
    staff = needs(request, Permission.WRITE_DRAFTS)
    ctx = console(request)
    form = await request.form()
    kind = form_text(form, "kind", limit=40)
    text = form_text(form, "text", limit=casework.MAX_BODY + 1)
    reference = request.path_params["ref"]
    url = _case_url(reference)
    if kind not in casework.DRAFT_KINDS:
        return redirect(url, error="Kies wat voor bericht u wilt opstellen.")
    if not text and kind in DRAFT_TEXT_NL:
        return redirect(url, error=f"Schrijf {DRAFT_TEXT_NL[kind]}: de persoon leest die.")
    actor = Actor(staff.email)
    try:
        async with ctx.sessions.begin() as db:
            case = await _case(db, reference)
            if case.state == "closed":
                return redirect(url, error="Deze zaak is gesloten.")
            if kind == "answer":
                await casework.draft_answer(
                    db, case.reference, text, actor, ctx.now(), ctx.settings, ctx.replies
                )
            elif kind in casework.REPLY_TEXT:
                await casework.draft_reply(
                    db,
                    case.reference,
                    kind,
                    actor,
                    ctx.now(),
                    ctx.settings,
                    ctx.replies,
                    text=text,
                    lift_on=_lift_on(form_text(form, "lift_on", limit=20)),
                    unsubscribed=form_text(form, "unsubscribed", limit=10) == "on",
                    consent_withdrawn=form_text(form, "consent_withdrawn", limit=10) == "on",
                )
            else:
                await casework.draft_notice(
                    db, case.reference, kind, text, actor, ctx.now(), ctx.settings, ctx.replies
                )
    except CaseworkError as exc:
        return redirect(url, error=DRAFT_REFUSED_NL.get(exc.code or "", str(exc)))
    except DsrBotError as exc:
        return redirect(url, error=str(exc))
    return redirect(
        _case_url(case),
        ok="Het concept staat klaar. Lees het na en pas het zo nodig aan. "
        "Daarna keurt een privacy officer het goed.",
    )


async def edit_draft(request: Request) -> Response:
    staff = needs(request, Permission.WRITE_DRAFTS)
    ctx = console(request)
    form = await request.form()
    subject = form_text(form, "subject", limit=casework.MAX_SUBJECT + 1)
    body = form_text(form, "body", limit=casework.MAX_BODY + 1)
    draft_id = request.path_params["draft_id"]
    back = "/drafts"
    try:
        async with ctx.sessions.begin() as db:
            draft, case = await _draft_and_case(db, draft_id)
            back = _back(form_text(form, "back"), case)
            if problem := _still_open(draft):
                return redirect(back, error=problem)
            if not subject or not body:
                return redirect(back, error="Een concept heeft een onderwerp en een tekst.")
            changed = await casework.edit_draft(
                db, draft.id, subject, body, Actor(staff.email), ctx.now()
            )
            four_eyes = casework.four_eyes(draft, ctx.settings)
    except DsrBotError as exc:
        return redirect(back, error=str(exc))
    if not changed:
        return redirect(back, ok="Er was niets veranderd.")
    note = " Iemand anders keurt het nu goed (vier ogen)." if four_eyes else ""
    return redirect(back, ok=f"Het concept is aangepast.{note}")


async def approve_draft(request: Request) -> Response:
    staff = needs(request, Permission.APPROVE)
    ctx = console(request)
    form = await request.form()
    draft_id = request.path_params["draft_id"]
    back = "/drafts"
    try:
        async with ctx.sessions.begin() as db:
            draft, case = await _draft_and_case(db, draft_id)
            back = _back(form_text(form, "back"), case)
            if problem := _still_open(draft):
                return redirect(back, error=problem)
            await casework.approve(db, draft.id, Actor(staff.email), ctx.now(), ctx.settings)
    except CaseworkError as exc:
        return redirect(back, error=REFUSED_NL.get(exc.code or "", str(exc)))
    except DsrBotError as exc:
        return redirect(back, error=str(exc))
    ctx.on_outbox()  # after the commit: the sender delivers at once
    closed = " De zaak is gesloten." if case.state == "closed" else ""
    return redirect(back, ok=f"Goedgekeurd: het bericht wordt nu verzonden.{closed}")


async def reject_draft(request: Request) -> Response:
    staff = needs(request, Permission.APPROVE)
    ctx = console(request)
    form = await request.form()
    reason = form_text(form, "reason", limit=3000)
    draft_id = request.path_params["draft_id"]
    back = "/drafts"
    try:
        async with ctx.sessions.begin() as db:
            draft, case = await _draft_and_case(db, draft_id)
            back = _back(form_text(form, "back"), case)
            if problem := _still_open(draft):
                return redirect(back, error=problem)
            if not reason:
                return redirect(back, error="Schrijf waarom u het concept afwijst.")
            await casework.reject_draft(db, draft.id, reason, Actor(staff.email), ctx.now())
    except DsrBotError as exc:
        return redirect(back, error=str(exc))
    return redirect(back, ok="Afgewezen. De schrijver ziet uw reden bij de zaak.")


async def discard_draft(request: Request) -> Response:
    staff = needs(request, Permission.WRITE_DRAFTS)
    ctx = console(request)
    form = await request.form()
    draft_id = request.path_params["draft_id"]
    back = "/drafts"
    try:
        async with ctx.sessions.begin() as db:
            draft, case = await _draft_and_case(db, draft_id)
            back = _back(form_text(form, "back"), case)
            if not _may_discard(draft, staff):
                raise HTTPException(
                    403, "Alleen de schrijver of een privacy officer gooit dit weg."
                )
            if problem := _still_open(draft):
                return redirect(back, error=problem)
            await casework.discard(db, draft.id, Actor(staff.email), ctx.now())
    except DsrBotError as exc:
        return redirect(back, error=str(exc))
    return redirect(back, ok="Het concept is weggegooid.")


def _may_discard(draft: DraftRow, staff: StaffRow) -> bool:
    # A notice the bot drafted (or a colleague's) is not thrown away by just anyone: it may be
    # one the person must get.
    return draft.created_by == staff.email or may(staff.role, Permission.APPROVE)


async def queue(request: Request) -> Response:
    staff = needs(request, Permission.SEE_CASES)
    ctx = console(request)
    now = ctx.now()
    async with ctx.sessions.begin() as db:
        waiting = list(
            await db.execute(
                select(DraftRow, CaseRow)
                .join(CaseRow, CaseRow.id == DraftRow.case_id)
                .where(DraftRow.status == "draft")
                .order_by(DraftRow.created_at, DraftRow.id)
                .limit(QUEUE_LIMIT)
            )
        )
        rejected = list(
            await db.execute(
                select(DraftRow, CaseRow)
                .join(CaseRow, CaseRow.id == DraftRow.case_id)
                .where(DraftRow.status == "rejected", DraftRow.decided_at >= now - REJECTED_SHOWN)
                .order_by(DraftRow.decided_at.desc(), DraftRow.id.desc())
                .limit(QUEUE_LIMIT)
            )
        )
    return render(
        request,
        "drafts.html",
        {
            "waiting": [(draft, case) for draft, case in waiting],
            "rejected": [(draft, case) for draft, case in rejected],
            "draft_kind_nl": DRAFT_KIND_NL,
            "draft_conflict": {
                draft.id: casework.approval_conflict(draft, staff.email, ctx.settings)
                for draft, _ in waiting
            },
            "conflict_nl": REFUSED_NL,
            "rejected_days": REJECTED_SHOWN.days,
        },
    )


async def work_context(
    db: AsyncSession, case: CaseRow, staff: StaffRow, ctx: ConsoleContext
) -> dict[str, Any]:
    """What the case page's _tasks.html and _drafts.html partials need."""
    steps = await tasks.for_case(db, case)
    people = await accounts.everyone(db)
    drafts = list(
        await db.scalars(
            select(DraftRow).where(DraftRow.case_id == case.id).order_by(DraftRow.id.desc())
        )
    )
    return {
        "tasks": steps,
        "task_staff": [(row.id, _label(row), row.email) for row in people if row.active],
        "staff_names": {row.email: _label(row) for row in people},
        "drafts": drafts,
        "draft_kind_nl": DRAFT_KIND_NL,
        "draft_status_nl": DRAFT_STATUS_NL,
        "draft_conflict": {
            d.id: casework.approval_conflict(d, staff.email, ctx.settings) for d in drafts
        },
        "draft_discardable": {d.id: _may_discard(d, staff) for d in drafts},
        "draft_waits_identity": {
            d.id: blocks_draft(IdentityState(case.identity_state), d.kind) for d in drafts
        },
        "conflict_nl": REFUSED_NL,
        "new_draft_kinds": _new_draft_kinds(ctx.settings.profiles[case.profile]),
    }


routes: list[BaseRoute] = [
    Route("/cases/{ref}/tasks", add_step, methods=["POST"]),
    Route("/cases/{ref}/tasks/{task_id:int}/done", step_done, methods=["POST"]),
    Route("/cases/{ref}/tasks/{task_id:int}/undone", step_undone, methods=["POST"]),
    Route("/cases/{ref}/tasks/{task_id:int}/assign", assign_step, methods=["POST"]),
    Route("/cases/{ref}/drafts", new_draft, methods=["POST"]),
    Route("/drafts", queue, methods=["GET"]),
    Route("/drafts/{draft_id:int}/edit", edit_draft, methods=["POST"]),
    Route("/drafts/{draft_id:int}/approve", approve_draft, methods=["POST"]),
    Route("/drafts/{draft_id:int}/reject", reject_draft, methods=["POST"]),
    Route("/drafts/{draft_id:int}/discard", discard_draft, methods=["POST"]),
]
