"""Logging in and out in a real headless Chromium, against the whole running bot."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.console.browser import (  # noqa: F401 - the fixtures
    LiveConsole,
    browser_errors,
    browser_fixture,
    live_classifier_fixture,
    live_console_fixture,
    log_in,
    page_fixture,
    screenshot,
)
from tests.console.conftest import ACCOUNTS

pytestmark = pytest.mark.browser


async def test_a_staff_member_logs_in_through_the_form_and_sees_who_is_signed_in(
    page: Page, live_console: LiveConsole
) -> None:
    await page.goto("/cases")
    await expect(page).to_have_url(re.compile(r"/login\?next=/cases$"))
    await expect(page.get_by_role("heading", name="Inloggen")).to_be_visible()
    await screenshot(page, "01-login-page")
    email = ACCOUNTS["privacy_officer"][0]
    await log_in(page, "privacy_officer")
    header = page.get_by_role("banner")
    await expect(header).to_contain_text(f"{email} (privacy officer)")
    await expect(header.get_by_role("button", name="Uitloggen")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/cases$"))  # back where they were going
    await screenshot(page, "02-signed-in")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["dsr_session"]["httpOnly"] and cookies["dsr_session"]["sameSite"] == "Lax"
    assert browser_errors(page) == []  # nothing refused by the CSP: the stylesheet loaded


async def test_a_wrong_password_shows_the_dutch_error(
    page: Page, live_console: LiveConsole
) -> None:
    await log_in(page, "staff", password="niet het goede wachtwoord")
    error = page.get_by_role("alert")
    await expect(error).to_have_text("Het e-mailadres of het wachtwoord klopt niet.")
    await expect(page.get_by_label("E-mailadres")).to_have_value(ACCOUNTS["staff"][0])
    await expect(page.get_by_role("button", name="Uitloggen")).to_have_count(0)
    await screenshot(page, "wrong-password")


async def test_logging_out_returns_to_the_login_page(page: Page, live_console: LiveConsole) -> None:
    await log_in(page, "staff")
    await expect(page.get_by_role("button", name="Uitloggen")).to_be_visible()
    await page.get_by_role("button", name="Uitloggen").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(page.get_by_role("status")).to_have_text("U bent uitgelogd.")
    await screenshot(page, "logged-out")
    await page.goto("/cases")  # the session is gone: back to the login page
    await expect(page).to_have_url(re.compile(r"/login\?next=/cases$"))
