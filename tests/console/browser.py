"""Driving the console in a real headless Chromium: Debian's /usr/bin/chromium through
Playwright's async API, never a downloaded browser.

Fixtures (import the `*_fixture` functions into a test module, as test_browser_login.py does;
pytest knows them by the names below):
- `live_console`: the whole bot, as `dsr-bot run` starts it, in the test's event loop, with the
  console on a free loopback port, SMTP intake on (`live_console.send_mail`), outgoing mail in a
  Maildir (`live_console.outbox()`), and the accounts of conftest.ACCOUNTS (password PASSWORD).
  The request classifier is the trained model; override the `live_classifier` fixture in a test
  module to use a FixedClassifier instead.
- `browser`: Chromium, one per test; `page`: a fresh context and page on the live console
  (relative URLs work: `await page.goto("/cases")`).
Helpers: `log_in(page, who)`, `screenshot(page, name)` (PNG under test-artifacts/screenshots/,
kept as a test artefact), `browser_errors(page)` (console errors, such as a CSP refusal).
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from dsr_bot.app import Bot
from dsr_bot.config import Settings
from dsr_bot.nlp.classifier import Classifier
from dsr_bot.services import staff as accounts
from tests.conftest import eventually, make_settings, outbox_mail, running_bot
from tests.console.conftest import ACCOUNTS, PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TIMEOUT_MS = 10_000


@dataclass
class LiveConsole:
    url: str  # http://127.0.0.1:PORT
    bot: Bot
    settings: Settings

    def at(self, path: str) -> str:
        return self.url + path

    async def send_mail(self, message: EmailMessage) -> None:
        """Deliver a mail to the bot's SMTP intake, as a mail server would."""
        assert self.bot.intake is not None
        await aiosmtplib.send(message, hostname="127.0.0.1", port=self.bot.intake.port)

    def outbox(self) -> list[EmailMessage]:
        """The mail the bot has sent (the Maildir transport of the tests)."""
        return outbox_mail(self.settings.mail.outbox_maildir)


@pytest.fixture(name="live_classifier")
def live_classifier_fixture() -> Classifier | None:
    """None: the trained model, as in production. Override to choose the labels."""
    return None


@pytest.fixture(name="live_console")
async def live_console_fixture(
    database_url: str, tmp_path: Path, live_classifier: Classifier | None
) -> AsyncIterator[LiveConsole]:
    settings = make_settings(
        database_url,
        tmp_path,
        console={"addr": "127.0.0.1:0", "template_overrides": str(tmp_path / "templates")},
        smtp_intake={"enabled": "on", "port": 0},
    )
    extra = {} if live_classifier is None else {"classifier": live_classifier}
    async with running_bot(settings, **extra) as bot:
        await eventually(lambda: _console_listening(bot), within=10)
        assert bot.console_server is not None
        async with bot.sessions.begin() as db:
            for email, role in ACCOUNTS.values():
                await accounts.add(db, email, role, PASSWORD, datetime.now(UTC), actor="test")
        yield LiveConsole(url=bot.console_server.url, bot=bot, settings=settings)


async def _console_listening(bot: Bot) -> bool:
    # The socket is bound and listening once the port is known; a request waits in its queue.
    return bot.console_server is not None and bot.console_server.port != 0


@pytest.fixture(name="browser")
async def browser_fixture() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium and never "
            "download one. Install it with `scripts/install-system-deps test` (`make test` does)."
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


_ERRORS: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


@pytest.fixture(name="page")
async def page_fixture(browser: Browser, live_console: LiveConsole) -> AsyncIterator[Page]:
    context = await browser.new_context(
        base_url=live_console.url, locale="nl-NL", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    opened = await context.new_page()
    errors: list[str] = []
    _ERRORS[opened] = errors

    def on_console(message: ConsoleMessage) -> None:
        # Chromium asks for /favicon.ico on its own; the console has none (401, then 404).
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{message.text} ({message.location.get('url', '')})")

    opened.on("console", on_console)
    try:
        yield opened
    finally:
        await context.close()


def browser_errors(page: Page) -> list[str]:
    """What the browser reported as errors so far (a CSP refusal shows up here)."""
    return list(_ERRORS.get(page, []))


async def log_in(page: Page, who: str, password: str = PASSWORD) -> None:
    """Through the login form, as a person would; `who` is a key of conftest.ACCOUNTS."""
    email = ACCOUNTS[who][0] if who in ACCOUNTS else who
    await page.goto("/login")
    await page.get_by_label("E-mailadres").fill(email)
    await page.get_by_label("Wachtwoord").fill(password)
    await page.get_by_role("button", name="Inloggen").click()
    await page.wait_for_load_state()


async def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG, named after the test and the step, kept under test-artifacts/."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "test").split(" ")[0].rpartition("::")[2]
    stem = re.sub(r"[^A-Za-z0-9._]+", "-", f"{test}-{name}").strip("-")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{stem}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
