"""(to be written) A case's checklist: generated per kind from [tasks], assigned, done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.config import Settings
from dsr_bot.store.tables import CaseRow


async def ensure_checklist(
    session: AsyncSession, case: CaseRow, settings: Settings, now: datetime
) -> int:
    """Add the checklist steps of the case's kinds that it lacks (never removes a step);
    returns how many were added."""
    return 0
