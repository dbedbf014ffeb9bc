"""A case's checklist: generated per request kind from [tasks], extended, assigned, ticked off.

Generated steps have the key "<kind>/<index>", so the unique (case_id, key) constraint makes
generating idempotent; a step is never removed, whatever the settings or labels say later.
Steps staff add are "added/<n>" and sort after the generated ones. Every change by staff is
one entry in the case's event log; an assignee is told by e-mail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.config import Settings, TaskSettings
from dsr_bot.domain.cases import EventKind, RequestKind
from dsr_bot.domain.deadlines import legal_in_force
from dsr_bot.domain.outgoing import new_message_id
from dsr_bot.errors import CaseNotFound
from dsr_bot.replies import Replies
from dsr_bot.services.casework import CaseworkError, log_event
from dsr_bot.services.staff_chat import StaffChat
from dsr_bot.store import queries
from dsr_bot.store.tables import CaseRow, OutboxRow, StaffRow, TaskRow

ADDED = "added"  # the kind of a step staff added by hand
# Generated steps sort by kind (in the order of RequestKind), then by their place in [tasks].
_KIND_RANK = {kind.value: rank for rank, kind in enumerate(RequestKind)}
_PER_KIND = 100
_ADDED_FROM = _PER_KIND * (len(_KIND_RANK) + 1)
MAX_TITLE = 500


def _position(kind: str, index: int) -> int:
    return _KIND_RANK.get(kind, len(_KIND_RANK)) * _PER_KIND + index


def _steps(
    kinds: Iterable[str], options: TaskSettings, systems: Sequence[str]
) -> list[tuple[str, str, int, str]]:
    """(key, kind, position, title) of every generated step for these kinds."""
    return [
        (f"{kind}/{index}", kind, _position(kind, index), title)
        for kind in sorted(set(kinds), key=lambda k: _KIND_RANK.get(k, len(_KIND_RANK)))
        for index, title in enumerate(options.for_kind(kind, systems)[:_PER_KIND])
    ]


def _system_names(settings: Settings, profile: str) -> tuple[str, ...]:
    """The names of the systems a case of `profile` is checked in."""
    found = settings.profiles.get(profile) or settings.profiles.get("default")
    return tuple(system.name for system in found.systems) if found else ()


def checklist_rows(
    cases: Sequence[dict[str, Any]], settings: Settings, now: datetime
) -> list[dict[str, Any]]:
    """Task rows for the cases the pipeline opens (plain dicts with ids), for one bulk insert
    in the batch's transaction.

    Only cases opened as "open" get a checklist: the kinds of a triage case are a guess, and
    staff settling them call `ensure_checklist`. (Measured: the rows cost what SQLite needs to
    store them, about 10 microseconds each; an INSERT ... SELECT per step was no cheaper.)"""
    return [
        {
            "case_id": case["id"],
            "key": key,
            "kind": kind,
            "position": position,
            "title": title,
            "created_at": now,
        }
        for case in cases
        if case["state"] == "open"
        for key, kind, position, title in _steps(
            case["kinds"], settings.tasks, _system_names(settings, case["profile"])
        )
    ]


async def ensure_checklist(
    session: AsyncSession, case: CaseRow, settings: Settings, now: datetime
) -> int:
    """Add the checklist steps of the case's kinds that it lacks (never removes a step);
    returns how many were added."""
    have = set(await session.scalars(select(TaskRow.key).where(TaskRow.case_id == case.id)))
    steps = _steps(case.kinds, settings.tasks, _system_names(settings, case.profile))
    missing = [step for step in steps if step[0] not in have]
    for key, kind, position, title in missing:
        session.add(
            TaskRow(
                case_id=case.id,
                key=key,
                kind=kind,
                position=position,
                title=title,
                created_at=now,
            )
        )
    if missing:
        # One entry for the lot: the steps follow from the kinds, which were logged already.
        log_event(
            session,
            case,
            now,
            EventKind.TASK_ADDED,
            "system",
            checklist=sorted({kind for _, kind, _, _ in missing}),
            steps=len(missing),
        )
        await session.flush()
    return len(missing)


async def for_case(session: AsyncSession, case: CaseRow) -> list[TaskRow]:
    return list(
        await session.scalars(
            select(TaskRow).where(TaskRow.case_id == case.id).order_by(TaskRow.position, TaskRow.id)
        )
    )


async def task_of(session: AsyncSession, case: CaseRow, task_id: int) -> TaskRow:
    """The step `task_id` of this case; CaseNotFound when it is not one of its steps."""
    task = await session.get(TaskRow, task_id)
    if task is None or task.case_id != case.id:
        raise CaseNotFound(f"{case.reference} task {task_id}")
    return task


async def _case_of(session: AsyncSession, task: TaskRow) -> CaseRow:
    case = await session.get(CaseRow, task.case_id)
    assert case is not None  # noqa: S101 - a foreign key
    return case


async def add_task(
    session: AsyncSession, case: CaseRow, title: str, actor: str, now: datetime
) -> TaskRow:
    """A step staff add by hand, after the others."""
    title = " ".join(title.split())
    if not title:
        raise CaseworkError("a step needs a description")
    if len(title) > MAX_TITLE:
        raise CaseworkError(f"a step is described in at most {MAX_TITLE} characters")
    top = await session.scalar(select(func.max(TaskRow.position)).where(TaskRow.case_id == case.id))
    position = max(int(top or 0), _ADDED_FROM) + 1
    task = TaskRow(
        case_id=case.id,
        key=f"{ADDED}/{position}",
        kind=ADDED,
        position=position,
        title=title,
        created_at=now,
    )
    session.add(task)
    await session.flush()
    log_event(session, case, now, EventKind.TASK_ADDED, actor, task=task.id, title=title)
    return task


async def set_done(
    session: AsyncSession, task: TaskRow, done: bool, actor: str, now: datetime
) -> bool:
    """Tick a step off (or on again), logged; False when it was so already (a form sent twice)."""
    if (task.done_at is not None) == done:
        return False
    task.done_at, task.done_by = (now, actor) if done else (None, None)
    case = await _case_of(session, task)
    kind = EventKind.TASK_DONE if done else EventKind.TASK_UNDONE
    log_event(session, case, now, kind, actor, task=task.id, title=task.title)
    return True


async def assign_task(
    session: AsyncSession,
    task: TaskRow,
    staff: StaffRow | None,
    actor: str,
    now: datetime,
    settings: Settings,
    replies: Replies,
) -> bool:
    """Give a step to a staff member (None: to nobody), logged; they are told by e-mail
    unless they assigned it to themselves. False when nothing changed."""
    if staff is not None and not staff.active:
        raise CaseworkError(f"staff account {staff.id} is disabled")
    assignee = staff.email if staff is not None else None
    if task.assignee == assignee:
        return False
    task.assignee = assignee
    case = await _case_of(session, task)
    log_event(
        session,
        case,
        now,
        EventKind.TASK_ASSIGNED,
        actor,
        task=task.id,
        title=task.title,
        assignee=assignee,
    )
    if assignee is not None and assignee != actor:
        await _tell_assignee(session, case, task, assignee, actor, now, settings, replies)
        notice = StaffChat(settings, replies).task(
            case_id=case.id,
            reference=case.reference,
            title=task.title,
            assignee=assignee,
            assigned_by=actor,
            now=now,
        )
        if notice is not None:
            await queries.insert_with_ids(session, OutboxRow, [notice])
    return True


async def _tell_assignee(
    session: AsyncSession,
    case: CaseRow,
    task: TaskRow,
    assignee: str,
    actor: str,
    now: datetime,
    settings: Settings,
    replies: Replies,
) -> None:
    """A mail to the assignee with the reference, the step, the due dates and a link: nothing
    about the person who made the request beyond the reference."""
    rendered = replies.render(
        "staff_task_assigned",
        "nl",
        reference=case.reference,
        kinds=list(case.kinds),
        title=task.title,
        assigned_by=actor,
        promise_due=case.promise_due,
        legal_due=legal_in_force(
            case.legal_due, case.extended_due, extended=case.extension_sent_at is not None
        ),
        extended=case.extension_sent_at is not None,
        paused=case.paused_since is not None,
        url=f"{settings.console.base_url}/cases/{case.reference}",
    )
    row = queries.outbox_row(
        case_id=case.id,
        kind="staff_task",
        channel="email",
        source="staff",
        recipient=assignee,
        sender=settings.mail.from_address,
        sender_name="dsr-bot",
        subject=rendered.subject,
        body=rendered.body,
        language="nl",
        message_id=new_message_id(case.reference, settings.mail.from_address.split("@", 1)[1]),
        now=now,
        auto_submitted="auto-generated",
    )
    await queries.insert_with_ids(session, OutboxRow, [row])
