"""Accountability: the erasure ledger and the register of requests (GDPR art. 5(2), 17, 30).

When a person's data is erased, the ledger keeps a keyed hash (HMAC-SHA256) of each identifier,
never the identifier itself, and the bot scrubs its own copies: the messages they sent and the
cases they opened keep only the facts needed to show the request was handled (reference, dates,
kinds, decision). After a backup is restored, `replay` scrubs again whatever the backup brought
back. Without the key the digests cannot be tested against guessed addresses, so the key is kept
outside the database (DSR_BOT_SECRET_KEY, or a file next to the SQLite database).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.domain.cases import EventKind
from dsr_bot.domain.deadlines import legal_in_force, on_time, receipt_date
from dsr_bot.secret_key import derive_key, read_secret
from dsr_bot.store.queries import delete_collected_data
from dsr_bot.store.tables import CaseEventRow, CaseRow, ErasureLedgerRow, MessageRow

log = logging.getLogger(__name__)

LEDGER_LABEL = b"dsr-bot erasure ledger v1"
KINDS = ("email", "phone")
ERASED_TEXT = "[gewist]"
ERASED_PREFIX = "erased:"

REGISTER_COLUMNS = (
    "reference",
    "kinds",
    "received",
    "promised_due",
    "legal_due",
    "extended",
    "legal_due_in_force",
    "decision",
    "closed",
    "on_time",
)


# --- the key -------------------------------------------------------------------------------------


def ledger_key(secret_file: Path) -> bytes:
    """The ledger's HMAC key, derived from the deployment's secret (see secret_key.py)."""
    return derive_key(read_secret(secret_file), LEDGER_LABEL)


# --- digests -------------------------------------------------------------------------------------


def normalise(kind: str, value: str) -> str:
    """E-mail: trimmed, lower case. Phone: digits only, Dutch national 0 -> 31, 00 dropped."""
    if kind == "email":
        return value.strip().lower()
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        if digits.startswith("00"):  # international prefix: 0031 6... is +31 6...
            return digits[2:]
        if digits.startswith("0"):
            return "31" + digits[1:]
        return digits
    raise ValueError(f"unknown identifier kind {kind!r} (expected one of {', '.join(KINDS)})")


def digest(key: bytes, kind: str, value: str) -> str:
    """Hex HMAC-SHA256 of "kind:normalised value"."""
    message = f"{kind}:{normalise(kind, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# --- erasure -------------------------------------------------------------------------------------


def _scrub_message(message: MessageRow) -> None:
    message.subject = ERASED_TEXT
    message.body = ERASED_TEXT
    message.sender = None
    message.sender_name = None
    message.attachments = []


def _scrub_case(case: CaseRow, key: bytes, now: datetime) -> None:
    case.requester = ERASED_PREFIX + digest(key, "email", case.requester)[:16]
    case.requester_name = None
    case.subject = ERASED_TEXT
    case.updated_at = now


async def record_erasure(
    session: AsyncSession,
    key: bytes,
    *,
    case: CaseRow,
    identifiers: Mapping[str, Iterable[str]],
    now: datetime,
    actor: str,
) -> int:
    """Record that the person behind `case` was erased, and scrub the bot's own copies.

    `identifiers` maps a kind ("email", "phone") to values. One ledger entry per identifier,
    skipping digests already in the ledger; the messages they sent and the cases they opened
    (matched on the e-mail addresses) lose subject, text, sender and attachments. The case's
    event log records how many identifiers were erased, not which. Returns the ledger entries
    added. The caller owns the transaction.
    """
    wanted: dict[str, str] = {}  # digest -> kind, in the order given
    emails: set[str] = set()
    for kind, values in identifiers.items():
        for value in values:
            if not normalise(kind, value):
                continue
            wanted.setdefault(digest(key, kind, value), kind)
            if kind == "email":
                emails.add(normalise(kind, value))
    known = set(
        await session.scalars(
            select(ErasureLedgerRow.digest).where(ErasureLedgerRow.digest.in_(list(wanted)))
        )
        if wanted
        else ()
    )
    added = 0
    for value_digest, kind in wanted.items():
        if value_digest not in known:
            session.add(
                ErasureLedgerRow(
                    digest=value_digest, kind=kind, reference=case.reference, erased_at=now
                )
            )
            added += 1
    messages = cases = 0
    erased_cases = {case.id}  # their collected data (access and portability packages) goes
    if emails:
        for message in await session.scalars(
            select(MessageRow).where(func.lower(func.trim(MessageRow.sender)).in_(emails))
        ):
            _scrub_message(message)
            messages += 1
        for row in await session.scalars(
            select(CaseRow).where(func.lower(func.trim(CaseRow.requester)).in_(emails))
        ):
            _scrub_case(row, key, now)
            erased_cases.add(row.id)
            cases += 1
    await delete_collected_data(session, erased_cases)
    session.add(
        CaseEventRow(
            case_id=case.id,
            at=now,
            actor=actor,
            kind=EventKind.ERASURE_RECORDED.value,
            detail={"identifiers": len(wanted)},
        )
    )
    case.updated_at = now
    await session.flush()
    log.info(
        "erasure recorded for %s: %d ledger entries added, %d case(s) and %d message(s) scrubbed",
        case.reference,
        added,
        cases,
        messages,
    )
    return added


@dataclass(frozen=True, slots=True)
class ReplayReport:
    ledger: int  # entries in the ledger
    cases: int  # cases scrubbed now
    messages: int  # messages scrubbed now


async def replay(session: AsyncSession, key: bytes, *, now: datetime | None = None) -> ReplayReport:
    """After a backup restore: scrub again every case and message of an erased e-mail address.

    Idempotent: rows scrubbed before are not matched, and not counted. `now` stamps the cases'
    updated_at (default: the current time). The caller owns the transaction.
    """
    erased = set(
        await session.scalars(
            select(ErasureLedgerRow.digest).where(ErasureLedgerRow.kind == "email")
        )
    )
    ledger = await ledger_size(session)
    if not erased:
        return ReplayReport(ledger=ledger, cases=0, messages=0)
    # Every address is hashed here: HMAC keys cannot be matched inside the database.
    senders = await session.execute(
        select(MessageRow.id, MessageRow.sender).where(MessageRow.sender.is_not(None))
    )
    message_ids = [mid for mid, sender in senders if digest(key, "email", sender or "") in erased]
    requesters = await session.execute(
        select(CaseRow.id, CaseRow.requester).where(~CaseRow.requester.startswith(ERASED_PREFIX))
    )
    case_ids = [cid for cid, requester in requesters if digest(key, "email", requester) in erased]
    now = now or datetime.now(UTC)
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        for message in await session.scalars(select(MessageRow).where(MessageRow.id.in_(chunk))):
            _scrub_message(message)
    for start in range(0, len(case_ids), 500):
        chunk = case_ids[start : start + 500]
        for case in await session.scalars(select(CaseRow).where(CaseRow.id.in_(chunk))):
            _scrub_case(case, key, now)
        await delete_collected_data(session, chunk)
    await session.flush()
    if case_ids or message_ids:
        log.info(
            "erasure replay: %d case(s) and %d message(s) scrubbed again",
            len(case_ids),
            len(message_ids),
        )
    return ReplayReport(ledger=ledger, cases=len(case_ids), messages=len(message_ids))


async def ledger_size(session: AsyncSession) -> int:
    """How many identifiers the ledger holds."""
    return int(await session.scalar(select(func.count()).select_from(ErasureLedgerRow)) or 0)


async def export_ledger(session: AsyncSession) -> list[dict[str, str]]:
    """The ledger as rows of digest, kind, reference and erased_at (ISO), oldest first."""
    rows = await session.scalars(select(ErasureLedgerRow).order_by(ErasureLedgerRow.id))
    return [
        {
            "digest": row.digest,
            "kind": row.kind,
            "reference": row.reference,
            "erased_at": row.erased_at.isoformat(),
        }
        for row in rows
    ]


# --- the register --------------------------------------------------------------------------------


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def register_row(case: CaseRow) -> dict[str, str]:
    """One case as a register line; dates are Amsterdam calendar dates."""
    extended = case.extension_sent_at is not None
    in_force = legal_in_force(case.legal_due, case.extended_due, extended=extended)
    closed = receipt_date(case.closed_at) if case.closed_at is not None else None
    timely = on_time(closed, in_force) if closed is not None else None
    # "open": not closed yet; "": no deadline recorded, so it cannot be said.
    verdict = "open" if closed is None else {True: "yes", False: "no", None: ""}[timely]
    return {
        "reference": case.reference,
        "kinds": ";".join(str(k) for k in case.kinds or ()),
        "received": receipt_date(case.received_at).isoformat(),
        "promised_due": _iso(case.promise_due),
        "legal_due": _iso(case.legal_due),
        "extended": "yes" if extended else "no",
        "legal_due_in_force": _iso(in_force),
        "decision": case.decision or "",
        "closed": _iso(closed),
        "on_time": verdict,
    }


async def register(session: AsyncSession, *, now: datetime) -> list[dict[str, str]]:
    """The register of requests: one row per case, in the order they were opened.

    on_time: "yes" when closed (Amsterdam date) on or before the legal deadline in force (the
    extended one once the extension notice went out), "no" when closed after it, "open" while
    the case is not closed, even past its deadline. `now` is the moment of the report; no
    column depends on it yet.
    """
    rows = await session.scalars(select(CaseRow).order_by(CaseRow.id))
    return [register_row(case) for case in rows]
