"""Identity on the case page: where the proof stands, and what a privacy officer does about it.

The actions call services/identity.py, which logs each on the case and deletes every stored copy
when staff decide. A copy opens only from its own link (never inline on the page), decrypted in
memory, not cached, and each view is logged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dsr_bot.console.auth import form_text, needs
from dsr_bot.console.context import console
from dsr_bot.console.templating import redirect
from dsr_bot.console.views.case_log import COPY_OUTCOME_NL, DOCUMENT_NL, FIELD_NL
from dsr_bot.domain.identity import SATISFIED, DocumentType, IdentityState
from dsr_bot.domain.roles import Permission
from dsr_bot.errors import CaseNotFound, DsrBotError, UnreadableImage
from dsr_bot.services import casework, identity
from dsr_bot.store.tables import CaseRow, IdCopyRow

POLICY_NL = {
    "always": "altijd een afgeschermde kopie ID",
    "on_doubt": "een code per e-mail; bij twijfel een kopie ID",
    "never": "geen bewijs nodig",
}
COPY_STATUS_NL = {
    "pending": "wacht op de automatische controle",
    "checking": "wordt gecontroleerd",
    "review": "wacht op beoordeling",
    "deleted": "verwijderd",
}


# The case page's own helpers, here so that case.py can import this module's routes.
def case_url(case: CaseRow | str) -> str:
    return f"/cases/{case.reference if isinstance(case, CaseRow) else case.strip().upper()}"


async def case_or_404(db: AsyncSession, reference: str) -> CaseRow:
    try:
        return await casework.case_by_reference(db, reference)
    except CaseNotFound:
        raise HTTPException(404) from None


def identity_context(case: CaseRow, copies: list[IdCopyRow]) -> dict[str, Any]:
    """What _case_identity.html needs besides the case."""
    closed, state = case.state == "closed", IdentityState(case.identity_state)
    asked = (IdentityState.COPY_REQUESTED, IdentityState.COPY_RECEIVED, IdentityState.VERIFIED)
    return {
        "copies": copies,
        "review_copy": next((c for c in reversed(copies) if c.status == "review"), None),
        "policy_nl": POLICY_NL,
        "copy_status_nl": COPY_STATUS_NL,
        "copy_outcome_nl": COPY_OUTCOME_NL,
        "field_nl": FIELD_NL,
        "documents": [(d.value, DOCUMENT_NL[d]) for d in DocumentType],
        "identity_open": not closed and state not in SATISFIED,
        "may_verify": not closed and state is not IdentityState.VERIFIED,
        "may_request": not closed and state not in asked,
    }


IDENTITY_ERRORS_NL = (
    ("is closed", "Deze zaak is gesloten."),
    ("has been asked for already", "Er is al om een kopie ID gevraagd."),
    ("verified already", "De identiteit is al geverifieerd."),
    ("no address to send", "Er is geen adres om de vraag naartoe te sturen."),
    ("no ID copy is waiting", "Er wacht geen kopie ID op beoordeling."),
    ("no longer stored", "De kopie ID is er niet meer. Vraag zo nodig om een nieuwe."),
    ("secret key", "De kopie ID is niet te lezen (de geheime sleutel is veranderd)."),
    ("identity is", "Dat kan niet meer: de identiteit is al vastgesteld of niet nodig."),
)


def _identity_error(exc: DsrBotError) -> str:
    text = str(exc)
    for part, dutch in IDENTITY_ERRORS_NL:
        if part in text:
            return dutch
    return f"Dat lukte niet: {text}"


async def view_copy(request: Request) -> Response:
    staff = needs(request, Permission.IDENTITY)
    ctx = console(request)
    reference = request.path_params["ref"]
    try:
        async with ctx.sessions.begin() as db:
            case = await case_or_404(db, reference)
            row, data = await identity.view_copy(
                db, ctx.desk, case.reference, staff.email, ctx.now()
            )
    except DsrBotError as exc:
        return redirect(case_url(reference), error=_identity_error(exc))
    try:
        media, data = await asyncio.to_thread(identity.viewable, row.content_type, data)
    except UnreadableImage:
        return redirect(case_url(reference), error="Deze kopie kan niet worden getoond.")
    suffix = {"image/jpeg": "jpg", "image/png": "png"}.get(media, "bin")
    return Response(
        data,
        media_type=media,
        headers={
            "Cache-Control": "no-store, private",
            "Content-Disposition": f'inline; filename="kopie-id-{row.id}.{suffix}"',
        },
    )


async def _identity_action(request: Request, action: str) -> Response:
    staff = needs(request, Permission.IDENTITY)
    ctx = console(request)
    form = await request.form()
    reason = form_text(form, "reason", limit=3000)
    reference = request.path_params["ref"]
    url = case_url(reference)
    if action in ("reject", "waive") and not reason:
        return redirect(url, error="Schrijf de reden op: die komt in het logboek van de zaak.")
    document = form_text(form, "document", limit=40)
    if action == "verify" and document not in set(DocumentType):
        return redirect(url, error="Kies met welk document de identiteit is vastgesteld.")
    now = ctx.now()
    try:
        async with ctx.sessions.begin() as db:
            case = await case_or_404(db, reference)
            if action == "verify":
                await identity.verify(db, ctx.desk, case.reference, document, staff.email, now)
            elif action == "reject":
                await identity.reject(db, ctx.desk, case.reference, reason, staff.email, now)
            elif action == "waive":
                await identity.waive(db, ctx.desk, case.reference, reason, staff.email, now)
            else:
                await identity.request_copy(
                    db, ctx.desk, case.reference, staff.email, now, reason=reason
                )
    except DsrBotError as exc:
        return redirect(url, error=_identity_error(exc))
    if action == "request":
        ctx.on_outbox()  # the request goes out at once
    said = {
        "verify": "De identiteit is geverifieerd. Elke kopie ID van deze zaak is verwijderd.",
        "reject": "De kopie ID is afgewezen en verwijderd. Vraag om een nieuwe, of sluit de zaak.",
        "waive": "Bewijs van identiteit is niet nodig. Elke kopie ID van deze zaak is verwijderd.",
        "request": "De persoon krijgt een e-mail met de vraag om een afgeschermde kopie ID. "
        "De klok staat stil tot die er is.",
    }
    return redirect(case_url(case), ok=said[action])


async def identity_verify(request: Request) -> Response:
    return await _identity_action(request, "verify")


async def identity_reject(request: Request) -> Response:
    return await _identity_action(request, "reject")


async def identity_waive(request: Request) -> Response:
    return await _identity_action(request, "waive")


async def identity_request(request: Request) -> Response:
    return await _identity_action(request, "request")


routes: list[BaseRoute] = [
    Route("/cases/{ref}/identity/copy", view_copy, methods=["GET"]),
    Route("/cases/{ref}/identity/verify", identity_verify, methods=["POST"]),
    Route("/cases/{ref}/identity/reject", identity_reject, methods=["POST"]),
    Route("/cases/{ref}/identity/waive", identity_waive, methods=["POST"]),
    Route("/cases/{ref}/identity/request", identity_request, methods=["POST"]),
]
