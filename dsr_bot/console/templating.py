"""Rendering console pages: one Jinja2 environment (autoescaped), Dutch dates, flash messages.

A flash message (the outcome of a form) travels in a short-lived cookie, never in the URL.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.domain.roles import ROLE_NAMES_NL, Permission, Role, may

HERE = Path(__file__).parent
FLASH_COOKIE = "dsr_flash"
MONTHS_NL = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")

KIND_NL = {
    "access": "inzage",
    "rectification": "correctie",
    "erasure": "verwijdering",
    "restriction": "beperking",
    "portability": "overdraagbaarheid",
    "objection": "bezwaar",
    "complaint": "klacht",
    "other": "overig",
}
STATE_NL = {"triage": "te beoordelen", "open": "open", "closed": "gesloten"}
IDENTITY_NL = {
    "undecided": "nog te bepalen",
    "not_needed": "niet nodig",
    "code_sent": "code verstuurd",
    "confirmed": "bevestigd met code",
    "copy_requested": "kopie ID gevraagd",
    "copy_received": "kopie ID ontvangen",
    "verified": "geverifieerd",
    "rejected": "afgewezen",
    "not_verified": "niet geverifieerd",
}


def date_nl(value: date | datetime | None) -> str:
    if value is None:
        return "\u2013"  # an en dash: no date
    if isinstance(value, datetime):
        value = value.astimezone(AMSTERDAM).date()
    return f"{value.day} {MONTHS_NL[value.month - 1]} {value.year}"


def datetime_nl(value: datetime | None) -> str:
    if value is None:
        return "\u2013"  # an en dash: no date
    local = value.astimezone(AMSTERDAM)
    return f"{date_nl(local.date())} {local:%H:%M}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html", "svg"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date_nl"] = date_nl
    env.filters["datetime_nl"] = datetime_nl
    env.filters["kind_nl"] = lambda k: KIND_NL.get(str(k), str(k))
    env.filters["state_nl"] = lambda s: STATE_NL.get(str(s), str(s))
    env.filters["identity_nl"] = lambda s: IDENTITY_NL.get(str(s), str(s))
    env.filters["role_nl"] = lambda r: ROLE_NAMES_NL.get(Role(r), str(r)) if r in set(Role) else r
    env.globals["Permission"] = Permission
    env.globals["KIND_NL"] = KIND_NL
    env.globals["STATE_NL"] = STATE_NL
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A page, with the signed-in staff member, their CSRF token and any flash message."""
    staff = getattr(request.state, "staff", None)
    flash = request.cookies.get(FLASH_COOKIE)
    kind, _, text = unquote(flash or "").partition(":")
    page: dict[str, Any] = {
        "staff": staff,
        "csrf": getattr(request.state, "csrf", ""),
        "may": (lambda p: may(staff.role, p)) if staff is not None else (lambda p: False),
        "flash": {"kind": kind, "text": text} if text else None,
        "path": request.url.path,
    }
    page.update(context or {})
    response = templates.TemplateResponse(
        request, name, page, status_code=status_code, headers=headers
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(url: str, *, ok: str | None = None, error: str | None = None) -> Response:
    """After a form: back to a page (303, so a reload does not post again), with a message."""
    response = RedirectResponse(url, status_code=303)
    if ok or error:
        value = quote(f"{'error' if error else 'ok'}:{error or ok}"[:600])
        response.set_cookie(
            FLASH_COOKIE, value, max_age=60, path="/", httponly=True, samesite="lax"
        )
    return response
