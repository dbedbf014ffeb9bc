"""The erasure ledger and the register of requests, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.errors import ConfigError
from dsr_bot.services import accountability
from dsr_bot.services.accountability import (
    digest,
    export_ledger,
    ledger_key,
    record_erasure,
    register,
    replay,
)
from dsr_bot.store.tables import CaseEventRow, CaseRow, ErasureLedgerRow, MessageRow

KEY = b"k" * 32
NOW = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def case_row(reference: str, requester: str, **values: Any) -> CaseRow:
    row: dict[str, Any] = {
        "reference": reference,
        "profile": "default",
        "channel": "email",
        "source": "info",
        "requester": requester,
        "requester_name": "Jan Jansen",
        "language": "nl",
        "kinds": ["access"],
        "state": "open",
        "subject": "Inzage in mijn gegevens, Jan Jansen",
        "received_at": RECEIVED,
        "promise_due": date(2026, 12, 23),
        "legal_due": date(2026, 12, 28),
        "extended_due": date(2027, 2, 25),
        "created_at": RECEIVED,
        "updated_at": RECEIVED,
    }
    return CaseRow(**(row | values))


def message_row(external_id: str, sender: str, case_id: int | None) -> MessageRow:
    return MessageRow(
        channel="email",
        source="info",
        external_id=external_id,
        message_id=f"<{external_id}@example.nl>",
        references=[],
        sender=sender,
        sender_name="Jan Jansen",
        subject="Inzage, Jan Jansen",
        body="Beste, ik wil inzage. Bel mij op 06-12345678. Groet, Jan",
        attachments=[{"name": "paspoort.pdf", "type": "application/pdf", "size": 1000}],
        defects=[],
        route="new_case",
        case_id=case_id,
        received_at=RECEIVED,
        stored_at=RECEIVED,
    )


async def _populate(session: AsyncSession) -> tuple[CaseRow, CaseRow, CaseRow]:
    """Jan's erasure request, an earlier request of his, and someone else's request."""
    erasure = case_row(
        "AVG-2026-0002",
        "jan@example.nl",
        kinds=["erasure"],
        decision="erased",
        state="closed",
        closed_at=datetime(2026, 12, 10, 12, tzinfo=UTC),
    )
    earlier = case_row("AVG-2026-0001", "Jan@Example.NL")
    other = case_row("AVG-2026-0003", "piet@example.nl", requester_name="Piet")
    session.add_all([earlier, erasure, other])
    await session.flush()
    session.add_all(
        [
            message_row("1:1", "Jan@Example.NL", earlier.id),
            message_row("1:2", " jan@example.nl", erasure.id),
            message_row("1:3", "piet@example.nl", other.id),
            message_row("1:4", "jan@example.nl", None),  # ignored mail from him
        ]
    )
    await session.flush()
    return erasure, earlier, other


async def _erase(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        erasure, _, _ = await _populate(session)
        return await record_erasure(
            session,
            KEY,
            case=erasure,
            identifiers={
                "email": ["Jan@Example.nl"],
                "phone": ["06-12345678", "+31 6 1234 5678"],  # one number, written twice
            },
            now=NOW,
            actor="po@example.nl",
        )


def _scrubbed(message: MessageRow) -> bool:
    return (message.subject, message.body, message.sender, message.sender_name) == (
        "[gewist]",
        "[gewist]",
        None,
        None,
    ) and message.attachments == []


# --- digests and the key -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        ("email", " Jan@Example.NL ", "jan@example.nl"),
        ("phone", "06-12345678", "+31 6 1234 5678"),
        ("phone", "0031 6 12345678", "31612345678"),
        ("phone", "(020) 123 45 67", "+31201234567"),
    ],
)
def test_digests_of_one_identifier_written_differently_agree(kind: str, a: str, b: str) -> None:
    assert digest(KEY, kind, a) == digest(KEY, kind, b)
    assert len(digest(KEY, kind, a)) == 64


def test_digest_depends_on_key_kind_and_value() -> None:
    assert accountability.normalise("phone", "06-12345678") == "31612345678"
    assert accountability.normalise("email", "  A@B.NL\n") == "a@b.nl"
    one = digest(KEY, "email", "jan@example.nl")
    assert one != digest(b"other key", "email", "jan@example.nl")
    assert one != digest(KEY, "email", "piet@example.nl")
    assert digest(KEY, "phone", "123") != digest(KEY, "email", "123")
    with pytest.raises(ValueError, match="unknown identifier kind"):
        digest(KEY, "bsn", "123456782")


def test_the_key_file_is_created_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DSR_BOT_SECRET_KEY", raising=False)
    path = tmp_path / "var" / "deeper" / "secret.key"
    key = ledger_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text().strip()
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert ledger_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary left
    # Another installation gets another key.
    assert ledger_key(tmp_path / "elsewhere" / "secret.key") != key


def test_the_environment_variable_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DSR_BOT_SECRET_KEY", raising=False)
    path = tmp_path / "secret.key"
    from_file = ledger_key(path)
    monkeypatch.setenv("DSR_BOT_SECRET_KEY", "something else entirely")
    assert ledger_key(path) != from_file
    assert ledger_key(tmp_path / "never" / "secret.key") == ledger_key(path)
    assert not (tmp_path / "never").exists()
    # The file's secret moved into the variable gives the same key.
    monkeypatch.setenv("DSR_BOT_SECRET_KEY", path.read_text())
    assert ledger_key(path) == from_file
    monkeypatch.setenv("DSR_BOT_SECRET_KEY", "  ")
    with pytest.raises(ConfigError, match="DSR_BOT_SECRET_KEY is set but empty"):
        ledger_key(path)


def test_an_empty_key_file_is_an_error_not_a_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DSR_BOT_SECRET_KEY", raising=False)
    path = tmp_path / "secret.key"
    path.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        ledger_key(path)


# --- recording an erasure ------------------------------------------------------------------------


async def test_record_erasure_keeps_digests_only_and_scrubs_the_copies(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await _erase(sessions) == 2  # the e-mail address and one phone number

    async with sessions() as session:
        ledger = list(await session.scalars(select(ErasureLedgerRow).order_by(ErasureLedgerRow.id)))
        events = list(await session.scalars(select(CaseEventRow)))
        cases = {c.reference: c for c in await session.scalars(select(CaseRow))}
        messages = {m.external_id: m for m in await session.scalars(select(MessageRow))}

    assert [(r.digest, r.kind, r.reference, r.erased_at) for r in ledger] == [
        (digest(KEY, "email", "jan@example.nl"), "email", "AVG-2026-0002", NOW),
        (digest(KEY, "phone", "0612345678"), "phone", "AVG-2026-0002", NOW),
    ]
    stored = json.dumps(
        [[r.digest, r.kind, r.reference] for r in ledger]
        + [[e.kind, e.actor, e.detail] for e in events]
    ).lower()
    for plain in ("jan@example.nl", "12345678", "jansen"):
        assert plain not in stored
    [event] = events
    assert (event.case_id, event.kind, event.detail) == (
        cases["AVG-2026-0002"].id,
        "erasure_recorded",
        {"identifiers": 2},
    )
    assert (event.at, event.actor) == (NOW, "po@example.nl")

    assert all(_scrubbed(messages[m]) for m in ("1:1", "1:2", "1:4"))
    assert messages["1:3"].sender == "piet@example.nl" and messages["1:3"].subject != "[gewist]"
    assert messages["1:2"].received_at == RECEIVED and messages["1:2"].route == "new_case"

    erased, earlier = cases["AVG-2026-0002"], cases["AVG-2026-0001"]
    expected = "erased:" + digest(KEY, "email", "jan@example.nl")[:16]
    for case in (erased, earlier):
        assert (case.requester, case.requester_name, case.subject) == (expected, None, "[gewist]")
        assert case.received_at == RECEIVED and case.legal_due == date(2026, 12, 28)
    assert (erased.reference, erased.kinds, erased.decision, erased.state) == (
        "AVG-2026-0002",
        ["erasure"],
        "erased",
        "closed",
    )
    assert erased.closed_at == datetime(2026, 12, 10, 12, tzinfo=UTC)
    assert cases["AVG-2026-0003"].requester == "piet@example.nl"
    assert cases["AVG-2026-0003"].requester_name == "Piet"


async def test_an_identifier_already_in_the_ledger_is_not_added_twice(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _erase(sessions)
    async with sessions.begin() as session:
        case = await session.scalar(select(CaseRow).where(CaseRow.reference == "AVG-2026-0003"))
        assert case is not None
        added = await record_erasure(
            session,
            KEY,
            case=case,
            identifiers={"email": ["piet@example.nl", "JAN@example.nl"], "phone": []},
            now=NOW + timedelta(days=1),
            actor="po@example.nl",
        )
    assert added == 1
    async with sessions() as session:
        references = list(
            await session.scalars(select(ErasureLedgerRow.reference).order_by(ErasureLedgerRow.id))
        )
    assert references == ["AVG-2026-0002", "AVG-2026-0002", "AVG-2026-0003"]


async def test_an_unknown_identifier_kind_records_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        erasure, _, _ = await _populate(session)
        with pytest.raises(ValueError, match="unknown identifier kind"):
            await record_erasure(
                session,
                KEY,
                case=erasure,
                identifiers={"email": ["jan@example.nl"], "name": ["Jan"]},
                now=NOW,
                actor="po@example.nl",
            )
        assert await session.scalar(select(ErasureLedgerRow)) is None


# --- after a restore -----------------------------------------------------------------------------


async def restore_plain_rows(session: AsyncSession) -> None:
    """What a backup from before the erasure brings back: Jan's case and messages, unscrubbed."""
    await session.execute(
        update(CaseRow)
        .where(CaseRow.reference.in_(["AVG-2026-0001", "AVG-2026-0002"]))
        .values(requester="jan@example.nl", requester_name="Jan Jansen", subject="Inzage Jan")
    )
    session.add(message_row("1:9", "JAN@example.nl ", None))
    await session.execute(
        update(MessageRow)
        .where(MessageRow.external_id == "1:1")
        .values(sender="jan@example.nl", subject="Inzage", body="Jan Jansen")
    )


async def test_replay_scrubs_what_a_restore_brought_back_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        assert await replay(session, KEY) == accountability.ReplayReport(0, 0, 0)
    await _erase(sessions)
    async with sessions.begin() as session:
        # Straight after the erasure there is nothing to do.
        assert await replay(session, KEY) == accountability.ReplayReport(2, 0, 0)
        await restore_plain_rows(session)

    async with sessions.begin() as session:
        report = await replay(session, KEY, now=NOW)
    assert (report.ledger, report.cases, report.messages) == (2, 2, 2)
    async with sessions.begin() as session:
        assert await replay(session, KEY) == accountability.ReplayReport(2, 0, 0)
        cases = {c.reference: c for c in await session.scalars(select(CaseRow))}
        messages = {m.external_id: m for m in await session.scalars(select(MessageRow))}
    assert all(_scrubbed(messages[m]) for m in ("1:1", "1:2", "1:4", "1:9"))
    assert messages["1:3"].sender == "piet@example.nl"
    expected = "erased:" + digest(KEY, "email", "jan@example.nl")[:16]
    assert cases["AVG-2026-0001"].requester == cases["AVG-2026-0002"].requester == expected
    assert cases["AVG-2026-0002"].subject == "[gewist]"
    assert cases["AVG-2026-0002"].updated_at == NOW
    assert cases["AVG-2026-0003"].requester == "piet@example.nl"


async def test_replay_with_another_key_finds_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _erase(sessions)
    async with sessions.begin() as session:
        await restore_plain_rows(session)
        assert await replay(session, b"another key") == accountability.ReplayReport(2, 0, 0)


async def test_export_lists_the_ledger_in_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _erase(sessions)
    async with sessions() as session:
        rows = await export_ledger(session)
    assert rows == [
        {
            "digest": digest(KEY, "email", "jan@example.nl"),
            "kind": "email",
            "reference": "AVG-2026-0002",
            "erased_at": "2027-01-15T10:00:00+00:00",
        },
        {
            "digest": digest(KEY, "phone", "+31612345678"),
            "kind": "phone",
            "reference": "AVG-2026-0002",
            "erased_at": "2027-01-15T10:00:00+00:00",
        },
    ]


# --- the register --------------------------------------------------------------------------------


def _closed(day: int, hour: int, month: int = 12, year: int = 2026) -> dict[str, Any]:
    at = datetime(year, month, day, hour, 30, tzinfo=AMSTERDAM)
    return {"state": "closed", "decision": "answered", "closed_at": at}


async def test_register_says_whether_each_request_was_answered_in_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    extension = {"extension_sent_at": datetime(2026, 12, 20, 9, tzinfo=UTC)}
    async with sessions.begin() as session:
        session.add_all(
            [
                # 23:30 UTC on 24 November is 25 November in Amsterdam.
                case_row(
                    "AVG-2026-0001",
                    "a@example.nl",
                    received_at=datetime(2026, 11, 24, 23, 30, tzinfo=UTC),
                    kinds=["access", "rectification"],
                    **_closed(28, 23),
                ),
                # Half past midnight on 29 December in Amsterdam: a day late, though it was
                # still 28 December in UTC.
                case_row("AVG-2026-0002", "b@example.nl", **_closed(29, 0)),
                case_row("AVG-2026-0003", "c@example.nl", **_closed(20, 9), **extension),
                # Closed after the one-month deadline, but the extension notice went out.
                case_row("AVG-2026-0004", "d@example.nl", **_closed(10, 9, 2, 2027), **extension),
                # An extended date alone does not count: no notice was sent.
                case_row("AVG-2026-0005", "e@example.nl", **_closed(10, 9, 2, 2027)),
                case_row("AVG-2026-0006", "f@example.nl", **extension),  # open, past nothing
                case_row("AVG-2026-0007", "g@example.nl", kinds=[], decision=None),  # open, late
            ]
        )
    async with sessions() as session:
        rows = await register(session, now=datetime(2027, 3, 1, tzinfo=UTC))
    assert rows[0] == {
        "reference": "AVG-2026-0001",
        "kinds": "access;rectification",
        "received": "2026-11-25",
        "promised_due": "2026-12-23",
        "legal_due": "2026-12-28",
        "extended": "no",
        "legal_due_in_force": "2026-12-28",
        "decision": "answered",
        "closed": "2026-12-28",
        "on_time": "yes",
    }
    summary = [
        (r["reference"][-1], r["extended"], r["legal_due_in_force"], r["closed"], r["on_time"])
        for r in rows
    ]
    assert summary == [
        ("1", "no", "2026-12-28", "2026-12-28", "yes"),
        ("2", "no", "2026-12-28", "2026-12-29", "no"),
        ("3", "yes", "2027-02-25", "2026-12-20", "yes"),
        ("4", "yes", "2027-02-25", "2027-02-10", "yes"),
        ("5", "no", "2026-12-28", "2027-02-10", "no"),
        ("6", "yes", "2027-02-25", "", "open"),
        ("7", "no", "2026-12-28", "", "open"),
    ]
    assert rows[6]["kinds"] == "" and rows[6]["decision"] == ""
    assert list(rows[0]) == list(accountability.REGISTER_COLUMNS)
