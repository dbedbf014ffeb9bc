"""Staff accounts, sessions and the login throttle, below the web layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.config import ConsoleSettings
from dsr_bot.services import staff
from dsr_bot.services.staff import LoginThrottled, StaffError
from dsr_bot.store.tables import AuditRow, StaffRow

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
KEY = b"k" * 32
OPTIONS = ConsoleSettings(login_max_failures=3, login_lock_minutes=10)
PASSWORD = "a long and sound passphrase"


async def _add(sessions: async_sessionmaker[AsyncSession], email: str, role: str) -> StaffRow:
    async with sessions.begin() as db:
        return await staff.add(db, email, role, PASSWORD, NOW, actor="test")


async def _login(
    sessions: async_sessionmaker[AsyncSession],
    email: str,
    password: str,
    at: datetime = NOW,
    client: str = "10.0.0.1",
) -> StaffRow | None:
    async with sessions.begin() as db:
        return await staff.authenticate(
            db, email, password, client=client, key=KEY, now=at, options=OPTIONS
        )


async def test_the_password_is_kept_only_as_an_argon2_hash(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    row = await _add(sessions, "Anne@Example.nl", "staff")
    assert row.email == "anne@example.nl"
    assert PASSWORD not in row.password_hash and row.password_hash.startswith("$argon2id$")
    assert await _login(sessions, "anne@example.nl", PASSWORD) is not None


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("anne@example.nl", "staff", "short", "at least 12"),
        ("anne@example.nl", "staff", "anne-password-1234", "account name"),
        ("anne@example.nl", "boss", PASSWORD, "role must be one of"),
        ("not an address", "staff", PASSWORD, "not an e-mail address"),
    ],
)
async def test_bad_accounts_are_refused_with_a_reason(
    sessions: async_sessionmaker[AsyncSession],
    email: str,
    role: str,
    password: str,
    message: str,
) -> None:
    with pytest.raises(StaffError, match=message):
        async with sessions.begin() as db:
            await staff.add(db, email, role, password, NOW, actor="test")


async def test_one_account_per_address(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _add(sessions, "anne@example.nl", "staff")
    with pytest.raises(StaffError, match="already"):
        await _add(sessions, "ANNE@example.nl", "admin")


async def test_failed_logins_lock_the_account_for_a_while(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _add(sessions, "anne@example.nl", "staff")
    for minute in range(3):
        at = NOW + timedelta(minutes=minute)
        assert await _login(sessions, "anne@example.nl", "wrong guess number", at) is None
    with pytest.raises(LoginThrottled) as refused:
        await _login(sessions, "anne@example.nl", PASSWORD, NOW + timedelta(minutes=3))
    # Free again ten minutes after the first of the three failures.
    assert 0 < refused.value.retry_after <= 7 * 60 + 1
    assert await _login(sessions, "anne@example.nl", PASSWORD, NOW + timedelta(minutes=11))


async def test_the_throttle_keeps_no_readable_login_names(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await _login(sessions, "typo@example.nl", "whatever it was") is None
    async with sessions() as db:
        rows = (await db.execute(text("SELECT account, client FROM login_failures"))).all()
    assert rows and all("typo" not in account for account, _ in rows)


async def test_a_session_ends_when_idle_too_long_and_when_the_account_is_disabled(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    row = await _add(sessions, "anne@example.nl", "staff")
    await _add(sessions, "ad@example.nl", "admin")
    async with sessions.begin() as db:
        opened = await staff.open_session(db, row, NOW, OPTIONS)
    async with sessions.begin() as db:
        assert await staff.session_for(db, opened.token, NOW + timedelta(minutes=59), OPTIONS)
    async with sessions.begin() as db:
        # Seen at 9:59 (written once a minute at most): idle from then on.
        assert not await staff.session_for(db, opened.token, NOW + timedelta(hours=3), OPTIONS)
    async with sessions.begin() as db:
        second = await staff.open_session(db, row, NOW, OPTIONS)
        await staff.set_active(db, row, False, NOW, actor="ad@example.nl")
    async with sessions.begin() as db:
        assert not await staff.session_for(db, second.token, NOW, OPTIONS)


async def test_the_last_admin_cannot_be_demoted_or_disabled(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    admin = await _add(sessions, "ad@example.nl", "admin")
    with pytest.raises(StaffError, match="last active admin"):
        async with sessions.begin() as db:
            await staff.set_role(db, admin, "staff", NOW, actor="cli")
    with pytest.raises(StaffError, match="last active admin"):
        async with sessions.begin() as db:
            await staff.set_active(db, admin, False, NOW, actor="cli")


async def test_account_changes_are_in_the_append_only_audit_log(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    row = await _add(sessions, "anne@example.nl", "staff")
    async with sessions.begin() as db:
        await staff.set_role(db, await db.merge(row), "privacy_officer", NOW, actor="ad@x.nl")
    async with sessions() as db:
        actions = [(a.actor, a.action) for a in await db.scalars(select(AuditRow))]
    assert ("test", "staff_added") in actions and ("ad@x.nl", "role_changed") in actions
    with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
        async with sessions.begin() as db:
            await db.execute(text("DELETE FROM audit_log"))
