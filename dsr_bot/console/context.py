"""What every console view needs, built once by the bot and kept on `app.state.console`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from dsr_bot.config import Settings
from dsr_bot.replies import Replies
from dsr_bot.secret_key import derive_key, read_secret, secret_file
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.services.staff import THROTTLE_LABEL


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ConsoleContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    replies: Replies
    desk: IdentityDesk
    on_outbox: Callable[[], None] = lambda: None  # wakes the outbox sender after an approval
    clock: Callable[[], datetime] = utcnow
    throttle_key: bytes = field(default=b"")

    def __post_init__(self) -> None:
        if not self.throttle_key:
            secret = read_secret(secret_file(self.settings))
            self.throttle_key = derive_key(secret, THROTTLE_LABEL)

    def now(self) -> datetime:
        return self.clock()


def console(request: Request) -> ConsoleContext:
    found: ConsoleContext = request.app.state.console
    return found
