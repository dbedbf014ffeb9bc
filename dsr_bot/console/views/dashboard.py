"""The dashboard (open cases, deadlines, the on-time rate per month) and the register download."""

from __future__ import annotations

import csv
import io

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dsr_bot.console.auth import needs
from dsr_bot.console.context import console
from dsr_bot.console.templating import MONTHS_NL, render
from dsr_bot.domain.roles import Permission
from dsr_bot.services import accountability, overview
from dsr_bot.services import staff as accounts

BUCKETS_NL = {
    "triage": "te beoordelen",
    "open": "open",
    "paused": "klok stil",
    "identity": "wacht op identiteit",
}
# Where a figure's cases can be listed.
BUCKET_LINKS = {"triage": "/cases?view=all&state=triage"}


def month_nl(month: overview.MonthRate) -> str:
    return f"{MONTHS_NL[month.month.month - 1]} {month.month.year}"


async def dashboard(request: Request) -> Response:
    needs(request, Permission.SEE_CASES)
    ctx = console(request)
    today = overview.today_of(ctx.now())
    async with ctx.sessions.begin() as db:
        figures = await overview.dashboard(db, today=today)
    return render(
        request,
        "dashboard.html",
        {
            "figures": figures,
            "chart": overview.rate_chart(figures.months),
            "buckets": BUCKETS_NL,
            "bucket_links": BUCKET_LINKS,
            "month_nl": month_nl,
            "soon_days": overview.SOON_DAYS,
        },
    )


async def register_csv(request: Request) -> Response:
    """The register as `dsr-bot register export --csv` writes it; the download is audited."""
    staff = needs(request, Permission.EXPORT)
    ctx = console(request)
    now = ctx.now()
    async with ctx.sessions.begin() as db:
        rows = await accountability.register(db, now=now)
        accounts.audit(db, now, staff.email, "register_exported", rows=len(rows))
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(accountability.REGISTER_COLUMNS), lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    name = f"register-{overview.today_of(now).isoformat()}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


routes: list[BaseRoute] = [
    Route("/dashboard", dashboard, methods=["GET"]),
    Route("/register.csv", register_csv, methods=["GET"]),
]
