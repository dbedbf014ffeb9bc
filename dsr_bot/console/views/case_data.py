"""Collected data on the case page ("Verzamelde gegevens"): what staff found about the person in
each system, as a file or as fields, for the access and portability packages.

Adding and removing are logged on the case (services/collected.py); a package preview is
downloaded as the person would get it, and logged in the audit log, as viewing a case is. Files
are not opened for the page: only their name and size show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dsr_bot.console.auth import form_text, needs
from dsr_bot.console.context import ConsoleContext, console
from dsr_bot.console.templating import redirect
from dsr_bot.console.views.case_identity import case_or_404, case_url
from dsr_bot.domain.roles import Permission
from dsr_bot.errors import DsrBotError
from dsr_bot.services import collected, packages
from dsr_bot.services import staff as accounts
from dsr_bot.store import queries
from dsr_bot.store.sealed import Sealer, SealError
from dsr_bot.store.tables import CaseRow, CollectedItemRow

FIELD_ROWS = 5  # empty name/value rows in the form; more: add the item twice
PACKAGE_NL = {"access": "inzage", "portability": "overdraagbaarheid"}
UNREADABLE_NL = "De gegevens zijn niet te lezen: is de geheime sleutel veranderd?"


@dataclass
class Entry:
    """One collected item as the page shows it (a file is not opened for that)."""

    id: int
    form: str
    provided: bool
    added_by: str
    added_at: datetime
    filename: str = ""
    content_type: str = ""
    size: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    unreadable: bool = False


def _entry(row: CollectedItemRow, sealer: Sealer) -> Entry:
    entry = Entry(row.id, row.form, row.provided, row.added_by, row.added_at)
    if row.form == "file":
        entry.filename, entry.content_type = row.filename or "", row.content_type or ""
        entry.size = size_nl(row.size)
        return entry
    try:
        entry.fields = list(collected.opened(row, sealer).fields)
    except SealError:
        entry.unreadable = True
    return entry


def size_nl(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} kB"
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")


async def data_context(db: AsyncSession, case: CaseRow, ctx: ConsoleContext) -> dict[str, Any]:
    """What _case_data.html needs besides the case: the items by system, the systems to choose."""
    systems = collected.systems_of(ctx.settings, case.profile)
    rows = await queries.collected_items(db, case.id)
    sealer = Sealer.from_settings(ctx.settings) if rows else None
    by_system: dict[str, list[Entry]] = {}
    for row in rows:
        assert sealer is not None  # noqa: S101 - type narrowing only
        by_system.setdefault(row.system, []).append(_entry(row, sealer))
    ordered = [s for s in systems if s in by_system] + [s for s in by_system if s not in systems]
    return {
        "data_systems": systems,
        "data_by_system": [(system, by_system[system]) for system in ordered],
        "data_open": case.state != "closed",
        "data_field_rows": FIELD_ROWS,
        "data_max_size": size_nl(collected.MAX_FILE_BYTES),
        "data_any_provided": any(row.provided for row in rows),
    }


def _provided(value: str) -> bool:
    return value == "ja"


async def add_file(request: Request) -> Response:
    staff = needs(request, Permission.HANDLE_TASKS)
    ctx = console(request)
    reference = request.path_params["ref"]
    url = case_url(reference)
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return redirect(url, error="Kies het bestand dat u wilt toevoegen.")
        # One byte past the limit is enough to say it is too large.
        data = await upload.read(collected.MAX_FILE_BYTES + 1)
        filename, content_type = upload.filename, upload.content_type or ""
        system = form_text(form, "system", limit=200)
        provided = _provided(form_text(form, "provided", limit=10))
    finally:
        await form.close()
    try:
        async with ctx.sessions.begin() as db:
            case = await case_or_404(db, reference)
            await collected.add_file(
                db,
                case,
                system,
                filename=filename,
                content_type=content_type,
                data=data,
                provided=provided,
                who=staff.email,
                now=ctx.now(),
                settings=ctx.settings,
                sealer=Sealer.from_settings(ctx.settings),
            )
    except DsrBotError as exc:
        return redirect(url, error=str(exc))
    return redirect(case_url(case), ok=f"Het bestand uit {system} is toegevoegd.")


async def add_fields(request: Request) -> Response:
    staff = needs(request, Permission.HANDLE_TASKS)
    ctx = console(request)
    reference = request.path_params["ref"]
    url = case_url(reference)
    form = await request.form()
    names = [v if isinstance(v, str) else "" for v in form.getlist("name")]
    values = [v if isinstance(v, str) else "" for v in form.getlist("value")]
    if len(names) != len(values):
        return redirect(url, error="Het formulier is niet volledig verstuurd. Probeer het opnieuw.")
    system = form_text(form, "system", limit=200)
    provided = _provided(form_text(form, "provided", limit=10))
    try:
        async with ctx.sessions.begin() as db:
            case = await case_or_404(db, reference)
            row = await collected.add_fields(
                db,
                case,
                system,
                zip(names, values, strict=True),
                provided=provided,
                who=staff.email,
                now=ctx.now(),
                settings=ctx.settings,
                sealer=Sealer.from_settings(ctx.settings),
            )
    except DsrBotError as exc:
        return redirect(url, error=str(exc))
    count = "1 veld" if row.size == 1 else f"{row.size} velden"
    return redirect(case_url(case), ok=f"{count} uit {system} toegevoegd.")


async def remove(request: Request) -> Response:
    staff = needs(request, Permission.HANDLE_TASKS)
    ctx = console(request)
    reference = request.path_params["ref"]
    url = case_url(reference)
    try:
        async with ctx.sessions.begin() as db:
            case = await case_or_404(db, reference)
            row = await collected.remove(
                db, case, request.path_params["item_id"], who=staff.email, now=ctx.now()
            )
    except DsrBotError as exc:
        return redirect(url, error=str(exc))
    return redirect(case_url(case), ok=f"De gegevens uit {row.system} zijn verwijderd.")


async def package_preview(request: Request) -> Response:
    """The package as the person would get it now, for staff to check before approving."""
    staff = needs(request, Permission.HANDLE_TASKS)
    ctx = console(request)
    kind = request.path_params["kind"]
    if kind not in PACKAGE_NL:
        raise HTTPException(404)
    reference = request.path_params["ref"]
    url = case_url(reference)
    now = ctx.now()
    try:
        async with ctx.sessions.begin() as db:
            case = await case_or_404(db, reference)
            sealer = Sealer.from_settings(ctx.settings)
            package = await packages.assemble(db, case, kind, sealer, ctx.settings, now)
            # Personal data leaves the console: who took it, as for viewing a case.
            accounts.audit(
                db, now, staff.email, "package_previewed", reference=case.reference, package=kind
            )
    except SealError:
        return redirect(url, error=UNREADABLE_NL)
    except DsrBotError as exc:
        return redirect(url, error=str(exc))
    return Response(
        package.data,
        media_type=package.content_type,
        headers={
            "Cache-Control": "no-store, private",
            "Content-Disposition": f'attachment; filename="voorbeeld-{package.filename}"',
        },
    )


routes: list[BaseRoute] = [
    Route("/cases/{ref}/data/file", add_file, methods=["POST"]),
    Route("/cases/{ref}/data/fields", add_fields, methods=["POST"]),
    Route("/cases/{ref}/data/{item_id:int}/remove", remove, methods=["POST"]),
    Route("/cases/{ref}/data/package/{kind}", package_preview, methods=["GET"]),
]
