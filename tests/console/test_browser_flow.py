"""The console end to end, in a real headless Chromium against the whole running bot: a request
arrives by mail, the person sends a shielded ID copy, the privacy officer verifies it, a staff
member writes the answer, the privacy officer approves it and finds it in the outbox. And no one
approves their own refusal."""

from __future__ import annotations

import random
import re
from email.message import EmailMessage

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from dsr_bot.domain.cases import RequestKind
from dsr_bot.nlp.classifier import Classifier
from dsr_bot.store.tables import CaseRow, IdCopyRow
from tests.conftest import FixedClassifier, eventually, request_mail
from tests.console.browser import (  # noqa: F401 - the fixtures
    TIMEOUT_MS,
    LiveConsole,
    browser_errors,
    browser_fixture,
    live_console_fixture,
    log_in,
    page_fixture,
    screenshot,
)
from tests.identity.cards import FIELDS, Transform, draw_card, encode, random_person

pytestmark = pytest.mark.browser

PERSON = "Fleur Visser"
ADDRESS = "fleur.visser@example.nl"
ANSWER = "U vindt hieronder welke gegevens wij van u hebben: naam, e-mailadres en uw cursussen."


@pytest.fixture(name="live_classifier")
def access_requests() -> Classifier:
    """Every mail is an access request, confidently: the flow does not hang on the model."""
    return FixedClassifier(RequestKind.ACCESS)


async def _case(live: LiveConsole) -> CaseRow | None:
    async with live.bot.sessions() as db:
        found: CaseRow | None = await db.scalar(select(CaseRow))
        return found


async def _copy_in_review(live: LiveConsole) -> bool:
    async with live.bot.sessions() as db:
        return bool(await db.scalar(select(IdCopyRow).where(IdCopyRow.status == "review")))


def _mail_to(live: LiveConsole, subject_part: str) -> list[EmailMessage]:
    return [
        m
        for m in live.outbox()
        if m["To"] and ADDRESS in m["To"] and subject_part in str(m["Subject"])
    ]


async def _a_request_arrives_with_a_shielded_id_copy(live: LiveConsole) -> str:
    await live.send_mail(
        request_mail(
            sender=f"{PERSON} <{ADDRESS}>",
            subject="Inzage in mijn gegevens",
            body="Beste,\n\nIk wil graag weten welke gegevens u van mij heeft.\n\nFleur",
        )
    )
    await eventually(lambda: _has_case(live), within=15)
    case = await _case(live)
    assert case is not None
    reference = case.reference
    # The acknowledgement asks for a shielded copy; the person replies with one.
    await eventually(lambda: _acknowledged(live, reference), within=15)
    reply = request_mail(
        sender=f"{PERSON} <{ADDRESS}>",
        subject=f"Re: {reference}",
        body="Hierbij mijn afgeschermde kopie.",
    )
    shielded = draw_card(random_person(random.Random(11), "TD3"), FIELDS)
    reply.add_attachment(
        encode(shielded, Transform("plain")), maintype="image", subtype="png", filename="id.png"
    )
    await live.send_mail(reply)
    await eventually(lambda: _copy_in_review(live), within=60)
    return reference


async def _has_case(live: LiveConsole) -> bool:
    return await _case(live) is not None


async def _acknowledged(live: LiveConsole, reference: str) -> bool:
    return bool(_mail_to(live, reference))


async def test_mail_in_identity_verified_draft_approved_and_the_reply_in_the_outbox(
    browser: Browser, page: Page, live_console: LiveConsole
) -> None:
    reference = await _a_request_arrives_with_a_shielded_id_copy(live_console)

    # The privacy officer finds the case and checks the copy.
    await log_in(page, "privacy_officer")
    await page.goto("/cases?view=all")
    await screenshot(page, "01-case-list")
    await page.get_by_role("link", name=reference).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    await expect(page.get_by_text("Inzage in mijn gegevens").first).to_be_visible()
    await expect(page.get_by_text("kopie ID ontvangen").first).to_be_visible()
    await screenshot(page, "02-case-arrived-by-mail")
    copy = await page.request.get(f"/cases/{reference}/identity/copy")
    assert copy.ok and copy.headers["content-type"] == "image/png"
    assert "no-store" in copy.headers["cache-control"]
    await page.get_by_label("Met welk document?").select_option("id_card")
    await page.get_by_role("button", name="Geverifieerd").click()
    await expect(page.get_by_role("status")).to_be_visible()
    await expect(page.get_by_text("geverifieerd").first).to_be_visible()
    await screenshot(page, "03-identity-verified")
    # The copy is gone the moment identity is established.
    gone = await page.request.get(f"/cases/{reference}/identity/copy", max_redirects=0)
    assert gone.status == 303 and not gone.headers.get("content-type", "").startswith("image/")

    # A staff member writes the answer, in their own browser session; they cannot send it.
    colleague = await (await browser.new_context(base_url=live_console.url)).new_page()
    colleague.set_default_timeout(TIMEOUT_MS)
    await log_in(colleague, "staff")
    await colleague.goto(f"/cases/{reference}")
    await colleague.get_by_label(re.compile(r"^Antwoord")).check()
    await colleague.get_by_label("Tekst of redenen").fill(ANSWER)
    await colleague.get_by_role("button", name="Concept maken").click()
    await expect(colleague.get_by_text(ANSWER).first).to_be_visible()
    await expect(colleague.get_by_role("button", name="Goedkeuren en verzenden")).to_have_count(0)
    await screenshot(colleague, "04-staff-wrote-a-draft")
    await colleague.context.close()

    # The privacy officer approves it; it goes out by mail, where the request came from.
    await page.goto(f"/cases/{reference}")
    await page.get_by_role("button", name="Goedkeuren en verzenden").click()
    await expect(page.get_by_role("status")).to_be_visible()
    await screenshot(page, "05-draft-approved")
    await page.get_by_role("link", name="Verzonden").click()
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await expect(page.get_by_text("verzonden").first).to_be_visible()
    rows = page.get_by_role("row").filter(has_text=reference)
    await expect(rows.first).to_be_visible()
    await screenshot(page, "06-reply-in-the-outbox")
    await eventually(lambda: _answered(live_console), within=15)
    assert browser_errors(page) == []


async def _answered(live: LiveConsole) -> bool:
    return any(ANSWER in str(m.get_body(("plain",)).get_content()) for m in live.outbox())  # type: ignore[union-attr]


async def test_no_one_approves_their_own_refusal(
    browser: Browser, page: Page, live_console: LiveConsole
) -> None:
    await live_console.send_mail(
        request_mail(sender=f"{PERSON} <{ADDRESS}>", subject="Inzage", body="Wat heeft u van mij?")
    )
    await eventually(lambda: _has_case(live_console), within=15)
    case = await _case(live_console)
    assert case is not None
    await log_in(page, "privacy_officer")
    await page.goto(f"/cases/{case.reference}")
    await page.get_by_label(re.compile(r"^Weigering")).check()
    await page.get_by_label("Tekst of redenen").fill("Het verzoek is kennelijk ongegrond.")
    await page.get_by_role("button", name="Concept maken").click()
    # The page offers no approve button for one's own refusal, and says why...
    await expect(page.get_by_text("Iemand anders moet het goedkeuren (vier ogen)")).to_be_visible()
    await expect(page.get_by_role("button", name="Goedkeuren en verzenden")).to_have_count(0)
    # ...and the server refuses the approval when it is sent anyway, as a forged form would.
    draft_id = (await page.locator("article.draft").first.get_attribute("id") or "").split("-")[-1]
    token = await page.locator("input[name=csrf]").first.get_attribute("value")
    forced = await page.request.post(f"/drafts/{draft_id}/approve", form={"csrf": token or ""})
    assert "vier ogen" in await forced.text()
    await screenshot(page, "01-own-refusal-not-approved")
    async with live_console.bot.sessions() as db:
        refreshed = await db.get(CaseRow, case.id)
        assert refreshed is not None and refreshed.state != "closed"
    assert not _mail_to(live_console, "weiger")

    # A staff member, who wrote nothing, has no approve button at all.
    colleague = await (await browser.new_context(base_url=live_console.url)).new_page()
    await log_in(colleague, "staff")
    await colleague.goto(f"/cases/{case.reference}")
    await expect(colleague.get_by_text("Het verzoek is kennelijk ongegrond.").first).to_be_visible()
    await expect(colleague.get_by_role("button", name="Goedkeuren en verzenden")).to_have_count(0)
    await colleague.context.close()
