"""The access and portability packages: what staff collected, in a zip that goes with the
approved reply.

Access (Art. 15(3)): `inzage-<reference>.zip` with access.json (everything, per system), data.csv
(system, field, value), the files as they were added, and a readable summary (overzicht.txt, or
summary.txt in English). Portability (Art. 20): `gegevens-<reference>.zip` with data.json and
data.csv in the schema of docs/portability-schema.md, a README.txt describing it, and the files;
only what staff marked as provided by the person. Assembly is pure and deterministic for a
given `now`; `attach_package` loads the data, assembles the zip and stores it sealed with the
outbox row, when a reply of those kinds is approved.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.config import Settings
from dsr_bot.domain.cases import EventKind
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.domain.outgoing import Attachment
from dsr_bot.services import collected
from dsr_bot.services.casework import CaseworkError, log_event
from dsr_bot.services.collected import Collected
from dsr_bot.store.sealed import Sealer
from dsr_bot.store.tables import CaseRow, OutboxAttachmentRow

# The draft kinds that carry a package, and which.
PACKAGE_KINDS = {"access_reply": "access", "portability_reply": "portability"}
SCHEMA_ID = "dsr-bot-portability/1"
CSV_COLUMNS = ("system", "field", "value")
ZIP_TYPE = "application/zip"
# A zip beyond this, base64-encoded in a mail, would pass many relays' limit of 20-25 MB.
MAX_PACKAGE_BYTES = 15 * 1024 * 1024
MONTHS = {
    "nl": (
        "januari", "februari", "maart", "april", "mei", "juni",
        "juli", "augustus", "september", "oktober", "november", "december",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip

NO_DATA_NL = {
    "access": "Er zijn nog geen gegevens verzameld voor deze zaak. Voeg onder 'Verzamelde "
    "gegevens' toe wat er in elk systeem over de persoon staat, en keur het antwoord daarna goed.",
    "portability": "Er zijn geen gegevens die de persoon zelf heeft verstrekt. Voeg ze toe onder "
    "'Verzamelde gegevens' (vink 'door de persoon verstrekt' aan), en keur het antwoord daarna "
    "goed.",
}
NOT_BY_MAIL_NL = (
    "Het gegevenspakket kan alleen per e-mail mee, en deze zaak kwam niet per e-mail binnen. "
    "Stuur het pakket op een andere veilige manier en beantwoord de zaak met een gewoon antwoord."
)
TOO_LARGE_NL = (
    "Het gegevenspakket is te groot om te mailen ({size}; hoogstens {limit}). Verwijder grote "
    "bestanden of voeg die gegevens als velden toe."
)


# --- assembly (pure) -----------------------------------------------------------------------------


def package_name(kind: str, reference: str) -> str:
    return f"{'inzage' if kind == 'access' else 'gegevens'}-{reference}.zip"


def build_package(
    kind: str,
    *,
    reference: str,
    language: str,
    organisation: str,
    items: Sequence[Collected],
    now: datetime,
) -> Attachment:
    """The package of `kind` ("access" or "portability"); portability takes only the items
    provided by the person."""
    if kind == "access":
        return access_package(
            reference=reference, language=language, organisation=organisation, items=items, now=now
        )
    if kind == "portability":
        return portability_package(
            reference=reference,
            language=language,
            organisation=organisation,
            items=[item for item in items if item.provided],
            now=now,
        )
    raise ValueError(f"unknown package {kind!r}")


def access_package(
    *,
    reference: str,
    language: str,
    organisation: str,
    items: Sequence[Collected],
    now: datetime,
) -> Attachment:
    """inzage-<reference>.zip: access.json, data.csv, the files, and the summary."""
    en = language == "en"
    paths = _file_paths(items, "files" if en else "bestanden")
    systems: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for item in items:
        entry = systems.setdefault(item.system, {"fields": [], "files": []})
        when = _iso(item.added_at)
        if item.is_file:
            entry["files"].append(
                {
                    "filename": item.filename,
                    "path": paths[item.id],
                    "content_type": item.content_type,
                    "size": len(item.data),
                    "collected_at": when,
                    "provided_by_person": item.provided,
                }
            )
        for name, value in item.fields:
            entry["fields"].append(
                {
                    "field": name,
                    "value": value,
                    "collected_at": when,
                    "provided_by_person": item.provided,
                }
            )
    document = {
        "reference": reference,
        "organisation": organisation,
        "generated_at": _iso(now),
        "systems": [{"system": name, **content} for name, content in systems.items()],
    }
    summary = "summary.txt" if en else "overzicht.txt"
    members = [
        ("access.json", _json(document)),
        ("data.csv", fields_csv(items)),
        (summary, summary_text(reference, language, organisation, items, paths, now).encode()),
        *((paths[item.id], item.data) for item in items if item.is_file),
    ]
    return Attachment(package_name("access", reference), ZIP_TYPE, _zip(members, now))


def portability_package(
    *,
    reference: str,
    language: str,
    organisation: str,
    items: Sequence[Collected],
    now: datetime,
) -> Attachment:
    """gegevens-<reference>.zip: data.json and data.csv (docs/portability-schema.md), the
    files, and README.txt. `items` are taken as given (the caller keeps to what the person
    provided)."""
    paths = _file_paths(items, "files")
    document = portability_document(reference, organisation, items, paths, now)
    members = [
        ("data.json", _json(document)),
        ("data.csv", fields_csv(items)),
        ("README.txt", readme_text(reference, language).encode()),
        *((paths[item.id], item.data) for item in items if item.is_file),
    ]
    return Attachment(package_name("portability", reference), ZIP_TYPE, _zip(members, now))


def portability_document(
    reference: str,
    organisation: str,
    items: Sequence[Collected],
    paths: dict[int, str],
    now: datetime,
) -> dict[str, Any]:
    """data.json: every key is described in docs/portability-schema.md."""
    return {
        "schema": SCHEMA_ID,
        "reference": reference,
        "controller": organisation,
        "generated_at": _iso(now),
        "fields": [
            {
                "system": item.system,
                "field": name,
                "value": value,
                "collected_at": _iso(item.added_at),
            }
            for item in items
            for name, value in item.fields
        ],
        "files": [
            {
                "system": item.system,
                "filename": item.filename,
                "path": paths[item.id],
                "content_type": item.content_type,
                "size": len(item.data),
                "sha256": hashlib.sha256(item.data).hexdigest(),
                "collected_at": _iso(item.added_at),
            }
            for item in items
            if item.is_file
        ],
    }


def fields_csv(items: Sequence[Collected]) -> bytes:
    """system,field,value: RFC 4180 (comma, double quotes where needed, CRLF), UTF-8."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, dialect="excel", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        for name, value in item.fields:
            writer.writerow((item.system, name, value))
    return out.getvalue().encode("utf-8")


def summary_text(
    reference: str,
    language: str,
    organisation: str,
    items: Sequence[Collected],
    paths: dict[int, str],
    now: datetime,
) -> str:
    """The readable overview: per system, each field and each file."""
    en = language == "en"
    lines = (
        [
            "Overview of your personal data",
            "",
            f"Case: {reference}",
            f"Organisation: {organisation}",
            f"Made on: {_date(now, language)}",
            "",
            "This package holds the personal data we found about you, per system.",
            "- access.json: all data, readable by a computer.",
            "- data.csv: the fields as a table (opens in a spreadsheet).",
            "- files/: the files as we hold them.",
        ]
        if en
        else [
            "Overzicht van uw persoonsgegevens",
            "",
            f"Zaak: {reference}",
            f"Organisatie: {organisation}",
            f"Gemaakt op: {_date(now, language)}",
            "",
            "In dit pakket staan de persoonsgegevens die wij over u hebben gevonden, per systeem.",
            "- access.json: alle gegevens, leesbaar voor een computer.",
            "- data.csv: de velden als tabel (te openen in een spreadsheet).",
            "- bestanden/: de bestanden zoals wij ze hebben.",
        ]
    )
    for system in dict.fromkeys(item.system for item in items):
        lines += ["", system, "-" * len(system)]
        for item in items:
            if item.system != system:
                continue
            for name, value in item.fields:
                shown = value.replace("\n", "\n    ") if value else ("(empty)" if en else "(leeg)")
                lines.append(f"  {name}: {shown}")
            if item.is_file:
                size = _size(len(item.data), language)
                lines.append(f"  {'File' if en else 'Bestand'}: {paths[item.id]} ({size})")
    return "\n".join(lines) + "\n"


def readme_text(reference: str, language: str) -> str:
    """README.txt of the portability package: what each file holds, in the person's language."""
    if language == "en":
        return (
            f"Your personal data (case {reference})\n\n"
            "This package holds the personal data you provided to us, in a form another\n"
            "organisation or program can read (Art. 20 GDPR).\n\n"
            f"data.json  All data, JSON (UTF-8). Schema {SCHEMA_ID}:\n"
            "           schema, reference, controller, generated_at (ISO 8601, UTC),\n"
            "           fields: a list of {system, field, value, collected_at},\n"
            "           files: a list of {system, filename, path, content_type, size (bytes),\n"
            "           sha256, collected_at}. Every value of a field is text.\n"
            "data.csv   The same fields as a table: columns system, field, value; UTF-8 without\n"
            "           BOM, comma-separated, double quotes around values that need them (a\n"
            "           quote inside is doubled), lines end in CRLF (RFC 4180).\n"
            "files/     The files, per system, named as in data.json (path).\n"
        )
    return (
        f"Uw persoonsgegevens (zaak {reference})\n\n"
        "In dit pakket staan de persoonsgegevens die u zelf aan ons heeft gegeven, in een vorm\n"
        "die een andere organisatie of een programma kan lezen (artikel 20 AVG).\n\n"
        f"data.json  Alle gegevens, JSON (UTF-8). Schema {SCHEMA_ID}:\n"
        "           schema, reference (zaak), controller (organisatie), generated_at (gemaakt,\n"
        "           ISO 8601 in UTC),\n"
        "           fields: een lijst van {system, field, value, collected_at}\n"
        "           (systeem, veld, waarde, verzameld op),\n"
        "           files: een lijst van {system, filename, path, content_type, size (bytes),\n"
        "           sha256, collected_at}. Elke waarde van een veld is tekst.\n"
        "data.csv   Dezelfde velden als tabel: kolommen system, field, value; UTF-8 zonder BOM,\n"
        "           gescheiden door komma's, dubbele aanhalingstekens om waarden die dat nodig\n"
        "           hebben (een aanhalingsteken erin staat dubbel), regels eindigen op CRLF\n"
        "           (RFC 4180).\n"
        "files/     De bestanden, per systeem, met de naam uit data.json (path).\n"
    )


def _file_paths(items: Sequence[Collected], folder: str) -> dict[int, str]:
    """Item id -> its path in the zip: <folder>/<system>/<filename>, unique."""
    paths: dict[int, str] = {}
    taken: set[str] = set()
    for item in items:
        if not item.is_file:
            continue
        system = _path_part(item.system) or "_"
        name = _path_part(collected.clean_filename(item.filename or "")) or "bestand"
        stem, dot, suffix = name.rpartition(".")
        if not dot or not stem:
            stem, dot, suffix = f"{stem}{dot}{suffix}", "", ""
        path, number = f"{folder}/{system}/{stem}{dot}{suffix}", 1
        while path.lower() in taken:
            number += 1
            path = f"{folder}/{system}/{stem} ({number}){dot}{suffix}"
        taken.add(path.lower())
        paths[item.id] = path
    return paths


def _path_part(name: str) -> str:
    """One path component: no separators, no control characters, no leading dots."""
    cleaned = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in name)
    return cleaned.strip().lstrip(".").strip()[:120]


def _zip(members: Sequence[tuple[str, bytes]], now: datetime) -> bytes:
    """A zip with fixed timestamps (the moment of `now` in Amsterdam), files mode 0644."""
    local = now.astimezone(AMSTERDAM)
    stamp = (max(local.year, 1980), local.month, local.day, local.hour, local.minute, local.second)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def _json(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _date(moment: datetime, language: str) -> str:
    day = moment.astimezone(AMSTERDAM).date()
    month = MONTHS["en" if language == "en" else "nl"][day.month - 1]
    return f"{day.day} {month} {day.year}"


def _size(size: int, language: str) -> str:
    text = f"{size} bytes" if size < 1024 else f"{size / 1024:.0f} kB"
    if size >= 1024 * 1024:
        text = f"{size / (1024 * 1024):.1f} MB"
    return text if language == "en" else text.replace(".", ",")


# --- with the approved reply ---------------------------------------------------------------------


async def assemble(
    session: AsyncSession,
    case: CaseRow,
    kind: str,
    sealer: Sealer,
    settings: Settings,
    now: datetime,
) -> Attachment:
    """The `kind` package ("access" or "portability") of what was collected for the case, as
    it goes out; CaseworkError (code "no_data") when there is nothing to put in it."""
    items = await collected.load(session, case, sealer)
    wanted = [item for item in items if item.provided] if kind == "portability" else items
    if not wanted:
        raise CaseworkError(NO_DATA_NL[kind], code="no_data")
    profile = settings.profiles.get(case.profile)
    return build_package(
        kind,
        reference=case.reference,
        language=case.language,
        organisation=profile.organisation if profile is not None else "",
        items=items,
        now=now,
    )


async def attach_package(
    session: AsyncSession,
    case: CaseRow,
    draft_kind: str,
    outbox_id: int,
    now: datetime,
    settings: Settings,
) -> None:
    """For an access or portability reply: assemble the package from what was collected and
    store it, sealed, as an attachment of outbox row `outbox_id`. Other kinds: nothing.

    CaseworkError (code "no_data", "package_channel" or "package_size", message in Dutch) when
    the package cannot go: nothing collected, a case that did not come by e-mail, too large.
    The caller's transaction then rolls back the approval with it.
    """
    kind = PACKAGE_KINDS.get(draft_kind)
    if kind is None:
        return
    if case.channel != "email":
        raise CaseworkError(NOT_BY_MAIL_NL, code="package_channel")
    sealer = Sealer.from_settings(settings)
    package = await assemble(session, case, kind, sealer, settings, now)
    size = len(package.data)
    if size > MAX_PACKAGE_BYTES:
        raise CaseworkError(
            TOO_LARGE_NL.format(size=_size(size, "nl"), limit=_size(MAX_PACKAGE_BYTES, "nl")),
            code="package_size",
        )
    session.add(
        OutboxAttachmentRow(
            outbox_id=outbox_id,
            case_id=case.id,
            filename=package.filename,
            content_type=package.content_type,
            size=size,
            sealed=sealer.seal(package.data),
            created_at=now,
        )
    )
    await session.flush()
    log_event(
        session,
        case,
        now,
        EventKind.PACKAGE_ATTACHED,
        "system",
        package=package.filename,
        bytes=size,
        outbox=outbox_id,
    )
