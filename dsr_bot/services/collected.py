"""Data staff collect for a case from the organisation's systems, for the access and
portability packages (services/packages.py).

An item is a file or a list of name/value fields, from one system, marked as provided by the
person (Art. 20) or not. Its content is sealed in the database (store/sealed.py); the case log
records which system and how much, never the content or a file name. Messages are in Dutch:
the console shows them as they are.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.config import Settings
from dsr_bot.domain.cases import EventKind
from dsr_bot.services import casework
from dsr_bot.services.casework import CaseworkError
from dsr_bot.store import queries
from dsr_bot.store.sealed import Sealer
from dsr_bot.store.tables import CaseRow, CollectedItemRow

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FIELDS = 100  # per item
MAX_NAME = 200
MAX_VALUE = 10_000
MAX_FILENAME = 200
OTHER_SYSTEM = "Overig"  # offered besides the profile's systems, for anything else


@dataclass(frozen=True, slots=True)
class Collected:
    """One item, opened: what the packages are made of."""

    id: int
    system: str
    added_at: datetime
    provided: bool
    fields: tuple[tuple[str, str], ...] = ()
    filename: str | None = None  # set for a file
    content_type: str | None = None
    data: bytes = b""

    @property
    def is_file(self) -> bool:
        return self.filename is not None


def systems_of(settings: Settings, profile: str) -> tuple[str, ...]:
    """The systems staff choose from: the organisation profile's (`systems`), and "Overig"."""
    found = settings.profiles.get(profile)
    names = [" ".join(system.name.split())[:100] for system in found.systems] if found else []
    return tuple(dict.fromkeys([*(name for name in names if name), OTHER_SYSTEM]))


def clean_fields(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Name/value pairs as typed: names on one line, values with Unix line ends; rows left
    empty are skipped. CaseworkError (in Dutch) for a value without a name, or too much."""
    cleaned: list[tuple[str, str]] = []
    for raw_name, raw_value in pairs:
        name = " ".join(raw_name.split())
        value = raw_value.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not name and not value:
            continue
        if not name:
            raise CaseworkError("Geef elk veld een naam (bijvoorbeeld 'E-mailadres').")
        if len(name) > MAX_NAME or len(value) > MAX_VALUE:
            raise CaseworkError(
                f"Een veldnaam heeft hoogstens {MAX_NAME} tekens, een waarde {MAX_VALUE}."
            )
        cleaned.append((name, value))
    if not cleaned:
        raise CaseworkError("Vul minstens één veld in: een naam en een waarde.")
    if len(cleaned) > MAX_FIELDS:
        raise CaseworkError(f"Hoogstens {MAX_FIELDS} velden tegelijk.")
    return tuple(cleaned)


def clean_filename(name: str) -> str:
    """The file's own name, without folders or control characters, as it goes in a zip."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    if len(base) > MAX_FILENAME:
        stem, dot, suffix = base.rpartition(".")
        keep = suffix if dot and len(suffix) <= 10 else ""
        base = (stem if keep else base)[: MAX_FILENAME - len(keep) - 1] + (
            "." + keep if keep else ""
        )
    return base or "bestand"


def _check(case: CaseRow, system: str, settings: Settings) -> str:
    if case.state == "closed":
        raise CaseworkError("Deze zaak is gesloten: er kunnen geen gegevens meer bij.")
    system = " ".join(system.split())
    if system not in systems_of(settings, case.profile):
        raise CaseworkError("Kies uit welk systeem de gegevens komen.")
    return system


async def add_file(
    session: AsyncSession,
    case: CaseRow,
    system: str,
    *,
    filename: str,
    content_type: str,
    data: bytes,
    provided: bool,
    who: str,
    now: datetime,
    settings: Settings,
    sealer: Sealer,
) -> CollectedItemRow:
    """Keep a file from `system` (sealed), logged on the case."""
    system = _check(case, system, settings)
    if not data:
        raise CaseworkError("Het bestand is leeg. Kies het bestand opnieuw.")
    if len(data) > MAX_FILE_BYTES:
        raise CaseworkError(
            f"Het bestand is te groot ({_megabytes(len(data))}). Het mag hoogstens "
            f"{_megabytes(MAX_FILE_BYTES)} zijn: deel het op, of voeg de gegevens als velden toe."
        )
    kind = " ".join(content_type.split())[:100] or "application/octet-stream"
    file = _Item("file", clean_filename(filename), kind, len(data), data)
    return await _keep(
        session, case, system, file, provided, who, now, sealer, file_bytes=len(data)
    )


async def add_fields(
    session: AsyncSession,
    case: CaseRow,
    system: str,
    pairs: Iterable[tuple[str, str]],
    *,
    provided: bool,
    who: str,
    now: datetime,
    settings: Settings,
    sealer: Sealer,
) -> CollectedItemRow:
    """Keep name/value fields from `system` (sealed, as JSON), logged on the case."""
    system = _check(case, system, settings)
    fields = clean_fields(pairs)
    payload = json.dumps([list(pair) for pair in fields], ensure_ascii=False).encode("utf-8")
    item = _Item("fields", None, None, len(fields), payload)
    return await _keep(session, case, system, item, provided, who, now, sealer, entries=len(fields))


@dataclass(frozen=True, slots=True)
class _Item:
    form: str  # "file" or "fields"
    filename: str | None
    content_type: str | None
    size: int  # bytes of a file, entries of fields
    content: bytes  # sealed before it is stored


async def _keep(
    session: AsyncSession,
    case: CaseRow,
    system: str,
    item: _Item,
    provided: bool,
    who: str,
    now: datetime,
    sealer: Sealer,
    **detail: object,
) -> CollectedItemRow:
    row = CollectedItemRow(
        case_id=case.id,
        system=system,
        form=item.form,
        filename=item.filename,
        content_type=item.content_type,
        size=item.size,
        sealed=sealer.seal(item.content),
        provided=provided,
        added_by=who,
        added_at=now,
    )
    session.add(row)
    await session.flush()
    casework.log_event(
        session, case, now, EventKind.DATA_ADDED, who, system=system, item=row.id, **detail
    )
    return row


async def remove(
    session: AsyncSession, case: CaseRow, item_id: int, *, who: str, now: datetime
) -> CollectedItemRow:
    """Delete one item (a mistake, or data of someone else), logged on the case."""
    if case.state == "closed":
        raise CaseworkError("Deze zaak is gesloten: de verzamelde gegevens zijn toen gewist.")
    row = await session.get(CollectedItemRow, item_id)
    if row is None or row.case_id != case.id:
        raise CaseworkError("Deze gegevens zijn er niet (meer).")
    await session.delete(row)
    casework.log_event(
        session, case, now, EventKind.DATA_REMOVED, who, system=row.system, item=item_id
    )
    return row


def opened(row: CollectedItemRow, sealer: Sealer) -> Collected:
    """One stored item with its content unsealed."""
    content = sealer.open(row.sealed)
    if row.form == "file":
        return Collected(
            id=row.id,
            system=row.system,
            added_at=row.added_at,
            provided=row.provided,
            filename=row.filename or "bestand",
            content_type=row.content_type or "application/octet-stream",
            data=content,
        )
    pairs = json.loads(content.decode("utf-8"))
    return Collected(
        id=row.id,
        system=row.system,
        added_at=row.added_at,
        provided=row.provided,
        fields=tuple((str(name), str(value)) for name, value in pairs),
    )


async def load(session: AsyncSession, case: CaseRow, sealer: Sealer) -> list[Collected]:
    """Everything collected for the case, opened, by system and in the order it was added."""
    return [opened(row, sealer) for row in await queries.collected_items(session, case.id)]


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")
