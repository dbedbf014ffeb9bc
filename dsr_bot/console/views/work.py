"""(to be written) Tasks and drafts in the console."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute

from dsr_bot.console.context import ConsoleContext
from dsr_bot.store.tables import CaseRow, StaffRow

routes: list[BaseRoute] = []


async def work_context(
    db: AsyncSession, case: CaseRow, staff: StaffRow, ctx: ConsoleContext
) -> dict[str, Any]:
    """What the case page's _tasks.html and _drafts.html partials need."""
    return {"tasks": [], "drafts": []}
