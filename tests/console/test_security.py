"""The console's security promises, tested from the outside.

The route tests read the app's own route table, so a route added later is covered without
touching this file: every route needs a session, every form its CSRF token, every /admin route
an admin. The privacy tests open a case with a distinctive name, address and text, then crawl the
console as a privacy officer and read every log record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote_plus, urlencode, urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.convertors import IntegerConvertor
from starlette.routing import BaseRoute, Mount, Route

from dsr_bot.config import ConsoleSettings, Settings
from dsr_bot.console.context import ConsoleContext
from dsr_bot.console.server import ConsoleServer
from dsr_bot.domain.cases import RequestKind
from dsr_bot.store.tables import AuditRow, StaffRow
from tests.conftest import make_settings
from tests.console.conftest import (
    ACCOUNTS,
    CSRF_RE,
    PASSWORD,
    Client,
    Clock,
    LoggedIn,
    anonymous,
    open_case,
    sign_in,
)

ORIGIN = "http://console.test"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Template overrides (an admin route may write one) stay in this test's directory.
    return make_settings(
        database_url, tmp_path, console={"template_overrides": str(tmp_path / "templates")}
    )


# --- the route table -----------------------------------------------------------------------------

# Plausible values for path parameters, by name; numbers get `number`.
SAMPLE_PARAMS = {
    "ref": "AVG-2026-0001",
    "reference": "AVG-2026-0001",
    "language": "nl",
    "name": "acknowledgement.body.j2",
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with its parameters filled in
    pattern: str


def endpoints(app: Starlette, *, number: int = 1) -> list[Endpoint]:
    """Every method of every route of the app, except the static files."""
    found: list[Endpoint] = []
    for route, prefix in _walk(app.routes):
        methods = sorted((route.methods or {"GET"}) - {"HEAD"})
        path = prefix + route.path
        for name, convertor in route.param_convertors.items():
            value = str(number) if isinstance(convertor, IntegerConvertor) else None
            value = value or SAMPLE_PARAMS.get(name, "1")
            path = re.sub(r"\{" + re.escape(name) + r"(:[^}]*)?\}", value, path)
        found += [Endpoint(method, path, prefix + route.path) for method in methods]
    return found


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[Route, str]]:
    for route in routes:
        if isinstance(route, Route):
            yield route, prefix
        elif isinstance(route, Mount) and route.path != "/static":
            yield from _walk(route.routes, prefix + route.path)


def test_the_route_table_is_read_in_full(app: Starlette) -> None:
    """The route tests below mean something only if they see the routes."""
    seen = {(e.method, e.pattern) for e in endpoints(app)}
    for expected in [
        ("GET", "/login"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("GET", "/admin/staff"),
        ("POST", "/admin/staff/{staff_id:int}/role"),
        ("POST", "/admin/templates/{language}/{name}"),
    ]:
        assert expected in seen


# --- (a) no session: the login page or 401 -------------------------------------------------------


async def test_without_a_session_every_page_sends_the_browser_to_the_login_page(
    app: Starlette,
) -> None:
    open_by_design = ("/login", "/healthz", "/metrics")  # the last two: console/views/ops.py
    pages = [e for e in endpoints(app) if e.method == "GET" and e.path not in open_by_design]
    async with anonymous(app) as client:
        for endpoint in pages:
            response = await client.get(endpoint.path)
            assert response.status_code == 303, endpoint
            assert response.headers["location"].startswith("/login"), endpoint
            # Not a page, say a script fetching data: no redirect, 401.
            plain = await client.get(endpoint.path, headers={"Accept": "application/json"})
            assert plain.status_code == 401, endpoint
        # A forged or stale cookie is no session either.
        client.cookies.set("dsr_session", "not-a-real-session-token")
        for endpoint in pages:
            response = await client.get(endpoint.path)
            assert response.headers["location"].startswith("/login"), endpoint


async def test_without_a_session_every_action_is_refused_with_401(
    app: Starlette, ctx: ConsoleContext
) -> None:
    actions = [e for e in endpoints(app) if e.method != "GET" and e.path != "/login"]
    assert actions
    async with anonymous(app) as client:
        for endpoint in actions:
            response = await client.request(
                endpoint.method, endpoint.path, data={"csrf": "x", "role": "admin"}
            )
            assert response.status_code == 401, endpoint
    assert await staff_actions(ctx) == []


async def test_the_login_page_and_static_files_need_no_session(app: Starlette) -> None:
    async with anonymous(app) as client:
        assert (await client.get("/login")).status_code == 200
        assert (await client.get("/static/console.css")).status_code == 200


# --- (b) CSRF ------------------------------------------------------------------------------------


async def test_a_form_without_its_csrf_token_is_refused(
    logged_in: LoggedIn, app: Starlette, ctx: ConsoleContext
) -> None:
    actions = [e for e in endpoints(app) if e.method != "GET" and e.path != "/login"]
    officer = await logged_in("privacy_officer")
    admin = await logged_in("admin")
    someone_elses = (await logged_in("staff")).csrf  # valid, but for another session
    for client in (officer, admin):
        for endpoint in actions:
            form = {"role": "admin", "password": "x" * 20, "text": "x"}
            for token in (None, "", "wrong-" + client.csrf, someone_elses):
                data = form if token is None else {**form, "csrf": token}
                response = await client.request(endpoint.method, endpoint.path, data=data)
                assert response.status_code == 403, (endpoint, token)
                assert "CSRF" in response.text, (endpoint, token)
    assert await staff_actions(ctx) == []
    # The right token passes: the same session can still act.
    assert (await admin.post_form("/logout")).status_code == 303


async def test_the_login_form_without_its_token_is_refused(app: Starlette) -> None:
    email = ACCOUNTS["staff"][0]
    async with anonymous(app) as client:
        await client.get("/login")
        missing = await client.post("/login", data={"email": email, "password": PASSWORD})
        wrong = await client.post(
            "/login", data={"csrf": "guessed", "email": email, "password": PASSWORD}
        )
    assert missing.status_code == wrong.status_code == 403
    assert "dsr_session" not in missing.headers.get("set-cookie", "")
    assert "dsr_session" not in wrong.headers.get("set-cookie", "")


# --- (c) roles: only admins reach /admin ---------------------------------------------------------


@pytest.mark.parametrize("who", ["staff", "privacy_officer"])
async def test_only_an_admin_reaches_the_admin_routes(
    logged_in: LoggedIn, app: Starlette, ctx: ConsoleContext, settings: Settings, who: str
) -> None:
    async with ctx.sessions.begin() as db:
        other = await db.scalar(select(StaffRow.id).where(StaffRow.email == ACCOUNTS["staff2"][0]))
    assert other is not None
    admin_routes = [e for e in endpoints(app, number=other) if e.path.startswith("/admin")]
    assert {e.method for e in admin_routes} == {"GET", "POST"}
    client = await logged_in(who)
    for endpoint in admin_routes:
        if endpoint.method == "GET":
            response = await client.get(endpoint.path)
        else:
            response = await client.post_form(
                endpoint.path,
                {
                    "role": "admin",
                    "email": "mallory@example.org",
                    "password": "a long enough password",
                    "password2": "a long enough password",
                    "text": "Overgenomen [{{ reference }}]",
                },
            )
        assert response.status_code == 403, endpoint
    page = await client.get("/no-such-page")
    assert 'href="/admin' not in page.text  # not even offered
    assert await staff_actions(ctx) == []
    overrides = settings.console.template_overrides
    assert not overrides.exists() or not any(overrides.rglob("*"))


async def staff_actions(ctx: ConsoleContext) -> list[str]:
    """Audit entries of anything but logging in (and the accounts the fixtures made)."""
    async with ctx.sessions.begin() as db:
        rows = await db.scalars(select(AuditRow))
        return [
            row.action
            for row in rows
            if row.action not in ("logged_in", "logged_out") and row.actor != "test"
        ]


# --- (d) the login throttle ----------------------------------------------------------------------


async def test_repeated_failed_logins_lock_the_account_for_a_while(
    app: Starlette, settings: Settings, clock: Clock
) -> None:
    email = ACCOUNTS["staff"][0]
    options = settings.console
    start = clock.now
    async with anonymous(app) as client:
        for _ in range(options.login_max_failures):
            assert (await sign_in(client, email, "a wrong password!")).status_code == 401
        locked = await sign_in(client, email)  # the right password, too late
        assert locked.status_code == 429
        assert "Te veel mislukte pogingen" in locked.text
        wait = int(locked.headers["retry-after"])
        assert 0 < wait <= options.login_lock_minutes * 60 + 1
        assert "dsr_session" not in locked.headers.get("set-cookie", "")
        lock = timedelta(minutes=options.login_lock_minutes)
        clock.now = start + lock - timedelta(minutes=1)
        assert (await sign_in(client, email)).status_code == 429  # a minute before the end
        clock.now = start + lock + timedelta(seconds=1)
        assert (await sign_in(client, email)).status_code == 303


async def test_many_failures_from_one_address_lock_that_address_for_every_account(
    app: Starlette, ctx: ConsoleContext, settings: Settings, clock: Clock
) -> None:
    """Guessing a password for many accounts, each below the account limit, is stopped too."""
    limit = settings.console.login_max_failures
    guesses = [f"guess{n}@academiewerkendleren.nl" for n in range(8)]
    async with anonymous(app) as client:
        tries = 0
        while True:
            response = await sign_in(client, guesses[tries % len(guesses)], "a wrong password!")
            if response.status_code == 429:
                break
            assert response.status_code == 401
            tries += 1
            assert tries < limit * len(guesses), "the address was never throttled"
        assert tries > limit  # more than one account's worth
        assert (await sign_in(client, ACCOUNTS["staff"][0])).status_code == 429
    # Someone else, from another address, still gets in.
    other = Client(
        transport=httpx.ASGITransport(app=app, client=("192.0.2.44", 41000)),
        base_url=ORIGIN,
        headers={"Accept": "text/html"},
    )
    async with other:
        assert (await sign_in(other, ACCOUNTS["staff"][0])).status_code == 303
    clock.now += timedelta(minutes=settings.console.login_lock_minutes + 1)
    async with anonymous(app) as client:
        assert (await sign_in(client, ACCOUNTS["staff2"][0])).status_code == 303


# --- (e) no personal data in URLs or logs --------------------------------------------------------

NAME = "Wilhelmina Zonnebloem-Quist"
ADDRESS = "w.zonnebloem.quist@voorbeeldpost.nl"
MARKER = "KWARTELKONING-4471"
BODY = f"Beste,\n\nIk wil inzage in alles wat u over mij bewaart. Mijn klantnummer is {MARKER}.\n"
SECRETS = (ADDRESS, "zonnebloem", "wilhelmina", MARKER.lower())


def personal(text: str) -> list[str]:
    """Which of the requester's data `text` shows, read as a URL (decoded) would be."""
    plain = unquote_plus(unquote_plus(text)).lower()
    return [s for s in SECRETS if s.lower() in plain]


async def requester_cases(ctx: ConsoleContext) -> list[str]:
    sender = f"{NAME} <{ADDRESS}>"
    return [
        await open_case(
            ctx,
            kind=RequestKind.ACCESS,
            sender=sender,
            subject=f"Inzageverzoek van {NAME}",
            body=BODY,
            external_id="1:4471",
        ),
        await open_case(
            ctx,
            kind=RequestKind.COMPLAINT,  # the pipeline drafts an acknowledgement: a draft to see
            sender=sender,
            subject=f"Klacht van {NAME}",
            body=BODY,
            external_id="1:4472",
        ),
    ]


class _Links(HTMLParser):
    """Links, form actions and what a GET form would put in its URL."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.urls: list[str] = []  # every URL-like value: href, src, action, GET form queries
        self._form: tuple[str, list[tuple[str, str]]] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
            self.urls.append(a["href"])
        for key in ("src", "action", "formaction", "href"):
            if key in a and tag != "a":
                self.urls.append(a[key])
        if tag == "form":
            method = a.get("method", "get").lower()
            self._form = (a.get("action", ""), []) if method == "get" else None
        elif self._form is not None and tag in ("input", "button") and a.get("name"):
            self._form[1].append((a["name"], a.get("value", "")))
        elif self._form is not None and tag == "select":
            self._select = a.get("name")
        elif self._form is not None and tag == "option" and self._select:
            self._form[1].append((self._select, a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form is not None:
            action, fields = self._form
            for name, value in fields:
                self.urls.append(f"{action}?{urlencode({name: value})}")
            self._form = None
        elif tag == "select":
            self._select = None


@dataclass
class Crawl:
    urls: set[str] = field(default_factory=set)  # every URL seen in a page or a redirect
    pages: dict[str, httpx.Response] = field(default_factory=dict)


async def crawl(client: Client, start: list[str], *, depth: int = 3, limit: int = 400) -> Crawl:
    """Follow same-site GET links from `start`, breadth first."""
    found = Crawl()
    frontier = list(start)
    for _ in range(depth + 1):
        following: list[str] = []
        for url in frontier:
            if url in found.pages or len(found.pages) >= limit:
                continue
            response = await client.get(url)
            found.pages[url] = response
            if "location" in response.headers:
                found.urls.add(response.headers["location"])
                following.append(response.headers["location"])
            if "html" not in response.headers.get("content-type", ""):
                continue
            links = _Links()
            links.feed(response.text)
            found.urls.update(links.urls)
            following += [
                u
                for href in links.hrefs
                if (u := _same_site(url, href)) and not u.startswith("/static/")
            ]
        frontier = following
    return found


def _same_site(base: str, href: str) -> str | None:
    target = urlsplit(urljoin(ORIGIN + base, href))
    if f"{target.scheme}://{target.netloc}" != ORIGIN:
        return None
    return target.path + (f"?{target.query}" if target.query else "")


async def test_no_personal_data_appears_in_any_url(
    logged_in: LoggedIn, ctx: ConsoleContext
) -> None:
    references = await requester_cases(ctx)
    officer = await logged_in("privacy_officer")
    start = ["/cases", "/dashboard", "/drafts", "/outbox", *(f"/cases/{r}" for r in references)]
    seen = await crawl(officer, start)
    leaks = {url: personal(url) for url in seen.urls | set(seen.pages) if personal(url)}
    assert leaks == {}
    # The pages themselves do show the requester (to a privacy officer): the crawl saw them.
    shown = [url for url, page in seen.pages.items() if NAME in page.text or ADDRESS in page.text]
    assert shown, "no crawled page showed the requester: did the crawl reach the case?"
    assert len(seen.pages) > len(start)


@pytest.fixture
def quiet_libraries() -> Iterator[None]:
    """The library loggers at WARNING, as dsr_bot/logs.py sets them in production: below it they
    echo protocol data (SQLAlchemy would log every query parameter)."""
    names = ("imapclient", "aiosmtpd", "mail.log", "aiosqlite", "sqlalchemy", "alembic")
    loggers = [logging.getLogger(name) for name in names]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    yield
    for logger, level in zip(loggers, before, strict=True):
        logger.setLevel(level)


async def test_no_personal_data_or_password_reaches_the_log(
    logged_in: LoggedIn,
    app: Starlette,
    ctx: ConsoleContext,
    caplog: pytest.LogCaptureFixture,
    quiet_libraries: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    references = await requester_cases(ctx)
    officer = await logged_in("privacy_officer")
    await crawl(officer, ["/cases", "/dashboard", "/drafts", "/outbox", f"/cases/{references[0]}"])
    typed_password = "Zomer2026!-wachtwoord-van-Wilhelmina"
    async with anonymous(app) as stranger:
        refused = await sign_in(stranger, ADDRESS, typed_password)
    assert refused.status_code == 401
    mistyped = "petra@academiewerkendleren.nll"
    async with anonymous(app) as petra:
        await sign_in(petra, mistyped, "also not the password")
    assert any(r.name.startswith("dsr_bot") for r in caplog.records), "nothing was captured"
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        assert personal(text) == [], (record.name, text)
        for secret in (PASSWORD, typed_password, mistyped, BODY.strip()):
            assert secret not in text, (record.name, text)


# --- (f) security headers ------------------------------------------------------------------------


def csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    parts = [p.strip().split(None, 1) for p in policy.split(";") if p.strip()]
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


def assert_secure_headers(response: httpx.Response, *, page: bool = True) -> None:
    policy = csp(response)
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'none'"  # so no script source is allowed ...
    assert policy.get("script-src", "'none'") == "'none'"  # ... and none is named
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    if page:
        assert "no-store" in response.headers["cache-control"]


async def test_every_kind_of_response_carries_the_security_headers(
    logged_in: LoggedIn, app: Starlette
) -> None:
    async with anonymous(app) as client:
        login = await client.get("/login")
        to_login = await client.get("/cases")
        refused = await client.post("/logout")
        css = await client.get("/static/console.css")
    admin = await logged_in("admin")
    staff = await logged_in("staff")
    signed_in = await admin.get("/admin/staff")
    not_found = await admin.get("/no-such-page")
    forbidden = await staff.get("/admin/staff")
    after_form = await admin.post_form("/admin/templates/nl/acknowledgement.subject.j2/reset")
    checks = [
        (login, 200),
        (to_login, 303),
        (refused, 401),
        (signed_in, 200),
        (not_found, 404),
        (forbidden, 403),
        (after_form, 303),
    ]
    for response, status in checks:
        assert response.status_code == status, response.request.url
        assert_secure_headers(response)
    assert_secure_headers(css, page=False)


async def test_no_page_carries_a_script(logged_in: LoggedIn, ctx: ConsoleContext) -> None:
    await requester_cases(ctx)
    pages: dict[str, httpx.Response] = {}
    for who, start in (
        ("privacy_officer", ["/cases", "/dashboard", "/drafts", "/outbox"]),
        ("admin", ["/admin/staff", "/admin/templates", "/admin/audit"]),
    ):
        pages |= (await crawl(await logged_in(who), start, depth=2)).pages
    assert len(pages) > 7
    for url, page in pages.items():
        assert "<script" not in page.text.lower(), url
        assert not re.search(r"\son[a-z]+\s*=", page.text, re.IGNORECASE), url
        assert "javascript:" not in page.text.lower(), url


# --- (g) session cookies -------------------------------------------------------------------------


def cookie_attributes(response: httpx.Response, name: str) -> set[str]:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return {
                part.strip().split("=")[0].lower() + _value(part) for part in header.split(";")[1:]
            }
    raise AssertionError(f"no {name} cookie set")


def _value(part: str) -> str:
    key, _, value = part.strip().partition("=")
    return f"={value.lower()}" if key.lower() == "samesite" else ""


async def test_over_https_the_session_cookie_is_secure_httponly_and_lax(app: Starlette) -> None:
    client = Client(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
        base_url="https://console.test",
        headers={"Accept": "text/html"},
    )
    async with client:
        login = await client.get("/login")
        assert "secure" in cookie_attributes(login, "dsr_login_csrf")
        signed_in = await sign_in(client, ACCOUNTS["staff"][0])
        assert signed_in.status_code == 303
        assert {"secure", "httponly", "samesite=lax"} <= cookie_attributes(signed_in, "dsr_session")
        page = await client.get("/no-such-page")
        assert "max-age=" in page.headers["strict-transport-security"]
    async with anonymous(app) as plain:
        signed_in = await sign_in(plain, ACCOUNTS["staff"][0])
        attributes = cookie_attributes(signed_in, "dsr_session")
        assert {"httponly", "samesite=lax"} <= attributes and "secure" not in attributes


@pytest.mark.parametrize(("trusted", "secure"), [("127.0.0.1", True), ("192.0.2.1", False)])
async def test_behind_a_trusted_proxy_that_says_https_the_cookie_is_secure(
    ctx: ConsoleContext, app: Starlette, trusted: str, secure: bool
) -> None:
    """A real uvicorn on loopback: X-Forwarded-Proto counts only from a trusted proxy."""
    options = ConsoleSettings.model_validate(
        {"addr": "127.0.0.1:0", "forwarded_allow_ips": trusted}
    )
    async with (
        ConsoleServer(app, options) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"X-Forwarded-Proto": "https", "Accept": "text/html"}
        ) as client,
    ):
        login = await client.get("/login")
        token = CSRF_RE.search(login.text)
        assert token
        # The jar would not send a Secure cookie over plain HTTP; the proxy would (it is HTTPS
        # on the browser's side), so the cookie is sent by hand.
        response = await client.post(
            "/login",
            data={"csrf": token[1], "email": ACCOUNTS["staff"][0], "password": PASSWORD},
            headers={"Cookie": f"dsr_login_csrf={login.cookies['dsr_login_csrf']}"},
        )
    assert response.status_code == 303
    assert ("secure" in cookie_attributes(response, "dsr_session")) is secure
