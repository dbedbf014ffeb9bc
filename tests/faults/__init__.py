"""Fault tests: the bot against a relay, IMAP server, database, Bot API or disk that fails.

Each runs short in `make test`; with DSR_SOAK=1 (`make soak`) it runs at length: a relay down for
five minutes rather than seconds, more mail, more faults. Each prints what it measured; the
figures of a `make soak` run are recorded in docs/reliability.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dsr_bot.app import Bot

SOAK = os.environ.get("DSR_SOAK", "") not in ("", "0")
# pytest-timeout for one long test: generous, a bound and not a measurement.
SOAK_TIMEOUT = 1800


def report(title: str, lines: Iterable[str]) -> None:
    """The figures on the terminal (shown with -s, as `make soak` runs), one block per test."""
    text = "\n".join(f"  {line}" for line in lines)
    sys.stdout.write(f"\n[{title}]{' (soak)' if SOAK else ''}\n{text}\n")
    sys.stdout.flush()


def request_raws(count: int, tag: str, start: int = 0) -> list[bytes]:
    """Access requests from different people (no acknowledgement is held back by the per-sender
    limit), each with a Message-ID and subject that say which one it is."""
    from tests.conftest import request_mail

    return [
        request_mail(
            sender=f"{tag}{i}@example.nl",
            subject=f"Verzoek {tag} {i}",
            message_id=f"<{tag}-{i}@example.nl>",
        ).as_bytes()
        for i in range(start, start + count)
    ]


async def at_least(count: Callable[[], Awaitable[int]], n: int, *, within: float) -> None:
    """Until `count()` reaches `n`; the test fails after `within` seconds (a generous bound)."""
    from tests.conftest import eventually

    async def reached() -> bool:
        return await count() >= n

    await eventually(reached, within=within)


async def rows(bot: Bot, table: type[Any], *where: Any) -> int:
    """Rows of `table` (matching `where`); -1 while the database does not answer."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    try:
        async with bot.sessions() as s:
            query = select(func.count()).select_from(table).where(*where)
            return int(await s.scalar(query) or 0)
    except (SQLAlchemyError, OSError):
        return -1
