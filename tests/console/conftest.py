"""Console fixtures: the app over httpx (in this event loop), accounts per role, real cases.

`logged_in(role)` gives an httpx client signed in through the login form, with the session's
CSRF token read from a page (`client.csrf`), as a browser would have it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from dsr_bot.channels.mime import parse_mail
from dsr_bot.config import Settings
from dsr_bot.console.app import create_app
from dsr_bot.console.context import ConsoleContext
from dsr_bot.domain.cases import RequestKind
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.replies import Replies
from dsr_bot.services import staff as accounts
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.services.pipeline import Pipeline
from tests.conftest import FixedClassifier, make_settings, request_mail

PASSWORD = "correct horse battery staple"
# One account per role; "staff2" is a second ordinary staff member (four eyes needs two).
ACCOUNTS = {
    "staff": ("sam@academiewerkendleren.nl", "staff"),
    "staff2": ("sara@academiewerkendleren.nl", "staff"),
    "privacy_officer": ("petra@academiewerkendleren.nl", "privacy_officer"),
    "privacy_officer2": ("pieter@academiewerkendleren.nl", "privacy_officer"),
    "admin": ("ad@academiewerkendleren.nl", "admin"),
}
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=AMSTERDAM)
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    """The console's clock, which tests move."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
async def ctx(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock
) -> ConsoleContext:
    replies = Replies.from_settings(settings)
    context = ConsoleContext(
        settings=settings,
        sessions=sessions,
        replies=replies,
        desk=IdentityDesk.from_settings(settings, replies),
        clock=clock,
    )
    async with sessions.begin() as db:
        for email, role in ACCOUNTS.values():
            await accounts.add(db, email, role, PASSWORD, clock(), actor="test")
    return context


@pytest.fixture
def app(ctx: ConsoleContext) -> Starlette:
    return create_app(ctx)


class Client(httpx.AsyncClient):
    csrf: str = ""
    email: str = ""

    async def post_form(self, url: str, data: dict[str, Any] | None = None) -> httpx.Response:
        """A form post as the browser sends it, CSRF token included."""
        return await self.post(url, data={"csrf": self.csrf, **(data or {})})


def anonymous(app: Starlette) -> Client:
    return Client(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
        base_url="http://console.test",
        headers={"Accept": "text/html"},
    )


async def sign_in(client: Client, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    token = CSRF_RE.search(page.text)
    assert token, "the login page has a CSRF field"
    return await client.post(
        "/login", data={"csrf": token[1], "email": email, "password": password, "next": "/"}
    )


LoggedIn = Callable[[str], Awaitable[Client]]


@pytest.fixture
async def logged_in(app: Starlette) -> AsyncIterator[LoggedIn]:
    """`await logged_in("privacy_officer")`: a client signed in with that account."""
    opened: list[Client] = []

    async def open_client(who: str) -> Client:
        email, _ = ACCOUNTS[who]
        client = anonymous(app)
        opened.append(client)
        response = await sign_in(client, email)
        assert response.status_code == 303, response.text
        # Every signed-in page carries the session's CSRF token (in the logout form), even the
        # page that says a path does not exist.
        page = await client.get("/no-such-page")
        token = CSRF_RE.search(page.text)
        assert token, "a signed-in page carries the session's CSRF token"
        client.csrf, client.email = token[1], email
        return client

    yield open_client
    for client in opened:
        await client.aclose()


async def open_case(
    ctx: ConsoleContext,
    *,
    kind: RequestKind = RequestKind.ACCESS,
    sender: str = "Jan Jansen <jan@example.nl>",
    subject: str = "Inzageverzoek",
    body: str = "Graag wil ik inzage in mijn persoonsgegevens.",
    received_at: datetime = NOW,
    confident: bool = True,
    external_id: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> str:
    """A case as the pipeline opens it from an e-mail; returns its reference."""
    pipeline = Pipeline(
        sessions=ctx.sessions,
        settings=ctx.settings,
        classifier=FixedClassifier(kind, confident=confident),
        replies=ctx.replies,
        clock=lambda: received_at.astimezone(UTC),
        identity=ctx.desk,
    )
    mail = request_mail(sender=sender, subject=subject, body=body)
    for filename, mime, data in attachments or []:
        maintype, subtype = mime.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    raw = mail.as_bytes()
    ids = external_id or f"1:{received_at.timestamp():.0f}:{sender}"
    outcomes = await pipeline.ingest(
        [parse_mail(raw, source="info", external_id=ids, received_at=received_at)]
    )
    reference = outcomes[0].reference
    assert reference, "the mail opened a case"
    return reference
