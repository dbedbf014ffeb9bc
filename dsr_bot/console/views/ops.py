"""For operators and their monitoring: `/healthz` and `/metrics`, both outside the login wall.

`/healthz` says whether the database answers and the bot's loops run; it is open to anyone and
names no person. `/metrics` is the Prometheus text format (services/metrics.py): it answers a
client on loopback that did not come through a proxy, or one that sends
`Authorization: Bearer <console.metrics_token>`.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from dsr_bot.console.context import console
from dsr_bot.services import health
from dsr_bot.services import metrics as figures
from dsr_bot.services.health import Loops

# prometheus-client's CONTENT_TYPE_LATEST names a format version that older Prometheus servers
# do not know; this is the classic one, which every scraper reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


class Ops:
    """What the two endpoints keep per app: the bot's loops and the metrics registry."""

    def __init__(self, loops: Loops | None) -> None:
        self.loops = loops or Loops()
        self.metrics = figures.Metrics()


def install(app: Starlette, loops: Loops | None = None) -> None:
    """Called by `create_app`; `loops` is the running bot's (none: the database only)."""
    app.state.ops = Ops(loops)


def _ops(request: Request) -> Ops:
    found: Ops = request.app.state.ops
    return found


async def healthz(request: Request) -> Response:
    ops = _ops(request)
    problem = await health.database_problem(console(request).sessions)
    problems = ([problem] if problem else []) + ops.loops.problems()
    body: dict[str, object] = {
        "status": "fail" if problems else "ok",
        "database": "unreachable" if problem else "ok",
        "loops": ops.loops.states(),
    }
    if problems:
        body["problems"] = problems
    return JSONResponse(body, status_code=503 if problems else 200)


def _on_loopback(request: Request) -> bool:
    if request.client is None or any(h in request.headers for h in FORWARDED):
        return False  # a proxy on this host passes on requests from anywhere
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _token_ok(request: Request, token: str) -> bool:
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(sent.strip().encode(), token.encode())
    )


async def metrics(request: Request) -> Response:
    ctx = console(request)
    token = ctx.settings.console.metrics_token.get_secret_value()
    if not (_on_loopback(request) or _token_ok(request, token)):
        if token:
            return PlainTextResponse(
                "metrics: send the bearer token", 401, headers={"WWW-Authenticate": "Bearer"}
            )
        return PlainTextResponse(
            "metrics: loopback only (set console.metrics_token to allow others)", 403
        )
    ops = _ops(request)
    snap = await figures.snapshot(
        ctx.sessions,
        now=ctx.now(),
        loops=ops.loops,
        mailboxes=[box.name for box in ctx.settings.mailboxes],
    )
    return Response(ops.metrics.render(snap), media_type=CONTENT_TYPE)


routes: list[BaseRoute] = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
