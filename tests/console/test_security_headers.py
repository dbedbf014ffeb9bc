"""The console's security headers, on the responses test_security.py does not reach: the page
of a bug (500), a wrong method (405), the full policy, HSTS only where HTTPS is known, and the
cache rules of pages and downloads with personal data."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from dsr_bot.config import Settings
from dsr_bot.console.app import create_app
from dsr_bot.console.context import ConsoleContext
from dsr_bot.services import overview
from tests.conftest import make_settings
from tests.console.conftest import ACCOUNTS, Client, LoggedIn, anonymous, open_case, sign_in


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, tmp_path, console={"template_overrides": str(tmp_path / "templates")}
    )


def policy(response: httpx.Response) -> dict[str, str]:
    parts = [
        p.strip().split(None, 1) for p in response.headers["content-security-policy"].split(";")
    ]
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts if p}


def assert_full_set(response: httpx.Response) -> None:
    assert policy(response) == {
        "default-src": "'none'",
        "style-src": "'self'",
        "img-src": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
    }
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in response.headers["permissions-policy"]
    assert "geolocation=()" in response.headers["permissions-policy"]


def plain_client(app: Starlette, base_url: str = "http://console.test") -> Client:
    """A browser's view: a server error arrives as the 500 page, not as an exception."""
    return Client(
        transport=httpx.ASGITransport(
            app=app, client=("127.0.0.1", 50000), raise_app_exceptions=False
        ),
        base_url=base_url,
        headers={"Accept": "text/html"},
    )


async def test_the_page_shown_after_a_bug_carries_the_security_headers(
    app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(overview, "case_page", broken)
    async with plain_client(app) as client:
        assert (await sign_in(client, ACCOUNTS["staff"][0])).status_code == 303
        page = await client.get("/cases")
    assert page.status_code == 500
    assert "Er ging iets mis" in page.text
    assert_full_set(page)
    assert page.headers["cache-control"] == "no-store"


async def test_the_login_page_a_wrong_method_and_a_case_page_carry_the_full_set(
    logged_in: LoggedIn, app: Starlette, ctx: ConsoleContext
) -> None:
    reference = await open_case(ctx, sender="Jan Jansen <jan@example.nl>")
    async with anonymous(app) as client:
        login = await client.get("/login")
    officer = await logged_in("privacy_officer")
    case = await officer.get(f"/cases/{reference}")
    wrong_method = await officer.get("/logout")
    assert (login.status_code, case.status_code, wrong_method.status_code) == (200, 200, 405)
    assert "jan@example.nl" in case.text  # a page with personal data ...
    for response in (login, case, wrong_method):
        assert_full_set(response)
        assert response.headers["cache-control"] == "no-store"  # ... is never cached
        assert "strict-transport-security" not in response.headers  # plain HTTP: no HSTS


async def test_the_stylesheet_may_be_cached_but_gets_the_same_policy(app: Starlette) -> None:
    async with anonymous(app) as client:
        css = await client.get("/static/console.css")
    assert css.status_code == 200
    assert_full_set(css)
    assert "no-store" not in css.headers.get("cache-control", "")


async def test_hsts_is_sent_over_https_only(app: Starlette) -> None:
    async with plain_client(app, "https://console.test") as secure:
        over_https = await secure.get("/login")
    async with plain_client(app) as plain:
        over_http = await plain.get("/login")
    assert over_https.headers["strict-transport-security"] == "max-age=31536000"
    assert "strict-transport-security" not in over_http.headers


async def test_behind_a_proxy_that_terminates_tls_hsts_is_sent_when_the_settings_say_so(
    ctx: ConsoleContext, settings: Settings
) -> None:
    """console.secure_cookies = "always" declares the console is reached over HTTPS although
    the requests arrive over plain HTTP: then the browser is told to keep to HTTPS."""
    always = settings.model_copy(
        update={"console": settings.console.model_copy(update={"secure_cookies": "always"})}
    )
    app = create_app(ConsoleContext(**{**vars(ctx), "settings": always}))
    async with plain_client(app) as client:
        login = await client.get("/login")
    assert login.headers["strict-transport-security"] == "max-age=31536000"
    assert_full_set(login)
