"""What the chat collected before a case existed is not kept for ever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.services import retention
from dsr_bot.store.tables import ChatRow

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def test_an_abandoned_conversation_is_purged_after_the_set_days(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as s:
        for chat_id, idle in ((1, 15), (2, 13)):
            s.add(
                ChatRow(
                    chat_id=chat_id,
                    state="confirm",
                    language="nl",
                    data={"text": "Ik wil mijn gegevens inzien"},
                    case_id=None,
                    updated_at=NOW - timedelta(days=idle),
                )
            )
    report = await retention.purge(sessions, now=NOW, keep_days=730, chat_days=14)
    assert report.rows["telegram_chats"] == 1
    async with sessions() as s:
        left = list(await s.scalars(select(ChatRow.chat_id)))
    assert left == [2]
