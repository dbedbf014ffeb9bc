"""The identity worker: checks ID copies as they arrive; reminds, lapses and deletes on a sweep.

Checking runs in a worker thread (OCR takes about a second), outside any transaction; a copy is
claimed first ("checking", with a lease) so two processes never check the same one. What a sweep
owes is derived from the database, and each reminder or lapse has a notice key, so a restart
repeats nothing and a bot that was down catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.domain.cases import EventKind
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.domain.identity import LIVE_COPY, WAITING, IdentityState, identity_steps, lapse_date
from dsr_bot.errors import UnreadableImage
from dsr_bot.identity.id_check import CheckResult
from dsr_bot.identity.vault import VaultError
from dsr_bot.services import casework
from dsr_bot.services.casework import log_event
from dsr_bot.services.identity import IdentityDesk, queue
from dsr_bot.store.tables import CaseRow, DraftRow, IdCopyRow, NoticeRow

log = logging.getLogger(__name__)

CHECK_LEASE = timedelta(minutes=10)  # a "checking" copy older than this was left by a crash
ORPHAN_GRACE = timedelta(hours=1)  # a file without a row may belong to a batch being stored
POLL_SECONDS = 60.0


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class IdentitySweepResult:
    reminded: list[str] = field(default_factory=list)  # references
    lapsed: list[str] = field(default_factory=list)
    copies_deleted: int = 0
    orphans_deleted: int = 0


class IdentityWorker:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        desk: IdentityDesk,
        on_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._desk = desk
        self._on_outbox = on_outbox
        self._clock = clock
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """A copy was stored: check it now rather than at the next poll."""
        self._wake.set()

    def announce(self) -> None:
        """Say at start whether copies can be checked here; never accept one silently."""
        missing = self._desk.checker.missing_tools()
        if missing:
            log.warning(
                "ID-copy check unavailable (%s): every ID copy goes to staff review, none is "
                "accepted automatically. Install with: scripts/install-system-deps",
                "; ".join(missing),
            )
        else:
            log.info("ID-copy check ready (OCR and face detection)")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.check_pending()
            except (SQLAlchemyError, OSError) as exc:  # OSError: asyncpg cannot connect
                log.warning("ID-copy check: database unavailable (%s)", type(exc).__name__)
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(
                    waiters, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiter in waiters:
                    waiter.cancel()

    # --- checking ----------------------------------------------------------------------------

    async def check_pending(self) -> int:
        """Check every copy waiting for it; returns how many were checked."""
        checked = 0
        while (claimed := await self._claim()) is not None:
            row_id, token = claimed
            result = await self._check(token)
            await self._apply(row_id, result)
            checked += 1
        return checked

    async def _claim(self) -> tuple[int, str] | None:
        now = self._clock()
        async with self._sessions.begin() as session:
            stale = now - CHECK_LEASE
            candidates = await session.execute(
                select(IdCopyRow.id, IdCopyRow.token)
                .where(
                    (IdCopyRow.status == "pending")
                    | ((IdCopyRow.status == "checking") & (IdCopyRow.checked_at < stale))
                )
                .order_by(IdCopyRow.id)
                .limit(5)
            )
            for row_id, token in candidates:
                claimed = await session.execute(
                    update(IdCopyRow)
                    .where(
                        IdCopyRow.id == row_id,
                        (IdCopyRow.status == "pending")
                        | ((IdCopyRow.status == "checking") & (IdCopyRow.checked_at < stale)),
                    )
                    .values(status="checking", checked_at=now)
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    return int(row_id), str(token)
        return None

    async def _check(self, token: str) -> CheckResult | str:
        """The checker's result, or "unreadable" / "gone"."""
        try:
            data = self._desk.vault.get(token)
        except VaultError:
            return "gone"
        try:
            return await asyncio.to_thread(self._desk.checker.check, data)
        except UnreadableImage:
            return "unreadable"

    async def _apply(self, row_id: int, result: CheckResult | str) -> None:
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await session.get(IdCopyRow, row_id)
            if row is None or row.status != "checking":
                return
            case = await session.get(CaseRow, row.case_id)
            assert case is not None  # noqa: S101 - a foreign key
            row.checked_at = now
            if isinstance(result, CheckResult) and not result.findings:
                outcome = "accepted" if result.acceptable else "unchecked"
                row.status, row.outcome = "review", outcome
                detail: dict[str, object] = {"copy": row.id, "outcome": outcome}
                if result.missing_tools:
                    detail["unavailable"] = list(result.missing_tools)
                log_event(session, case, now, EventKind.IDENTITY_COPY_CHECKED, "system", **detail)
                if case.identity_state == IdentityState.COPY_REQUESTED:
                    case.identity_state = IdentityState.COPY_RECEIVED.value
                    casework.resume_clock(session, case, now, "system", self._desk.settings)
                return
            # Unshielded or unreadable: the file goes at once; only the kinds of field stay.
            self._desk.vault.delete(row.token)
            fields = _fields(result) if isinstance(result, CheckResult) else []
            outcome = "unshielded" if fields else "unreadable"
            row.status, row.outcome, row.findings = "deleted", outcome, fields
            row.deleted_at, row.deleted_reason = now, outcome
            if result == "gone":
                return
            outbox = None
            if case.state != "closed" and case.identity_state == IdentityState.COPY_REQUESTED:
                outbox = await queue(
                    session,
                    self._desk.mail_to_person(
                        case, "id_copy_unshielded", now, fields=fields, unreadable=not fields
                    ),
                )
                # A new ask: the reminders count from here.
                case.identity_requested_at = now
            log_event(
                session,
                case,
                now,
                EventKind.IDENTITY_COPY_REFUSED,
                "system",
                copy=row.id,
                outcome=outcome,
                fields=fields,
                outbox=outbox,
            )
        if outbox is not None:
            self._on_outbox()

    # --- the sweep -------------------------------------------------------------------------

    async def sweep(self) -> IdentitySweepResult:
        now = self._clock()
        result = IdentitySweepResult()
        async with self._sessions.begin() as session:
            await self._remind_and_lapse(session, now, result)
            result.copies_deleted = await self._delete_expired(session, now)
        result.orphans_deleted = await self._delete_orphans(now)
        if result.reminded or result.lapsed:
            reminded, lapsed = len(result.reminded), len(result.lapsed)
            log.info("identity sweep: %d reminder(s), %d lapsed", reminded, lapsed)
            self._on_outbox()
        return result

    async def _remind_and_lapse(
        self, session: AsyncSession, now: datetime, result: IdentitySweepResult
    ) -> None:
        options = self._desk.settings.identity
        today = now.astimezone(AMSTERDAM).date()
        cases = await session.scalars(
            select(CaseRow).where(
                CaseRow.state != "closed",
                CaseRow.identity_state.in_([s.value for s in WAITING]),
                CaseRow.identity_requested_at.is_not(None),
            )
        )
        for case in list(cases):
            assert case.identity_requested_at is not None  # noqa: S101 - type narrowing only
            asked_on = case.identity_requested_at.astimezone(AMSTERDAM).date()
            steps = identity_steps(
                asked_on, today, reminder_days=options.reminder_days, lapse_days=options.lapse_days
            )
            for step in steps:
                key = step.key(case.reference, asked_on)
                if await session.scalar(select(NoticeRow.id).where(NoticeRow.key == key)):
                    continue
                session.add(NoticeRow(key=key, case_id=case.id, kind=step.kind, created_at=now))
                method = "code" if case.identity_state == IdentityState.CODE_SENT else "copy"
                if step.kind == "reminder":
                    await self._remind(session, case, method, asked_on, step.step, now)
                    result.reminded.append(case.reference)
                else:
                    await self._lapse(session, case, method, asked_on, now)
                    result.lapsed.append(case.reference)

    async def _remind(
        self,
        session: AsyncSession,
        case: CaseRow,
        method: str,
        asked_on: object,
        step: int,
        now: datetime,
    ) -> None:
        options = self._desk.settings.identity
        assert case.identity_requested_at is not None  # noqa: S101 - type narrowing only
        outbox = await queue(
            session,
            self._desk.mail_to_person(
                case,
                "id_reminder",
                now,
                identity=method,
                code=self._desk.code_for(case.reference) if method == "code" else None,
                requested_on=asked_on,
                close_on=lapse_date(
                    case.identity_requested_at.astimezone(AMSTERDAM).date(), options.lapse_days
                ),
                step=step,
                last=step == len(options.reminder_days),
            ),
        )
        log_event(
            session,
            case,
            now,
            EventKind.IDENTITY_REMINDED,
            "system",
            method=method,
            step=step,
            outbox=outbox,
        )

    async def _lapse(
        self, session: AsyncSession, case: CaseRow, method: str, asked_on: object, now: datetime
    ) -> None:
        """Nothing came in time: the case closes as "identity not verified", and the notice to
        the person (which names the AP) waits for staff approval."""
        rendered = self._desk.render(
            case, "identity_not_verified", identity=method, requested_on=asked_on
        )
        draft = DraftRow(
            case_id=case.id,
            kind="identity_not_verified",
            language=case.language,
            subject=rendered.subject,
            body=rendered.body,
            detail={"requested_on": str(asked_on), "method": method},
            status="draft",
            created_by="dsr-bot",
            created_at=now,
        )
        session.add(draft)
        await session.flush()
        await casework.announce_draft(
            session, draft, case, "dsr-bot", now, self._desk.settings, self._desk.replies
        )
        await self._desk.delete_copies(session, case, "lapsed", now, "system")
        case.identity_state = IdentityState.NOT_VERIFIED.value
        log_event(
            session, case, now, EventKind.IDENTITY_LAPSED, "system", method=method, draft=draft.id
        )
        await casework.close_as(session, case, "identity_not_verified", "system", now)

    async def _delete_expired(self, session: AsyncSession, now: datetime) -> int:
        rows = list(
            await session.scalars(
                select(IdCopyRow).where(
                    IdCopyRow.status.in_(LIVE_COPY),
                    IdCopyRow.delete_by <= now,
                )
            )
        )
        for row in rows:
            self._desk.vault.delete(row.token)
            row.status, row.deleted_at, row.deleted_reason = "deleted", now, "expired"
            case = await session.get(CaseRow, row.case_id)
            assert case is not None  # noqa: S101 - a foreign key
            log_event(
                session,
                case,
                now,
                EventKind.IDENTITY_COPY_DELETED,
                "system",
                reason="expired",
                copy=row.id,
            )
        return len(rows)

    async def _delete_orphans(self, now: datetime) -> int:
        """Files no row accounts for (a batch that was rolled back), or older than the limit."""
        vault = self._desk.vault
        limit = timedelta(days=self._desk.settings.identity.max_copy_days)
        async with self._sessions() as session:
            live = set(
                await session.scalars(
                    select(IdCopyRow.token).where(IdCopyRow.status.in_(LIVE_COPY))
                )
            )
        deleted = 0
        for token, written in list(vault.tokens()):
            age = now - written
            if age > limit or (token not in live and age > ORPHAN_GRACE):
                with contextlib.suppress(VaultError):
                    deleted += vault.delete(token)
        return deleted


def _fields(result: CheckResult) -> list[str]:
    order = ("photo", "mrz", "document_number", "bsn")
    found = {f.kind for f in result.findings}
    return [kind for kind in order if kind in found]
