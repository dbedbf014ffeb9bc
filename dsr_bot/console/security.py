"""Response headers that every console response carries, error pages included.

No script runs in the console (every action is a plain form) and its one stylesheet and icon
come from /static/, so the policy allows nothing else; pages show personal data, so nothing is
cached and no page may be framed. HSTS is sent when the console is known to be reached over
HTTPS: the request came in over it (directly, or from a trusted proxy), or
`console.secure_cookies = "always"` says a proxy in front terminates TLS.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
_OURS = frozenset(name for name, _ in (*HEADERS, HSTS))


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, always_https: bool = False) -> None:
        self.app = app
        self.always_https = always_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")
        https = self.always_https or scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                headers.extend(HEADERS)
                if https:
                    headers.append(HSTS)
                if not static and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class SecuredApp(Starlette):
    """Starlette with SecurityHeaders outside everything, ServerErrorMiddleware included: as an
    ordinary middleware it would sit inside that one and miss the 500 page."""

    def __init__(self, *args: Any, always_https: bool = False, **kwargs: Any) -> None:
        self.always_https = always_https
        super().__init__(*args, **kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), always_https=self.always_https)
