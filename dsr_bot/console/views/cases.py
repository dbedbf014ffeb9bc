"""The case list ("Mijn taken" by default, or every case, with filters) and the outbox."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dsr_bot.console.auth import needs
from dsr_bot.console.context import console
from dsr_bot.console.templating import render
from dsr_bot.domain.roles import Permission
from dsr_bot.services import overview
from dsr_bot.services import staff as accounts

STATE_CHOICES_NL = {
    "": "te beoordelen en open",
    "triage": "te beoordelen",
    "open": "open",
    "closed": "gesloten",
    "all": "alle",
}
OUTBOX_KIND_NL = {
    "acknowledgement": "ontvangstbevestiging",
    "complaint_acknowledgement": "ontvangstbevestiging klacht",
    "answer": "antwoord",
    "extension_notice": "verlenging",
    "refusal_notice": "weigering",
    "id_request": "vraag om ID-kopie",
    "id_reminder": "herinnering ID-kopie",
    "id_copy_unshielded": "ID-kopie niet afgeschermd",
    "identity_not_verified": "identiteit niet vastgesteld",
    "staff_task": "taak toegewezen",
    "promise_near": "herinnering belofte",
    "legal_near": "herinnering wettelijke termijn",
    "promise_overdue": "escalatie belofte verlopen",
    "extension_prompt": "herinnering verlenging",
    "legal_overdue": "escalatie wettelijke termijn verlopen",
    "digest": "dagoverzicht",
    "access_reply": "antwoord op inzage",
    "rectification_done": "gegevens aangepast",
    "erasure_done": "gegevens gewist",
    "restriction_applied": "gebruik beperkt",
    "restriction_lifting": "beperking wordt opgeheven",
    "portability_reply": "gegevens in een bestand",
    "objection_confirmed": "bezwaar uitgevoerd",
    "clarification": "vraag om verduidelijking",
    "identity_verified": "identiteit vastgesteld",
}


def outbox_status_nl(status: str, attempts: int) -> str:
    if status == "sent":
        return "verzonden"
    if status == "failed":
        return "mislukt"
    if status == "pending" and attempts:
        return f"wacht (opnieuw, {attempts} {'poging' if attempts == 1 else 'pogingen'})"
    if status == "pending":
        return "wacht op verzending"
    return status


async def case_list(request: Request) -> Response:
    staff = needs(request, Permission.SEE_CASES)
    ctx = console(request)
    chosen = overview.CaseFilter.from_query(request.query_params)
    today = overview.today_of(ctx.now())
    async with ctx.sessions.begin() as db:
        people = await accounts.everyone(db)
        found = await overview.case_page(
            db,
            chosen,
            me=staff.email,
            today=today,
            page_size=ctx.settings.console.page_size,
            staff_emails={p.id: p.email for p in people},
        )
    return render(
        request,
        "cases.html",
        {
            "found": found,
            "chosen": chosen,
            "today": today,
            "active_staff": [p for p in people if p.active],
            "names": {p.email: p.name or p.email for p in people},
            "state_choices": STATE_CHOICES_NL,
            "kinds": overview.KINDS,
            "page_url": lambda n: chosen.url(page=n),
        },
    )


async def outbox(request: Request) -> Response:
    needs(request, Permission.SEE_CASES)
    ctx = console(request)
    wanted = request.query_params.get("page", "1")
    page = int(wanted) if wanted.isdigit() and len(wanted) < 7 else 1
    async with ctx.sessions.begin() as db:
        found = await overview.outbox_page(db, page=page, page_size=ctx.settings.console.page_size)
    return render(
        request,
        "outbox.html",
        {
            "found": found,
            "kind_names": OUTBOX_KIND_NL,
            "status_nl": outbox_status_nl,
            "page_url": lambda n: f"/outbox?{urlencode({'page': n})}" if n > 1 else "/outbox",
        },
    )


routes: list[BaseRoute] = [
    Route("/cases", case_list, methods=["GET"]),
    Route("/outbox", outbox, methods=["GET"]),
]
