"""Staff accounts, console sessions, the login throttle and the audit log of staff actions.

Passwords are kept as argon2id hashes. A session cookie carries a random token; the database
keeps only its SHA-256, with a CSRF token bound to it. Failed logins are counted per account
(as a keyed hash: mistyped names are not kept readable) and per client address, and a login is
refused while either has too many recent failures.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.config import ConsoleSettings
from dsr_bot.domain.roles import Role
from dsr_bot.errors import LoginThrottled, StaffError
from dsr_bot.store.tables import AuditRow, ConsoleSessionRow, LoginFailureRow, StaffRow

__all__ = ["LoginThrottled", "StaffError"]  # raised here; callers may name them from here

log = logging.getLogger(__name__)

MIN_PASSWORD = 12
THROTTLE_LABEL = b"dsr-bot login throttle v1"
SEEN_EVERY = timedelta(minutes=1)  # a session's last-seen time is written at most this often
# Many failures from one address (guessing many accounts) lock that address too.
CLIENT_FACTOR = 4

_hasher = PasswordHasher()
# Unknown accounts are checked against this, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class OpenedSession:
    token: str  # goes in the cookie, never stored
    csrf: str
    expires_at: datetime


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or any(c.isspace() for c in email) or len(email) > 320:
        raise StaffError(f"not an e-mail address: {email!r}")
    return email


def check_password(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"a password needs at least {MIN_PASSWORD} characters")
    if email.split("@")[0] in password.lower():
        raise StaffError("a password must not contain the account name")


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise StaffError(f"role must be one of {', '.join(r.value for r in Role)}") from None


def audit(session: AsyncSession, now: datetime, actor: str, action: str, **detail: object) -> None:
    """A staff action that belongs to no case (accounts, logins, exports), append-only."""
    session.add(AuditRow(at=now, actor=actor, action=action, detail=detail))


# --- accounts ------------------------------------------------------------------------------------


async def add(
    session: AsyncSession,
    email: str,
    role: str,
    password: str,
    now: datetime,
    *,
    actor: str,
    name: str | None = None,
) -> StaffRow:
    email = normalise_email(email)
    kind = _role(role)
    check_password(password, email)
    if await by_email(session, email) is not None:
        raise StaffError(f"{email} has an account already")
    row = StaffRow(
        email=email,
        name=(name or "").strip() or None,
        role=kind.value,
        password_hash=_hasher.hash(password),
        active=True,
        created_at=now,
        password_changed_at=now,
    )
    session.add(row)
    await session.flush()
    audit(session, now, actor, "staff_added", staff=row.id, role=kind.value)
    return row


async def by_email(session: AsyncSession, email: str) -> StaffRow | None:
    found: StaffRow | None = await session.scalar(
        select(StaffRow).where(StaffRow.email == email.strip().lower())
    )
    return found


async def by_id(session: AsyncSession, staff_id: int) -> StaffRow:
    row = await session.get(StaffRow, staff_id)
    if row is None:
        raise StaffError(f"no staff account {staff_id}")
    return row


async def everyone(session: AsyncSession, *, active_only: bool = False) -> list[StaffRow]:
    query = select(StaffRow).order_by(StaffRow.email)
    if active_only:
        query = query.where(StaffRow.active.is_(True))
    return list(await session.scalars(query))


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(StaffRow)) or 0)


async def set_password(
    session: AsyncSession, row: StaffRow, password: str, now: datetime, *, actor: str
) -> None:
    check_password(password, row.email)
    row.password_hash = _hasher.hash(password)
    row.password_changed_at = now
    await end_sessions(session, row.id)
    audit(session, now, actor, "password_set", staff=row.id)


async def set_role(
    session: AsyncSession, row: StaffRow, role: str, now: datetime, *, actor: str
) -> None:
    kind = _role(role)
    if row.role == Role.ADMIN and kind != Role.ADMIN:
        await _keep_an_admin(session, row)
    before, row.role = row.role, kind.value
    audit(session, now, actor, "role_changed", staff=row.id, before=before, after=kind.value)


async def set_active(
    session: AsyncSession, row: StaffRow, active: bool, now: datetime, *, actor: str
) -> None:
    if not active and row.role == Role.ADMIN:
        await _keep_an_admin(session, row)
    row.active = active
    if not active:
        await end_sessions(session, row.id)
    audit(session, now, actor, "staff_enabled" if active else "staff_disabled", staff=row.id)


async def _keep_an_admin(session: AsyncSession, leaving: StaffRow) -> None:
    others = await session.scalar(
        select(func.count())
        .select_from(StaffRow)
        .where(StaffRow.role == Role.ADMIN, StaffRow.active.is_(True), StaffRow.id != leaving.id)
    )
    if not others:
        raise StaffError("this is the last active admin; make someone else admin first")


# --- logging in ----------------------------------------------------------------------------------


def account_digest(key: bytes, email: str) -> str:
    return hmac.new(key, email.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()


async def throttled_for(
    session: AsyncSession, account: str, client: str, now: datetime, options: ConsoleSettings
) -> int:
    """Seconds until a login may be tried again for this account or from this client; 0: now."""
    since = now - timedelta(minutes=options.login_lock_minutes)
    waits = []
    for column, value, limit in (
        (LoginFailureRow.account, account, options.login_max_failures),
        (LoginFailureRow.client, client, options.login_max_failures * CLIENT_FACTOR),
    ):
        times = list(
            await session.scalars(
                select(LoginFailureRow.at)
                .where(column == value, LoginFailureRow.at >= since)
                .order_by(LoginFailureRow.at.desc())
                .limit(limit)
            )
        )
        if len(times) >= limit:
            # Free again when the oldest of the last `limit` failures leaves the window.
            waits.append(int((times[-1] - since).total_seconds()) + 1)
    return max(waits, default=0)


async def authenticate(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    client: str,
    key: bytes,
    now: datetime,
    options: ConsoleSettings,
) -> StaffRow | None:
    """The active account with this e-mail address and password, or None (recorded as a
    failure). LoginThrottled before any password is checked when there were too many."""
    account = account_digest(key, email)
    wait = await throttled_for(session, account, client, now, options)
    if wait:
        log.warning("console login refused: too many failures (client %s)", client)
        raise LoginThrottled(wait)
    row = await by_email(session, email)
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        ok = row is not None and row.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None:
        session.add(LoginFailureRow(account=account, client=client[:64], at=now))
        log.info("console login failed (client %s)", client)
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    row.last_login_at = now
    await session.execute(delete(LoginFailureRow).where(LoginFailureRow.account == account))
    audit(session, now, row.email, "logged_in")
    log.info("console login: staff %d", row.id)
    return row


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


async def open_session(
    session: AsyncSession, row: StaffRow, now: datetime, options: ConsoleSettings
) -> OpenedSession:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + timedelta(hours=options.session_max_hours)
    session.add(
        ConsoleSessionRow(
            token_hash=_token_hash(token),
            staff_id=row.id,
            csrf=csrf,
            created_at=now,
            seen_at=now,
            expires_at=expires,
        )
    )
    # Expired sessions of anyone go when someone logs in: no separate cleaner needed.
    await session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at < now))
    return OpenedSession(token, csrf, expires)


async def session_for(
    session: AsyncSession, token: str, now: datetime, options: ConsoleSettings
) -> tuple[StaffRow, ConsoleSessionRow] | None:
    """The account and session behind a cookie, when the session is alive: not expired, not
    idle too long, the account still active."""
    if not token or len(token) > 100:
        return None
    found = (
        await session.execute(
            select(StaffRow, ConsoleSessionRow)
            .join(ConsoleSessionRow, ConsoleSessionRow.staff_id == StaffRow.id)
            .where(ConsoleSessionRow.token_hash == _token_hash(token))
        )
    ).first()
    if found is None:
        return None
    staff, row = found
    idle = timedelta(minutes=options.session_idle_minutes)
    if row.expires_at <= now or row.seen_at + idle <= now or not staff.active:
        await session.delete(row)
        return None
    if now - row.seen_at >= SEEN_EVERY:
        row.seen_at = now
    return staff, row


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == _token_hash(token))
    )


async def end_sessions(session: AsyncSession, staff_id: int) -> None:
    await session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.staff_id == staff_id))
