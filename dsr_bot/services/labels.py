"""Label corrections: staff settle what a request asks for, and each correction is kept.

A correction is one row in `label_corrections` (what the classifier said, what is right, which
model, which message it read) and one LABELS_CORRECTED event. It also does what knowing the
kinds allows: a triage case becomes open work, gets the checklist of its kinds, and, when its
identity was left undecided, gets the identity policy of those kinds, decided by the identity
desk exactly as for a case the classifier was sure of (which may ask the person for a shielded
ID copy or a code). `dsr-bot corrections export` turns the corrections into training data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.config import Settings
from dsr_bot.domain.bsn import BSN_MASK
from dsr_bot.domain.cases import CaseState, EventKind, RequestKind, can_transition
from dsr_bot.domain.identity import IdentityState, IdPolicy, policy_for
from dsr_bot.errors import DsrBotError
from dsr_bot.nlp.corpus import LANGS
from dsr_bot.nlp.entities import extract_entities
from dsr_bot.nlp.text import prepare
from dsr_bot.services import casework, tasks
from dsr_bot.services.accountability import ERASED_TEXT
from dsr_bot.services.casework import log_event
from dsr_bot.services.identity import IdentityDesk, queue
from dsr_bot.store import queries
from dsr_bot.store.tables import CaseRow, LabelCorrectionRow, MessageRow

_ORDER = {kind.value: rank for rank, kind in enumerate(RequestKind)}
_STRENGTH = {IdPolicy.NEVER: 0, IdPolicy.ON_DOUBT: 1, IdPolicy.ALWAYS: 2}


class LabelError(DsrBotError):
    """Labels that cannot be recorded; `reason` names which rule was broken, for the console
    to say it in Dutch: "empty", "unknown", "other_alone", "unchanged"."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Corrected:
    correction: LabelCorrectionRow
    opened: bool  # a triage case became open
    steps: int  # checklist steps added
    asked: str | None  # what the person was asked for: "copy", "code" or None
    outbox: int | None  # the mail that asks it
    # The new kinds need more proof than the case's identity state gives (it was settled before
    # the correction): staff decide whether to ask for it.
    stricter: IdPolicy | None


def checked_kinds(kinds: Iterable[str]) -> list[str]:
    """The kinds, validated and sorted as the classifier stores them."""
    chosen = sorted(set(kinds))
    if not chosen:
        raise LabelError("empty", "choose at least one kind of request")
    unknown = [k for k in chosen if k not in _ORDER]
    if unknown:
        raise LabelError("unknown", f"unknown kind(s): {', '.join(unknown)}")
    if RequestKind.OTHER.value in chosen and len(chosen) > 1:
        raise LabelError("other_alone", "'other' stands alone: not a privacy request")
    return chosen


async def first_message_id(session: AsyncSession, case: CaseRow) -> int | None:
    """The message that opened the case: what the classifier read."""
    found = await session.scalar(
        select(MessageRow.id).where(MessageRow.case_id == case.id).order_by(MessageRow.id).limit(1)
    )
    return int(found) if found is not None else None


async def correct_labels(
    session: AsyncSession,
    case: CaseRow,
    kinds: Iterable[str],
    actor: str,
    now: datetime,
    settings: Settings,
    desk: IdentityDesk,
) -> Corrected:
    """Record the right kinds of `case`, and do what knowing them allows (see the module)."""
    after = checked_kinds(kinds)
    before = sorted(case.kinds or [])
    if after == before:
        raise LabelError("unchanged", f"{case.reference} has these labels already")
    correction = LabelCorrectionRow(
        case_id=case.id,
        message_id=await first_message_id(session, case),
        before=before,
        after=after,
        model=case.classified_by,
        by=actor,
        at=now,
    )
    session.add(correction)
    await session.flush()
    case.kinds = after
    log_event(
        session,
        case,
        now,
        EventKind.LABELS_CORRECTED,
        actor,
        before=before,
        after=after,
        correction=correction.id,
    )
    if case.state == CaseState.CLOSED:
        # Kept as training data; a closed case needs no checklist or proof any more.
        return Corrected(correction, False, 0, None, None, None)
    opened = False
    if case.state == CaseState.TRIAGE and can_transition(CaseState.TRIAGE, CaseState.OPEN):
        case.state = CaseState.OPEN.value
        log_event(session, case, now, EventKind.STATE_CHANGED, actor, before="triage", after="open")
        opened = True
    steps = await tasks.ensure_checklist(session, case, settings, now)
    asked, outbox = await _decide_identity(session, case, actor, now, desk)
    return Corrected(correction, opened, steps, asked, outbox, _stricter(case, desk))


async def _decide_identity(
    session: AsyncSession, case: CaseRow, actor: str, now: datetime, desk: IdentityDesk
) -> tuple[str | None, int | None]:
    """A case whose identity waits for its kinds gets the policy of them, decided by the desk
    as for a new case; what the acknowledgement would have asked goes out in its own mail."""
    if case.identity_state != IdentityState.UNDECIDED:
        return None, None  # settled before: staff asked, waived or verified already
    planned: dict[str, object] = {
        "state": case.state,
        "kinds": list(case.kinds),
        "reference": case.reference,
    }
    asked, events = desk.open_case(
        planned,
        can_ask=case.channel == "email" and "@" in case.requester,
        verified_before=await _verified_before(session, case, now, desk.settings),
        now=now,
    )
    case.identity_policy = _text(planned.get("identity_policy"))
    case.identity_state = str(planned["identity_state"])
    outbox = None
    if asked.identity == "copy":
        outbox = await queue(session, desk.mail_to_person(case, "id_request", now))
        casework.pause_clock(session, case, now, actor)
    elif asked.identity == "code":
        # The acknowledgement is the mail that carries a code; this one repeats the case's
        # receipt and promise, now with the code.
        outbox = await queue(
            session,
            desk.mail_to_person(
                case,
                "acknowledgement",
                now,
                promise_on=case.promise_due,
                identity="code",
                code=asked.code,
                kinds=list(case.kinds),
            ),
        )
    if asked.identity is not None:
        case.identity_requested_at = now
    for kind, detail, _ in events:
        log_event(
            session, case, now, kind, actor, **detail, **({"outbox": outbox} if outbox else {})
        )
    return asked.identity, outbox


async def _verified_before(
    session: AsyncSession, case: CaseRow, now: datetime, settings: Settings
) -> str | None:
    """A recent verified case of this person the policy lets this one rely on (as the pipeline
    looks it up for a new case)."""
    days = settings.identity.reuse_verified_days
    if not days:
        return None
    found = await queries.recently_verified(
        session, {case.requester}, since=now - timedelta(days=days)
    )
    return found.get(case.requester)


def _stricter(case: CaseRow, desk: IdentityDesk) -> IdPolicy | None:
    """The new kinds' policy when it asks more than the case's settled identity state gives."""
    wanted = policy_for([RequestKind(k) for k in case.kinds], desk.policies)
    state = IdentityState(case.identity_state)
    if state is IdentityState.NOT_NEEDED and wanted is not IdPolicy.NEVER:
        return wanted
    if state in (IdentityState.CODE_SENT, IdentityState.CONFIRMED) and (
        _STRENGTH[wanted] > _STRENGTH[IdPolicy.ON_DOUBT]
    ):
        return wanted
    return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


async def corrections_of(session: AsyncSession, case: CaseRow) -> list[LabelCorrectionRow]:
    return list(
        await session.scalars(
            select(LabelCorrectionRow)
            .where(LabelCorrectionRow.case_id == case.id)
            .order_by(LabelCorrectionRow.id)
        )
    )


# --- training data -------------------------------------------------------------------------------

# What an identifier becomes in exported text; a new value (rectification) by the field it sets.
PLACEHOLDERS = {
    "email": "[e-mailadres]",
    "phone": "[telefoonnummer]",
    "iban": "[IBAN]",
    "postcode": "[postcode]",
    "address": "[adres]",
    "student_number": "[studentnummer]",
    "name": "[naam]",
    "birth_date": "[geboortedatum]",
    "bsn": BSN_MASK,
}
_PARTICLES = frozenset("van von de der den het ter ten te la le el al".split())


def pseudonymise(text: str, *, known: Iterable[str | None] = ()) -> str:
    """`text` with every identifier the entity finders see, and the `known` ones (the person's
    address and name) wherever they occur, replaced by a placeholder of its kind."""
    spans: list[tuple[int, int, str]] = []
    for entity in extract_entities(text):
        kind = (entity.field or "") if entity.kind == "new_value" else entity.kind
        if kind in PLACEHOLDERS:
            spans.append((entity.start, entity.end, kind))
    for value in filter(None, known):
        kind = "email" if "@" in value else "name"
        parts = [value] if kind == "email" else [value, *_name_parts(value)]
        for part in parts:
            pattern = rf"(?<!\w){re.escape(part)}(?!\w)"
            flags = re.IGNORECASE if part == value else 0  # a single name part: as written
            spans += [(m.start(), m.end(), kind) for m in re.finditer(pattern, text, flags)]
    out, at = [], 0
    for start, end, kind in _merged(spans):
        out += [text[at:start], PLACEHOLDERS[kind]]
        at = end
    out.append(text[at:])
    return "".join(out)


def _name_parts(name: str) -> list[str]:
    return [
        part
        for part in re.findall(r"[\w'-]+", name)
        if len(part) >= 3 and part[0].isupper() and part.lower() not in _PARTICLES
    ]


def _merged(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping spans as one, of the kind of the longest (an address holds its postcode)."""
    merged: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans, key=lambda s: (s[0], -s[1])):
        if merged and start < merged[-1][1]:
            first, last, outer = merged[-1]
            merged[-1] = (first, max(last, end), outer)
        else:
            merged.append((start, end, kind))
    return merged


@dataclass(frozen=True, slots=True)
class Export:
    examples: list[dict[str, object]]  # in the corpus's raw format (nlp/corpus.py)
    skipped: int  # corrections whose message is gone or was erased


async def training_examples(session: AsyncSession, *, since: datetime | None = None) -> Export:
    """The latest correction of each case (made at or after `since`) as a corpus example: the
    text the classifier read, pseudonymised, with the kinds staff settled on."""
    latest = select(func.max(LabelCorrectionRow.id)).group_by(LabelCorrectionRow.case_id)
    query = (
        select(LabelCorrectionRow, CaseRow)
        .join(CaseRow, CaseRow.id == LabelCorrectionRow.case_id)
        .where(LabelCorrectionRow.id.in_(latest))
        .order_by(LabelCorrectionRow.id)
    )
    if since is not None:
        query = query.where(LabelCorrectionRow.at >= since)
    found = list(await session.execute(query))
    ids = [c.message_id for c, _ in found if c.message_id is not None]
    messages = {
        m.id: m
        for m in (
            await session.scalars(select(MessageRow).where(MessageRow.id.in_(ids))) if ids else ()
        )
    }
    examples: list[dict[str, object]] = []
    skipped = 0
    for correction, case in found:
        message = messages.get(correction.message_id or 0)
        if message is None or ERASED_TEXT in (message.body, message.subject):
            skipped += 1
            continue
        text = pseudonymise(
            prepare(message.subject, message.body),
            known=(case.requester, case.requester_name, message.sender, message.sender_name),
        ).strip()
        if not text:
            skipped += 1
            continue
        examples.append(
            {
                "id": f"correction-{case.reference}-{correction.id}",
                "text": text,
                "labels": sorted(correction.after),
                "lang": case.language if case.language in LANGS else "nl",
                "style": "mail" if case.channel == "email" else "chat",
            }
        )
    return Export(examples, skipped)
