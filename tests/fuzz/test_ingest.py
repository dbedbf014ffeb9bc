"""Hostile mail through the whole intake: batches of fuzzed messages go through Pipeline.ingest
into a real database, as the IMAP watcher hands them over. Nothing may raise, and every input is
accounted for: a new case, a message on a case, ignored automatic mail, a quarantine record with
its reason, or a duplicate of a message stored before. No stored text holds a BSN."""

from __future__ import annotations

from hypothesis import event, example, given
from hypothesis import strategies as st
from sqlalchemy import func, select

from dsr_bot.channels.intake import raw_to_item
from dsr_bot.domain.bsn import contains_bsn
from dsr_bot.domain.inbound import InboundMessage, Quarantined
from dsr_bot.domain.workflow import Route
from dsr_bot.services.pipeline import MailboxCursor, Outcome
from dsr_bot.store.tables import CaseRow, MessageRow
from tests.fuzz.conftest import NOW, PIPELINE_SETTINGS, TIMEOUT, Harness
from tests.fuzz.strategies import raw_mail

SOURCE = "info"


def _items(harness: Harness, raws: list[bytes]) -> list[InboundMessage | Quarantined]:
    return [
        raw_to_item(raw, source=SOURCE, external_id=f"1:{next(harness.ids)}", received_at=NOW)
        for raw in raws
    ]


async def _check(
    harness: Harness,
    items: list[InboundMessage | Quarantined],
    outcomes: list[Outcome],
    stored_before: int,
) -> None:
    assert len(outcomes) == len(items)
    async with harness.sessions() as session:
        rows = {
            row.external_id: row
            for row in await session.scalars(
                select(MessageRow).where(
                    MessageRow.source == SOURCE,
                    MessageRow.external_id.in_([item.external_id for item in items]),
                )
            )
        }
        cases = {
            case.id: case
            for case in await session.scalars(
                select(CaseRow).where(
                    CaseRow.id.in_([row.case_id for row in rows.values() if row.case_id])
                )
            )
        }
        stored_now = await session.scalar(select(func.count()).select_from(MessageRow))
        for item, outcome in zip(items, outcomes, strict=True):
            event(f"route: {outcome.route.value if outcome.route else 'duplicate'}")
            if outcome.route is None:  # a duplicate: the message it repeats is stored
                assert item.external_id not in rows
                assert item.message_id is not None
                same = await session.scalar(
                    select(func.count()).where(MessageRow.message_id == item.message_id[:998])
                )
                assert same == 1
                continue
            row = rows[item.external_id]
            assert row.route == outcome.route.value
            if outcome.route in (Route.QUARANTINED, Route.IGNORED):
                assert row.reason  # staff see why
                event(f"reason: {row.reason.split('(')[0].split(':')[0]}")
            if outcome.route in (Route.NEW_CASE, Route.ADDED_TO_CASE):
                assert row.case_id is not None
                case = cases[row.case_id]
                assert case.reference == outcome.reference
                texts = [case.subject, case.requester_name or ""]
            else:
                texts = []
            texts += [row.subject, row.body, row.sender_name or "", row.reason or ""]
            texts += [a["filename"] or "" for a in row.attachments]
            texts += row.defects
            for text in texts:
                assert not contains_bsn(text)
    # Every input is stored once: as itself, or already, as the message it duplicates.
    assert stored_now == stored_before + sum(o.route is not None for o in outcomes)


@TIMEOUT
@PIPELINE_SETTINGS
@given(raws=st.lists(raw_mail(), min_size=1, max_size=8), with_cursor=st.booleans())
# Found by this test: undecodable bytes in a From name or address reached the database as lone
# surrogates, and the whole batch's write failed (the mailbox stuck on it).
@example(raws=[b"From: \xc2\x80  <jan@example.nl>\r\n\r\n"], with_cursor=False)
@example(raws=[b"From:  <j\xc3\xa1n@ex\xc3\xa4mple.nl>\r\n\r\n"], with_cursor=False)
# Found by `make fuzz`: the reason stored for automatic mail quoted Auto-Submitted unmasked.
@example(
    raws=[
        b"From: jan@example.nl\r\n"
        b"Auto-Submitted: \xf0\x9f\x99\x82.314.159.265.123456782.1660124\r\n\r\n"
    ],
    with_cursor=False,
)
# Found by this test: NULs were dropped after masking, which joined digits into a stored BSN.
@example(
    raws=[
        b"\r\n",
        b"Content-Type: text/html; charset=utf-16\r\nContent-Transfer-Encoding: 7bit\r\n"
        b"Content-Disposition: attachment\r\n\r\n\xff\xfe<\x00p\x00>\x001\x002\x003\x004\x00"
        b"5\x006\x007\x008\x002\x00 \x00<\x00/\x00p\x00>\x00",
    ],
    with_cursor=False,
)
def test_every_fuzzed_message_is_stored_as_a_case_or_a_quarantine_record(
    harness: Harness, raws: list[bytes], with_cursor: bool
) -> None:
    items = _items(harness, raws)
    cursor = MailboxCursor(SOURCE, 1, next(harness.ids)) if with_cursor else None

    async def stored() -> int:
        async with harness.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(MessageRow)) or 0)

    before = harness.run(stored())
    outcomes = harness.run(harness.pipeline.ingest(items, cursor))
    harness.run(_check(harness, items, outcomes, before))


# Found by this test: a Message-ID over 998 characters is stored cut to the column's size, and
# the next delivery of the same mail was compared uncut, so it was not known as a duplicate: the
# database refused it and each delivery left another quarantine record.
LONG_ID = (
    b"From: jan@example.nl\r\nMessage-ID: <regression."
    + b"r" * 1200
    + b"@example.nl>\r\n\r\nInzage\r\n"
)


@TIMEOUT
def test_a_message_delivered_again_with_an_over_long_message_id_is_a_duplicate(
    harness: Harness,
) -> None:
    first = harness.run(harness.pipeline.ingest(_items(harness, [LONG_ID])))
    again = harness.run(harness.pipeline.ingest(_items(harness, [LONG_ID, LONG_ID])))
    assert [o.route for o in first + again] == [Route.NEW_CASE, None, None]
