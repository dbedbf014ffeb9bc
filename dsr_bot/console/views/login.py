"""Logging in and out. The login form has its own CSRF token (a cookie and a field that must
match), since there is no session yet to bind one to."""

from __future__ import annotations

import hmac
import logging
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dsr_bot.console.auth import SESSION_COOKIE, form_text, safe_next, secure_cookies
from dsr_bot.console.context import console
from dsr_bot.console.templating import redirect, render
from dsr_bot.services import staff as accounts

log = logging.getLogger(__name__)

LOGIN_CSRF_COOKIE = "dsr_login_csrf"


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(
    request: Request, *, error: str = "", status_code: int = 200, email: str = ""
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    headers = {}
    wait = 0
    if status_code == 429:
        wait = int(request.state.retry_after)
        headers["Retry-After"] = str(wait)
    response = render(
        request,
        "login.html",
        {
            "login_csrf": token,
            "error": error,
            "email": email,
            "next": safe_next(request.query_params.get("next")),
        },
        status_code=status_code,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, console(request)),
    )
    return response


async def login_form(request: Request) -> Response:
    return _login_page(request)


async def login(request: Request) -> Response:
    ctx = console(request)
    form = await request.form()
    sent, expected = form_text(form, "csrf"), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _login_page(
            request,
            error="Het formulier was verlopen. Probeer het nog eens.",
            status_code=403,
        )
    email, password = form_text(form, "email", limit=320), form_text(form, "password", limit=1000)
    now = ctx.now()
    try:
        async with ctx.sessions.begin() as db:
            staff = await accounts.authenticate(
                db,
                email,
                password,
                client=_client(request),
                key=ctx.throttle_key,
                now=now,
                options=ctx.settings.console,
            )
            opened = (
                await accounts.open_session(db, staff, now, ctx.settings.console)
                if staff is not None
                else None
            )
    except accounts.LoginThrottled as exc:
        request.state.retry_after = exc.retry_after
        minutes = exc.retry_after // 60 + 1
        return _login_page(
            request,
            error=f"Te veel mislukte pogingen. Probeer het over {minutes} minuten opnieuw.",
            status_code=429,
            email=email,
        )
    if opened is None:
        return _login_page(
            request,
            error="Het e-mailadres of het wachtwoord klopt niet.",
            status_code=401,
            email=email,
        )
    target = safe_next(form_text(form, "next"))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=ctx.settings.console.session_max_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, ctx),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    ctx = console(request)
    async with ctx.sessions.begin() as db:
        await accounts.end_session(db, request.state.session_token)
        accounts.audit(db, ctx.now(), request.state.staff.email, "logged_out")
    response = redirect("/login", ok="U bent uitgelogd.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


routes = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
