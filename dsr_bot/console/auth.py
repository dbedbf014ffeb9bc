"""Who is asking: the session cookie, the CSRF token of every form, and permissions.

`AuthMiddleware` guards every path but the login page, static files and /healthz and /metrics
(views/ops.py): without a live session a page request is sent to the login page and anything
else gets 401. Every request that can change something (POST and the like) must carry the
session's CSRF token, as the form field `csrf` or the header X-CSRF-Token, or it gets 403. Views
then ask `needs(request, permission)`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dsr_bot.console.context import ConsoleContext
from dsr_bot.domain.roles import Permission, may
from dsr_bot.services import staff as accounts
from dsr_bot.store.tables import StaffRow

SESSION_COOKIE = "dsr_session"
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/metrics"})  # ops.py guards /metrics itself
PUBLIC_PREFIXES = ("/static/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY = 2 * 1024 * 1024  # forms only; no uploads
# The one upload (collected data, views/case_data.py): room beyond its 10 MB file limit, so a
# file somewhat too large gets the view's message rather than a bare 413.
UPLOAD_PATH_SUFFIX = "/data/file"
MAX_UPLOAD_BODY = 24 * 1024 * 1024


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def secure_cookies(request: Request, ctx: ConsoleContext) -> bool:
    return ctx.settings.console.secure_cookies == "always" or request.url.scheme == "https"


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host after logging in."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


class AuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        ctx: ConsoleContext = scope["app"].state.console
        found = None
        token = request.cookies.get(SESSION_COOKIE, "")
        if token:
            async with ctx.sessions.begin() as db:
                found = await accounts.session_for(db, token, ctx.now(), ctx.settings.console)
        if found is None:
            await _unauthenticated(request)(scope, receive, send)
            return
        staff, session = found
        scope.setdefault("state", {})
        scope["state"]["staff"] = staff
        scope["state"]["csrf"] = session.csrf
        scope["state"]["session_token"] = token
        if request.method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        upload = request.url.path.endswith(UPLOAD_PATH_SUFFIX)
        body = await _read_body(receive, MAX_UPLOAD_BODY if upload else MAX_BODY)
        if body is None:
            await PlainTextResponse("Request too large", 413)(scope, receive, send)
            return
        replay = _replay(body)
        sent = request.headers.get("x-csrf-token") or await _form_token(scope, replay)
        if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            await PlainTextResponse(
                "Dit formulier is verlopen of niet van deze site (CSRF). Laad de pagina opnieuw.",
                403,
            )(scope, receive, send)
            return
        await self.app(scope, _replay(body), send)


def _unauthenticated(request: Request) -> Response:
    if request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", ""):
        path = request.url.path
        target = f"/login?next={quote(path)}" if path not in ("/", "/logout") else "/login"
        return RedirectResponse(target, status_code=303)
    return PlainTextResponse("Log in first", 401, headers={"WWW-Authenticate": "Cookie"})


async def _read_body(receive: Receive, limit: int = MAX_BODY) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _form_token(scope: Scope, receive: Receive) -> str:
    content_type = dict(scope.get("headers", [])).get(b"content-type", b"").decode("latin-1")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return ""
    form: FormData = await Request(scope, receive).form()
    try:
        value = form.get("csrf")
        return value if isinstance(value, str) else ""
    finally:
        await form.close()


def current_staff(request: Request) -> StaffRow:
    found: StaffRow = request.state.staff
    return found


def needs(request: Request, permission: Permission) -> StaffRow:
    """The signed-in staff member, when their role allows `permission`; 403 otherwise."""
    staff = current_staff(request)
    if not may(staff.role, permission):
        raise HTTPException(403, "Uw rol geeft geen toegang tot deze pagina of handeling.")
    return staff


View = Callable[[Request], Awaitable[Response]]


def requires(permission: Permission) -> Callable[[View], View]:
    """Decorator form of `needs` for a whole view."""

    def wrap(view: View) -> View:
        @wraps(view)
        async def guarded(request: Request) -> Response:
            needs(request, permission)
            return await view(request)

        return guarded

    return wrap


def form_text(form: FormData, name: str, *, limit: int = 20_000) -> str:
    value: Any = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""
