"""Collected data on the case page: staff add fields and files per system, see them, remove them,
download the package as the person will get it; approving an access reply without data says why."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from urllib.parse import unquote

import httpx
from sqlalchemy import select, update
from starlette.applications import Starlette

from dsr_bot.console.context import ConsoleContext
from dsr_bot.services import casework, collected
from dsr_bot.store.tables import AuditRow, CaseEventRow, CaseRow, CollectedItemRow, DraftRow
from tests.console.conftest import ACCOUNTS, LoggedIn, anonymous, open_case

SAM = ACCOUNTS["staff"][0]
ADDRESS = 'Kerkstraat 1, "achter"\r\n1234 AB Utrecht'


def flash(response: httpx.Response) -> str:
    """The message the next page shows: "ok:..." or "error:..."."""
    assert response.status_code == 303, response.text
    return unquote(response.cookies.get("dsr_flash") or "")


async def events(ctx: ConsoleContext, reference: str) -> list[tuple[str, str, dict[str, object]]]:
    async with ctx.sessions() as db:
        case = await casework.case_by_reference(db, reference)
        rows = await db.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case.id).order_by(CaseEventRow.id)
        )
        return [(e.kind, e.actor, e.detail) for e in rows if e.kind.startswith("data_")]


async def item_ids(ctx: ConsoleContext) -> list[int]:
    async with ctx.sessions() as db:
        return list(await db.scalars(select(CollectedItemRow.id).order_by(CollectedItemRow.id)))


async def test_staff_add_fields_and_a_file_and_see_them_on_the_case_page(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx)
    sam = await logged_in("staff")
    page = await sam.get(f"/cases/{reference}")
    assert "Verzamelde gegevens" in page.text and "Er zijn nog geen gegevens verzameld" in page.text
    for system in ("CRM", "Leeromgeving", "Mailbox", "Boekhouding", "Overig"):  # the profile's
        assert f'<option value="{system}">' in page.text

    added = await sam.post_form(
        f"/cases/{reference}/data/fields",
        {
            "system": "CRM",
            "name": ["E-mailadres", "Adres", "", ""],
            "value": ["jan@example.nl", ADDRESS, "", ""],
            "provided": "ja",
        },
    )
    assert flash(added) == "ok:2 velden uit CRM toegevoegd."
    uploaded = await sam.post(
        f"/cases/{reference}/data/file",
        data={"csrf": sam.csrf, "system": "Leeromgeving"},  # not provided by the person
        files={"file": ("cijferlijst.pdf", b"%PDF-1.4 cijfers", "application/pdf")},
    )
    assert flash(uploaded) == "ok:Het bestand uit Leeromgeving is toegevoegd."

    page = await sam.get(f"/cases/{reference}")
    assert "<dt>E-mailadres</dt><dd>jan@example.nl</dd>" in page.text
    assert "Kerkstraat 1, &#34;achter&#34;\n1234 AB Utrecht" in page.text  # escaped, one line end
    assert "cijferlijst.pdf" in page.text and "16 bytes" in page.text
    assert "niet door de persoon verstrekt" in page.text
    assert "gegevens verzameld" in page.text  # in the event log
    logged = await events(ctx, reference)
    assert [(kind, actor) for kind, actor, _ in logged] == [
        ("data_added", SAM),
        ("data_added", SAM),
    ]
    assert logged[0][2]["system"] == "CRM" and "jan@example.nl" not in json.dumps(logged)
    assert "cijferlijst" not in json.dumps(logged)


async def test_the_package_preview_is_the_zip_the_person_gets_and_its_download_is_logged(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx)
    sam = await logged_in("staff")
    await sam.post_form(
        f"/cases/{reference}/data/fields",
        {"system": "CRM", "name": "Adres", "value": ADDRESS, "provided": "ja"},
    )
    response = await sam.get(f"/cases/{reference}/data/package/access")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert f'filename="voorbeeld-inzage-{reference}.zip"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        rows = list(csv.reader(io.StringIO(archive.read("data.csv").decode(), newline="")))
        document = json.loads(archive.read("access.json"))
    assert rows[1] == ["CRM", "Adres", ADDRESS.replace("\r\n", "\n")]
    assert document["reference"] == reference
    async with ctx.sessions() as db:
        audit = list(await db.scalars(select(AuditRow).where(AuditRow.actor == SAM)))
    assert ("package_previewed", {"reference": reference, "package": "access"}) in [
        (a.action, a.detail) for a in audit
    ]
    portability = await sam.get(f"/cases/{reference}/data/package/portability")
    assert portability.status_code == 200
    assert (await sam.get(f"/cases/{reference}/data/package/other")).status_code == 404


async def test_staff_remove_an_item_and_the_log_says_who(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx)
    sam = await logged_in("staff")
    await sam.post_form(
        f"/cases/{reference}/data/fields", {"system": "Mailbox", "name": "Onderwerp", "value": "x"}
    )
    [item] = await item_ids(ctx)
    removed = await sam.post_form(f"/cases/{reference}/data/{item}/remove")
    assert flash(removed) == "ok:De gegevens uit Mailbox zijn verwijderd."
    assert await item_ids(ctx) == []
    assert [(kind, actor) for kind, actor, _ in await events(ctx, reference)] == [
        ("data_added", SAM),
        ("data_removed", SAM),
    ]
    again = await sam.post_form(f"/cases/{reference}/data/{item}/remove")
    assert flash(again) == "error:Deze gegevens zijn er niet (meer)."


async def test_mistakes_are_explained_in_dutch(ctx: ConsoleContext, logged_in: LoggedIn) -> None:
    reference = await open_case(ctx)
    sam = await logged_in("staff")
    url = f"/cases/{reference}/data"
    no_system = await sam.post_form(f"{url}/fields", {"system": "Excel", "name": "a", "value": "b"})
    assert flash(no_system) == "error:Kies uit welk systeem de gegevens komen."
    nameless = await sam.post_form(f"{url}/fields", {"system": "CRM", "name": "", "value": "b"})
    assert flash(nameless).startswith("error:Geef elk veld een naam")
    no_file = await sam.post(f"{url}/file", data={"csrf": sam.csrf, "system": "CRM"})
    assert flash(no_file) == "error:Kies het bestand dat u wilt toevoegen."
    too_large = await sam.post(
        f"{url}/file",
        data={"csrf": sam.csrf, "system": "CRM"},
        files={"file": ("groot.zip", b"x" * (collected.MAX_FILE_BYTES + 1), "application/zip")},
    )
    assert flash(too_large).startswith("error:Het bestand is te groot (10,0 MB). Het mag hoogstens")
    empty = await sam.get(f"/cases/{reference}/data/package/access")
    assert flash(empty).startswith("error:Er zijn nog geen gegevens verzameld")
    assert await item_ids(ctx) == []


async def test_forms_need_a_session_and_the_csrf_token(
    ctx: ConsoleContext, app: Starlette, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx)
    form = {"system": "CRM", "name": "a", "value": "b"}
    stranger = anonymous(app)
    try:
        assert (
            await stranger.post(f"/cases/{reference}/data/fields", data=form)
        ).status_code == 401
        preview = await stranger.get(f"/cases/{reference}/data/package/access")
        assert preview.status_code == 303 and preview.headers["location"].startswith("/login")
    finally:
        await stranger.aclose()
    sam = await logged_in("staff")
    forged = await sam.post(f"/cases/{reference}/data/fields", data=form)
    assert forged.status_code == 403
    assert await item_ids(ctx) == []


async def test_a_closed_case_shows_its_data_but_takes_no_more(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx)
    sam = await logged_in("staff")
    await sam.post_form(
        f"/cases/{reference}/data/fields", {"system": "CRM", "name": "Naam", "value": "Jan"}
    )
    async with ctx.sessions.begin() as db:
        await db.execute(update(CaseRow).values(state="closed"))
    page = await sam.get(f"/cases/{reference}")
    assert "<dt>Naam</dt><dd>Jan</dd>" in page.text
    assert "Velden toevoegen" not in page.text and "Verwijderen" not in page.text
    refused = await sam.post_form(
        f"/cases/{reference}/data/fields", {"system": "CRM", "name": "a", "value": "b"}
    )
    assert flash(refused).startswith("error:Deze zaak is gesloten")


async def test_approving_an_access_reply_without_collected_data_says_what_to_do(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx)
    async with ctx.sessions.begin() as db:
        case = await casework.case_by_reference(db, reference)
        case.identity_state = "verified"
        draft = DraftRow(
            case_id=case.id,
            kind="access_reply",
            language="nl",
            subject=f"Uw inzageverzoek [{reference}]",
            body="Beste Jan,\n\nIn de bijlage vindt u uw gegevens.\n",
            detail={},
            status="draft",
            created_by=SAM,
            created_at=ctx.now(),
        )
        db.add(draft)
    petra = await logged_in("privacy_officer")
    refused = await petra.post_form(f"/drafts/{draft.id}/approve", {"back": f"/cases/{reference}"})
    assert flash(refused).startswith("error:Er zijn nog geen gegevens verzameld voor deze zaak.")
    sam = await logged_in("staff")
    await sam.post_form(
        f"/cases/{reference}/data/fields", {"system": "CRM", "name": "Naam", "value": "Jan"}
    )
    approved = await petra.post_form(f"/drafts/{draft.id}/approve", {"back": f"/cases/{reference}"})
    assert flash(approved).startswith("ok:Goedgekeurd")
    kinds = [kind for kind, _, _ in await events(ctx, reference)]
    assert kinds == ["data_added"]
    async with ctx.sessions() as db:
        attached = await db.scalar(
            select(CaseEventRow.detail).where(CaseEventRow.kind == "package_attached")
        )
    assert attached is not None and attached["package"] == f"inzage-{reference}.zip"
