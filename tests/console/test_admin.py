"""Administration in the console: accounts, the audit log and the reply templates."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from dsr_bot.config import Settings
from dsr_bot.console.context import ConsoleContext
from dsr_bot.replies import Replies
from dsr_bot.reply_check import SAMPLES
from dsr_bot.store.tables import AuditRow, StaffRow
from tests.conftest import make_settings
from tests.console.conftest import ACCOUNTS, Client, LoggedIn, anonymous, sign_in

NEW_PASSWORD = "a long new passphrase 2026"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Template overrides land in this test's own directory, never in the checkout's var/.
    return make_settings(
        database_url, tmp_path, console={"template_overrides": str(tmp_path / "templates")}
    )


async def follow(client: Client, response: httpx.Response) -> httpx.Response:
    """The page a 303 leads to, with the flash message it set."""
    assert response.status_code == 303, response.text
    return await client.get(response.headers["location"])


async def staff_id(ctx: ConsoleContext, who: str) -> int:
    async with ctx.sessions.begin() as db:
        found = await db.scalar(select(StaffRow.id).where(StaffRow.email == ACCOUNTS[who][0]))
    assert found is not None
    return found


async def audit(ctx: ConsoleContext) -> list[AuditRow]:
    async with ctx.sessions.begin() as db:
        return list(await db.scalars(select(AuditRow).order_by(AuditRow.id)))


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


# --- accounts ------------------------------------------------------------------------------------


async def test_the_admin_sees_every_account_with_its_role_in_dutch(logged_in: LoggedIn) -> None:
    admin = await logged_in("admin")
    page = await admin.get("/admin/staff")
    assert page.status_code == 200
    for email, _ in ACCOUNTS.values():
        assert email in page.text
    assert "privacy officer" in page.text and "medewerker" in page.text
    assert "beheerder" in page.text
    # Accounts are linked by number, never by e-mail address.
    links = re.findall(r'href="(/admin/staff/[^"]*)"', page.text)
    assert links and all(re.fullmatch(r"/admin/staff/\d+", link) for link in links)


async def test_an_admin_adds_an_account_that_can_then_log_in(
    logged_in: LoggedIn, app: Starlette, ctx: ConsoleContext
) -> None:
    admin = await logged_in("admin")
    added = await admin.post_form(
        "/admin/staff",
        {
            "email": "Nina@AcademieWerkendLeren.nl",
            "name": "Nina de Vries",
            "role": "privacy_officer",
            "password": NEW_PASSWORD,
        },
    )
    assert re.fullmatch(r"/admin/staff/\d+", added.headers["location"])
    page = await follow(admin, added)
    assert "nina@academiewerkendleren.nl" in page.text and "aangemaakt" in page.text
    assert "Nina de Vries" in page.text and "privacy officer" in page.text
    async with anonymous(app) as nina:
        assert (
            await sign_in(nina, "nina@academiewerkendleren.nl", NEW_PASSWORD)
        ).status_code == 303
    entries = [(row.actor, row.action) for row in await audit(ctx)]
    assert (ACCOUNTS["admin"][0], "staff_added") in entries


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password": "kort"}, "minstens 12 tekens"),
        ({"password": "nina-is-my-password-2026"}, "vóór de @ niet bevatten"),
        ({"email": "geen-adres"}, "geen geldig e-mailadres"),
        ({"email": ACCOUNTS["staff"][0]}, "al een account"),
        ({"role": "superuser"}, "Kies een rol"),
    ],
)
async def test_a_new_account_that_breaks_a_rule_is_refused_in_dutch(
    logged_in: LoggedIn, fields: dict[str, str], message: str
) -> None:
    admin = await logged_in("admin")
    form = {"email": "nina@academiewerkendleren.nl", "name": "", "role": "staff"}
    form |= {"password": NEW_PASSWORD, **fields}
    response = await admin.post_form("/admin/staff", form)
    assert response.headers["location"] == "/admin/staff"
    page = await follow(admin, response)
    assert message in text_of(page)
    assert page.text.count("/admin/staff/") == len(ACCOUNTS)  # nobody was added


async def test_changing_a_role_takes_effect_and_is_logged(
    logged_in: LoggedIn, ctx: ConsoleContext
) -> None:
    admin = await logged_in("admin")
    sam = await staff_id(ctx, "staff")
    page = await follow(admin, await admin.post_form(f"/admin/staff/{sam}/role", {"role": "admin"}))
    assert "De rol is nu: beheerder" in page.text
    staff = await logged_in("staff")
    assert (await staff.get("/admin/staff")).status_code == 200  # Sam is an admin now
    last = (await audit(ctx))[-2]  # then Sam's login
    assert (last.action, last.detail) == (
        "role_changed",
        {"staff": sam, "before": "staff", "after": "admin"},
    )


async def test_a_disabled_account_is_signed_out_and_cannot_log_in_until_enabled(
    logged_in: LoggedIn, app: Starlette, ctx: ConsoleContext
) -> None:
    staff = await logged_in("staff")
    admin = await logged_in("admin")
    sam = await staff_id(ctx, "staff")
    page = await follow(admin, await admin.post_form(f"/admin/staff/{sam}/disable"))
    assert "staat uit" in page.text
    assert (await staff.get("/cases")).headers["location"].startswith("/login")
    async with anonymous(app) as again:
        assert (await sign_in(again, ACCOUNTS["staff"][0])).status_code == 401
    listing = await admin.get("/admin/staff")
    assert "uitgezet" in listing.text
    await follow(admin, await admin.post_form(f"/admin/staff/{sam}/enable"))
    async with anonymous(app) as again:
        assert (await sign_in(again, ACCOUNTS["staff"][0])).status_code == 303
    actions = [row.action for row in await audit(ctx)]
    assert "staff_disabled" in actions and "staff_enabled" in actions


async def test_a_new_password_replaces_the_old_one_and_ends_every_session(
    logged_in: LoggedIn, app: Starlette, ctx: ConsoleContext
) -> None:
    petra = await logged_in("privacy_officer")
    admin = await logged_in("admin")
    who = await staff_id(ctx, "privacy_officer")
    mismatch = await follow(
        admin,
        await admin.post_form(
            f"/admin/staff/{who}/password", {"password": NEW_PASSWORD, "password2": "other"}
        ),
    )
    assert "niet gelijk" in mismatch.text
    assert (await petra.get("/no-such-page")).status_code == 404  # still signed in
    done = await follow(
        admin,
        await admin.post_form(
            f"/admin/staff/{who}/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD}
        ),
    )
    assert "ingesteld" in done.text
    assert (await petra.get("/cases")).headers["location"].startswith("/login")
    email = ACCOUNTS["privacy_officer"][0]
    async with anonymous(app) as client:
        assert (await sign_in(client, email)).status_code == 401
        assert (await sign_in(client, email, NEW_PASSWORD)).status_code == 303
    assert "password_set" in [row.action for row in await audit(ctx)]


async def test_an_admin_cannot_lock_themselves_out(
    logged_in: LoggedIn, ctx: ConsoleContext
) -> None:
    admin = await logged_in("admin")
    me = await staff_id(ctx, "admin")
    refused = await follow(admin, await admin.post_form(f"/admin/staff/{me}/disable"))
    assert "eigen account kunt u niet uitzetten" in refused.text
    refused = await follow(
        admin, await admin.post_form(f"/admin/staff/{me}/role", {"role": "staff"})
    )
    assert "eigen rol kunt u niet wijzigen" in refused.text
    assert (await admin.get("/admin/staff")).status_code == 200


async def test_an_unknown_account_number_is_not_found(logged_in: LoggedIn) -> None:
    admin = await logged_in("admin")
    assert (await admin.get("/admin/staff/9999")).status_code == 404
    assert (await admin.post_form("/admin/staff/9999/disable")).status_code == 404


async def test_the_audit_log_lists_the_latest_actions_first(
    logged_in: LoggedIn, ctx: ConsoleContext
) -> None:
    admin = await logged_in("admin")
    sam = await staff_id(ctx, "staff")
    await admin.post_form(f"/admin/staff/{sam}/role", {"role": "privacy_officer"})
    page = await admin.get("/admin/audit")
    assert page.status_code == 200
    text = text_of(page)
    assert text.index("rol gewijzigd") < text.index("ingelogd")
    assert f"account: {ACCOUNTS['staff'][0]}" in text
    assert "after: privacy officer" in text


# --- reply templates -----------------------------------------------------------------------------

ACK_SUBJECT = "/admin/templates/nl/acknowledgement.subject.j2"
ACK_BODY = "/admin/templates/nl/acknowledgement.body.j2"
MACROS = "/admin/templates/nl/_identity.j2"


def override(settings: Settings, name: str) -> Path:
    return settings.console.template_overrides / name


async def test_the_template_list_shows_each_language_and_what_was_changed(
    logged_in: LoggedIn, settings: Settings
) -> None:
    admin = await logged_in("admin")
    page = await admin.get("/admin/templates")
    assert page.status_code == 200
    for path in (ACK_SUBJECT, ACK_BODY, MACROS, "/admin/templates/en/acknowledgement.body.j2"):
        assert f'href="{path}"' in page.text
    assert 'class="tag">gewijzigd' not in page.text
    await admin.post_form(ACK_SUBJECT, {"text": "Ontvangen [{{ reference }}]\n"})
    page = await admin.get("/admin/templates")
    assert page.text.count('class="tag">gewijzigd') == 1


async def test_a_saved_template_is_used_for_the_next_mail_at_once_and_can_be_reset(
    logged_in: LoggedIn, settings: Settings, ctx: ConsoleContext
) -> None:
    replies = Replies(override_dir=settings.console.template_overrides)  # as the running bot
    sample = SAMPLES["acknowledgement"][0]
    before = replies.render("acknowledgement", "nl", **sample)
    admin = await logged_in("admin")
    page = await admin.get(ACK_SUBJECT)
    assert "Wij hebben uw bericht ontvangen [{{ reference }}]" in text_of(page)
    saved = await admin.post_form(
        ACK_SUBJECT, {"text": "Bevestiging van uw privacyverzoek [{{ reference }}]\r\n"}
    )
    page = await follow(admin, saved)
    assert "Opgeslagen" in page.text
    file = override(settings, "nl/acknowledgement.subject.j2")
    assert file.read_text() == "Bevestiging van uw privacyverzoek [{{ reference }}]\n"
    assert replies.render("acknowledgement", "nl", **sample).subject == (
        "Bevestiging van uw privacyverzoek [AVG-2026-0042]"
    )
    assert (
        "Voorbeeld" in page.text
        and "Bevestiging van uw privacyverzoek [AVG-2026-0042]" in page.text
    )
    reset = await follow(admin, await admin.post_form(f"{ACK_SUBJECT}/reset"))
    assert "weer de standaardtekst" in reset.text
    assert not file.exists()
    assert replies.render("acknowledgement", "nl", **sample) == before
    log = [(row.action, row.detail.get("template")) for row in await audit(ctx)]
    assert ("template_changed", "nl/acknowledgement.subject.j2") in log
    assert ("template_reset", "nl/acknowledgement.subject.j2") in log


async def test_an_unknown_variable_is_refused_in_dutch_and_nothing_is_saved(
    logged_in: LoggedIn, settings: Settings, ctx: ConsoleContext
) -> None:
    admin = await logged_in("admin")
    typed = "Beste {{ naam }},\n\nDank u wel. Uw nummer: {{ reference }}\n"
    response = await admin.post_form(ACK_BODY, {"text": typed})
    assert response.status_code == 422
    text = text_of(response)
    assert "Niet opgeslagen" in text and "naam" in text and "die het sjabloon niet krijgt" in text
    assert typed in text  # what the admin typed is still in the editor
    assert not override(settings, "nl/acknowledgement.body.j2").exists()
    assert "template_changed" not in [row.action for row in await audit(ctx)]


async def test_a_variable_used_in_a_branch_the_sample_reaches_is_caught_too(
    logged_in: LoggedIn, settings: Settings
) -> None:
    admin = await logged_in("admin")
    # Attribute of a real variable that does not exist: only a trial render finds it.
    typed = "{% if identity == 'code' %}{{ code.digits }}{% endif %}Uw nummer {{ reference }}\n"
    response = await admin.post_form(ACK_BODY, {"text": typed})
    assert response.status_code == 422
    assert "regel 1" in text_of(response)
    assert not override(settings, "nl/acknowledgement.body.j2").exists()


async def test_a_syntax_error_is_reported_with_its_line(
    logged_in: LoggedIn, settings: Settings
) -> None:
    admin = await logged_in("admin")
    response = await admin.post_form(
        ACK_BODY, {"text": "Beste lezer,\n{% if name %}\nDank u wel.\n"}
    )
    assert response.status_code == 422
    assert "Fout in de opmaak op regel" in text_of(response)
    assert not override(settings, "nl/acknowledgement.body.j2").exists()


async def test_a_broken_macro_file_is_refused_because_a_mail_that_uses_it_breaks(
    logged_in: LoggedIn, settings: Settings
) -> None:
    admin = await logged_in("admin")
    builtin = (Path("templates") / "nl" / "_identity.j2").read_text()
    response = await admin.post_form(
        MACROS, {"text": builtin.replace("{% macro clock() %}", "{% macro klok() %}")}
    )
    assert response.status_code == 422
    assert "Niet opgeslagen" in text_of(response)
    assert not override(settings, "nl/_identity.j2").exists()


async def test_template_text_cannot_reach_python_internals(
    logged_in: LoggedIn, settings: Settings
) -> None:
    admin = await logged_in("admin")
    response = await admin.post_form(ACK_SUBJECT, {"text": "{{ reference.__class__.__mro__ }}"})
    assert response.status_code == 422
    assert "niet mag" in text_of(response)
    assert not override(settings, "nl/acknowledgement.subject.j2").exists()


async def test_saving_the_built_in_text_leaves_no_override(
    logged_in: LoggedIn, settings: Settings
) -> None:
    admin = await logged_in("admin")
    builtin = (Path("templates") / "nl" / "acknowledgement.subject.j2").read_text()
    await admin.post_form(ACK_SUBJECT, {"text": "Iets anders [{{ reference }}]"})
    assert override(settings, "nl/acknowledgement.subject.j2").exists()
    await admin.post_form(ACK_SUBJECT, {"text": builtin.replace("\n", "\r\n")})
    assert not override(settings, "nl/acknowledgement.subject.j2").exists()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/templates/nl/..%2F..%2Fdsr-bot.toml",
        "/admin/templates/nl/%2E%2E",
        "/admin/templates/nl/nieuw.body.j2",
        "/admin/templates/de/acknowledgement.body.j2",
        "/admin/templates/en/staff_digest.body.j2",  # exists in Dutch only
        "/admin/templates/nl/acknowledgement.body",
    ],
)
async def test_only_the_known_templates_can_be_read_or_written(
    logged_in: LoggedIn, settings: Settings, path: str
) -> None:
    admin = await logged_in("admin")
    assert (await admin.get(path)).status_code == 404
    assert (await admin.post_form(path, {"text": "x"})).status_code == 404
    folder = settings.console.template_overrides
    assert not folder.exists() or not any(folder.rglob("*"))


async def test_a_saved_text_that_no_longer_works_is_flagged_on_its_page(
    logged_in: LoggedIn, settings: Settings
) -> None:
    """Say a release stopped passing a variable the saved text uses: the admin sees why."""
    file = override(settings, "nl/acknowledgement.subject.j2")
    file.parent.mkdir(parents=True)
    file.write_text("Ontvangen [{{ reference }}] {{ no_longer_passed }}\n")
    admin = await logged_in("admin")
    page = await admin.get(ACK_SUBJECT)
    assert page.status_code == 200
    assert "werkt niet meer" in page.text and "no_longer_passed" in page.text
