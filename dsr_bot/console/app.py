"""The console's ASGI app: routes from views/, auth and security headers around them."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dsr_bot.console.auth import AuthMiddleware
from dsr_bot.console.context import ConsoleContext
from dsr_bot.console.security import SecuredApp
from dsr_bot.console.templating import HERE, render
from dsr_bot.console.views import admin, case, case_data, cases, dashboard, login, ops, work
from dsr_bot.services.health import Loops

log = logging.getLogger(__name__)

MESSAGES = {
    403: "U heeft geen toegang tot deze pagina of handeling.",
    404: "Deze pagina bestaat niet (meer).",
    405: "Dit kan zo niet.",
}


async def home(request: Request) -> Response:
    return RedirectResponse("/cases", status_code=303)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - type narrowing only
    detail = exc.detail if exc.status_code == 403 and exc.detail else None
    message = detail or MESSAGES.get(exc.status_code, "Er ging iets mis.")
    return render(
        request,
        "error.html",
        {"status": exc.status_code, "message": message},
        status_code=exc.status_code,
    )


async def server_error(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log (without request data); the page says little.
    log.error("console error on %s %s", request.method, request.url.path, exc_info=exc)
    return render(
        request,
        "error.html",
        {"status": 500, "message": "Er ging iets mis. Het is gelogd; probeer het later opnieuw."},
        status_code=500,
    )


def create_app(ctx: ConsoleContext, loops: Loops | None = None) -> Starlette:
    routes: list[BaseRoute] = [
        Route("/", home, methods=["GET"]),
        *login.routes,
        *cases.routes,
        *case.routes,
        *case_data.routes,
        *work.routes,
        *dashboard.routes,
        *admin.routes,
        *ops.routes,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = SecuredApp(
        always_https=ctx.settings.console.secure_cookies == "always",
        routes=routes,
        middleware=[Middleware(AuthMiddleware)],
        exception_handlers={HTTPException: http_error, 500: server_error},
    )
    app.state.console = ctx
    ops.install(app, loops)
    return app
