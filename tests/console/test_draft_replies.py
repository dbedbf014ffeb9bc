"""The replies of each step drafted in the console: the form offers every kind, with the fields
some of them need (a date, what applied), and says in Dutch what is missing."""

from __future__ import annotations

from urllib.parse import unquote

import httpx
from sqlalchemy import select

from dsr_bot.console.context import ConsoleContext
from dsr_bot.domain.cases import RequestKind
from dsr_bot.services import casework
from dsr_bot.store.tables import DraftRow
from tests.console.conftest import LoggedIn, open_case


def flash(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return unquote(response.cookies.get("dsr_flash") or "")


async def drafts_of(ctx: ConsoleContext, reference: str) -> list[DraftRow]:
    async with ctx.sessions() as db:
        case = await casework.case_by_reference(db, reference)
        query = select(DraftRow).where(DraftRow.case_id == case.id).order_by(DraftRow.id)
        return list(await db.scalars(query))


async def test_the_case_page_offers_every_reply_with_its_fields(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.ERASURE)
    page = (await (await logged_in("staff")).get(f"/cases/{reference}")).text
    for kind in casework.DRAFT_KINDS:
        assert f'name="kind" value="{kind}"' in page
    assert 'type="date" id="new-draft-lift-on" name="lift_on"' in page
    assert 'name="unsubscribed"' in page and 'name="consent_withdrawn"' in page
    # The erasure hint names what the profile says must be kept longer.
    assert "7 jaar" in page


async def test_staff_draft_an_erasure_confirmation_and_a_lifting_notice(
    ctx: ConsoleContext, logged_in: LoggedIn
) -> None:
    reference = await open_case(ctx, kind=RequestKind.RESTRICTION)
    sam = await logged_in("staff")
    url = f"/cases/{reference}/drafts"
    kept = "Uw facturen bewaren wij 7 jaar."
    made = await sam.post_form(url, {"kind": "erasure_done", "text": kept})
    assert flash(made).startswith("ok:Het concept")
    no_date = await sam.post_form(url, {"kind": "restriction_lifting", "text": "Het klopt."})
    assert flash(no_date).startswith("error:Kies de datum waarop de beperking wordt opgeheven")
    no_reason = await sam.post_form(url, {"kind": "restriction_lifting", "lift_on": "2026-12-07"})
    assert flash(no_reason) == (
        "error:Schrijf waarom de beperking wordt opgeheven: de persoon leest die."
    )
    lifting = {"kind": "restriction_lifting", "text": "Het klopt.", "lift_on": "2026-12-07"}
    assert flash(await sam.post_form(url, lifting)).startswith("ok:")
    nothing = await sam.post_form(url, {"kind": "objection_confirmed", "text": ""})
    assert flash(nothing) == "error:Vink aan wat is gestopt, of schrijf het op."
    ticked = {"kind": "objection_confirmed", "unsubscribed": "on"}
    assert flash(await sam.post_form(url, ticked)).startswith("ok:")
    erasure, lift, objection = await drafts_of(ctx, reference)
    assert erasure.kind == "erasure_done" and kept in erasure.body
    assert "maandag 7 december 2026" in lift.subject
    assert "afgemeld" in objection.body
    page = (await sam.get(f"/cases/{reference}")).text
    assert "Gegevens gewist (art. 17)" in page  # the draft's heading, in Dutch
