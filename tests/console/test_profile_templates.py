"""The template editor with two brands: the admin picks the profile, and edits only its texts."""

from __future__ import annotations

import html
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from dsr_bot.config import Settings
from dsr_bot.console.context import ConsoleContext
from dsr_bot.replies import Replies
from dsr_bot.reply_check import SAMPLES
from dsr_bot.store.tables import AuditRow
from tests.conftest import make_settings
from tests.console.conftest import LoggedIn

SUBJECT = "/admin/templates/nl/acknowledgement.subject.j2"
BODY = "/admin/templates/nl/acknowledgement.body.j2"
ICT_BODY = "Hoi,\n\n{{ organisation }} heeft je verzoek {{ reference }} binnen.\n"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    brand = tmp_path / "brands" / "ict"
    (brand / "nl").mkdir(parents=True)
    (brand / "nl" / "acknowledgement.body.j2").write_text(ICT_BODY)
    return make_settings(
        database_url,
        tmp_path,
        mailboxes=[{"name": "info"}, {"name": "ict", "profile": "ict"}],
        profiles={
            "default": {},
            "ict": {
                "organisation": "ICT Academie",
                "reference_prefix": "ICT",
                "templates": str(brand),
            },
        },
    )


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


async def test_the_admin_chooses_the_profile_whose_templates_are_listed(
    logged_in: LoggedIn,
) -> None:
    admin = await logged_in("admin")
    page = await admin.get("/admin/templates")
    assert '<select id="profile" name="profile">' in page.text
    assert '<option value="ict">ICT Academie (ict)</option>' in page.text
    assert f'href="{SUBJECT}"' in page.text  # the default profile's, as before
    page = await admin.get("/admin/templates?profile=ict")
    assert "U bewerkt nu de sjablonen van <strong>ICT Academie</strong>" in page.text
    assert f'href="{BODY}?profile=ict"' in page.text
    assert text_of(page).count("eigen tekst van het profiel") == 1  # its acknowledgement body
    assert (await admin.get("/admin/templates?profile=nope")).status_code == 404
    assert (await admin.get(f"{BODY}?profile=..%2Fdefault")).status_code == 404


async def test_an_edit_for_one_brand_leaves_the_other_alone(
    logged_in: LoggedIn, settings: Settings, ctx: ConsoleContext
) -> None:
    replies = Replies.from_settings(settings)  # as the running bot
    sample = SAMPLES["acknowledgement"][0]
    default_before = replies.render("acknowledgement", "nl", **sample)
    admin = await logged_in("admin")

    page = await admin.get(f"{BODY}?profile=ict")
    assert ICT_BODY.splitlines()[2] in text_of(page)  # the brand's own text is what is edited
    assert "ICT Academie heeft je verzoek ICT-2026-0042 binnen." in text_of(page)  # preview

    saved = await admin.post_form(
        f"{SUBJECT}?profile=ict", {"text": "ICT Academie: verzoek ontvangen [{{ reference }}]\n"}
    )
    assert saved.status_code == 303
    assert saved.headers["location"].startswith(f"{SUBJECT}?profile=ict")
    overrides = settings.console.template_overrides
    assert (overrides / "ict" / "nl" / "acknowledgement.subject.j2").is_file()
    assert not (overrides / "nl" / "acknowledgement.subject.j2").exists()

    ict = replies.for_profile("ict").render("acknowledgement", "nl", **sample)
    assert ict.subject == "ICT Academie: verzoek ontvangen [AVG-2026-0042]"
    assert replies.render("acknowledgement", "nl", **sample) == default_before

    listed = await admin.get("/admin/templates")
    assert 'class="tag">gewijzigd' not in listed.text
    listed = await admin.get("/admin/templates?profile=ict")
    assert listed.text.count('class="tag">gewijzigd') == 1

    async with ctx.sessions.begin() as db:
        rows = list(await db.scalars(select(AuditRow).where(AuditRow.action == "template_changed")))
    assert [(r.detail["template"], r.detail["profile"]) for r in rows] == [
        ("nl/acknowledgement.subject.j2", "ict")
    ]

    reset = await admin.post_form(f"{SUBJECT}/reset?profile=ict")
    assert reset.headers["location"].startswith(f"{SUBJECT}?profile=ict")
    assert not (overrides / "ict" / "nl" / "acknowledgement.subject.j2").exists()
    assert replies.for_profile("ict").render("acknowledgement", "nl", **sample).subject == (
        "Wij hebben uw bericht ontvangen [AVG-2026-0042]"
    )


async def test_saving_the_brands_own_text_leaves_no_replacement(
    logged_in: LoggedIn, settings: Settings
) -> None:
    admin = await logged_in("admin")
    await admin.post_form(f"{BODY}?profile=ict", {"text": ICT_BODY.replace("\n", "\r\n")})
    overrides = settings.console.template_overrides
    assert not (overrides / "ict" / "nl" / "acknowledgement.body.j2").exists()


async def test_a_replacement_is_checked_against_the_brands_templates(
    logged_in: LoggedIn, settings: Settings
) -> None:
    admin = await logged_in("admin")
    response = await admin.post_form(f"{BODY}?profile=ict", {"text": "Hoi {{ naam }}\n"})
    assert response.status_code == 422
    assert "Niet opgeslagen" in text_of(response) and "naam" in text_of(response)
    assert f'action="{BODY}?profile=ict"' in response.text  # the form stays on this profile
    assert not (settings.console.template_overrides / "ict").exists()
