"""Administration: staff accounts, the audit log, and the reply templates.

Accounts are named by their id in every URL, never by e-mail address. Every change goes through
services/staff.py, which writes the audit log. A reply template is replaced by a file in
`console.template_overrides`, checked first (dsr_bot/reply_check.py), so a mistake
shows here instead of stopping the mail. Each profile (brand) has its own replacements: the
admin picks the profile (`?profile=<name>` on every template URL; none: the default profile).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dsr_bot.config import ProfileSettings
from dsr_bot.console.auth import SESSION_COOKIE, form_text, needs
from dsr_bot.console.context import ConsoleContext, console
from dsr_bot.console.templating import redirect, render
from dsr_bot.domain.roles import ROLE_NAMES_NL, Permission, Role
from dsr_bot.replies import (
    DEFAULT_PROFILE,
    Replies,
    TemplateFile,
    base_text,
    normalise_text,
    override_text,
    profile_override_dir,
    remove_override,
    save_override,
    template_file,
    template_files,
)
from dsr_bot.reply_check import SAMPLES, check_template, preview_sample, sample_variables
from dsr_bot.services import staff as accounts
from dsr_bot.services.staff import StaffError
from dsr_bot.store.tables import AuditRow, StaffRow

ROLES = [(role.value, ROLE_NAMES_NL[role]) for role in Role]

ACTIONS_NL = {
    "logged_in": "ingelogd",
    "logged_out": "uitgelogd",
    "staff_added": "account aangemaakt",
    "role_changed": "rol gewijzigd",
    "staff_enabled": "account aangezet",
    "staff_disabled": "account uitgezet",
    "password_set": "wachtwoord ingesteld",
    "template_changed": "sjabloon gewijzigd",
    "template_reset": "sjabloon terug naar standaard",
    "register_exported": "register geëxporteerd",
    "corrections_exported": "labelcorrecties geëxporteerd",
    "case_viewed": "zaak bekeken",
}
PARTS_NL = {"subject": "onderwerp", "body": "tekst", "macros": "gedeelde teksten"}
LANGUAGES_NL = {"nl": "Nederlands", "en": "Engels"}


def _dutch(exc: StaffError) -> str:
    """services/staff.py speaks English (it serves the CLI too); the console speaks Dutch."""
    text = str(exc)
    known = (
        ("not an e-mail address", "Dit is geen geldig e-mailadres."),
        ("role must be one of", "Kies een rol uit de lijst."),
        (
            "a password needs at least",
            f"Een wachtwoord heeft minstens {accounts.MIN_PASSWORD} tekens.",
        ),
        (
            "a password must not contain the account name",
            "Het wachtwoord mag het deel van het e-mailadres vóór de @ niet bevatten.",
        ),
        ("has an account already", "Er is al een account met dit e-mailadres."),
        ("no staff account", "Dit account bestaat niet."),
        (
            "last active admin",
            "Dit is de laatste actieve beheerder. Maak eerst iemand anders beheerder.",
        ),
    )
    for start, dutch in known:
        if start in text:
            return dutch
    return f"Dat lukte niet: {text}"


# --- accounts ------------------------------------------------------------------------------------


async def admin_home(request: Request) -> Response:
    needs(request, Permission.MANAGE_ACCOUNTS)
    return redirect("/admin/staff")


async def staff_list(request: Request) -> Response:
    needs(request, Permission.MANAGE_ACCOUNTS)
    ctx = console(request)
    async with ctx.sessions.begin() as db:
        rows = await accounts.everyone(db)
    return render(
        request,
        "admin_staff.html",
        {"accounts": rows, "roles": ROLES, "min_password": accounts.MIN_PASSWORD},
    )


async def staff_add(request: Request) -> Response:
    admin = needs(request, Permission.MANAGE_ACCOUNTS)
    ctx = console(request)
    form = await request.form()
    try:
        async with ctx.sessions.begin() as db:
            row = await accounts.add(
                db,
                form_text(form, "email", limit=320),
                form_text(form, "role", limit=40),
                form_text(form, "password", limit=1000),
                ctx.now(),
                actor=admin.email,
                name=form_text(form, "name", limit=200),
            )
    except StaffError as exc:
        return redirect("/admin/staff", error=_dutch(exc))
    return redirect(f"/admin/staff/{row.id}", ok=f"Het account voor {row.email} is aangemaakt.")


async def _account(db: AsyncSession, request: Request) -> StaffRow:
    try:
        return await accounts.by_id(db, int(request.path_params["staff_id"]))
    except StaffError:
        raise HTTPException(404) from None


async def staff_page(request: Request) -> Response:
    admin = needs(request, Permission.MANAGE_ACCOUNTS)
    ctx = console(request)
    async with ctx.sessions.begin() as db:
        row = await _account(db, request)
    return render(
        request,
        "admin_account.html",
        {
            "account": row,
            "roles": ROLES,
            "min_password": accounts.MIN_PASSWORD,
            "is_self": row.id == admin.id,
        },
    )


async def staff_role(request: Request) -> Response:
    admin = needs(request, Permission.MANAGE_ACCOUNTS)
    ctx = console(request)
    form = await request.form()
    url = f"/admin/staff/{request.path_params['staff_id']}"
    try:
        async with ctx.sessions.begin() as db:
            row = await _account(db, request)
            if row.id == admin.id:
                return redirect(
                    url, error="Uw eigen rol kunt u niet wijzigen. Vraag een andere beheerder."
                )
            role = form_text(form, "role", limit=40)
            if role == row.role:
                return redirect(url, ok="De rol was al zo.")
            await accounts.set_role(db, row, role, ctx.now(), actor=admin.email)
    except StaffError as exc:
        return redirect(url, error=_dutch(exc))
    return redirect(url, ok=f"De rol is nu: {ROLE_NAMES_NL[Role(row.role)]}.")


async def _set_active(request: Request, active: bool) -> Response:
    admin = needs(request, Permission.MANAGE_ACCOUNTS)
    ctx = console(request)
    url = f"/admin/staff/{request.path_params['staff_id']}"
    try:
        async with ctx.sessions.begin() as db:
            row = await _account(db, request)
            if row.id == admin.id:
                return redirect(url, error="Uw eigen account kunt u niet uitzetten.")
            await accounts.set_active(db, row, active, ctx.now(), actor=admin.email)
    except StaffError as exc:
        return redirect(url, error=_dutch(exc))
    if active:
        return redirect(url, ok="Het account staat aan. Deze persoon kan weer inloggen.")
    return redirect(
        url, ok="Het account staat uit. Deze persoon is uitgelogd en kan niet meer inloggen."
    )


async def staff_disable(request: Request) -> Response:
    return await _set_active(request, False)


async def staff_enable(request: Request) -> Response:
    return await _set_active(request, True)


async def staff_password(request: Request) -> Response:
    admin = needs(request, Permission.MANAGE_ACCOUNTS)
    ctx = console(request)
    form = await request.form()
    url = f"/admin/staff/{request.path_params['staff_id']}"
    password = form_text(form, "password", limit=1000)
    if password != form_text(form, "password2", limit=1000):
        return redirect(url, error="De twee wachtwoorden zijn niet gelijk. Probeer het opnieuw.")
    try:
        async with ctx.sessions.begin() as db:
            row = await _account(db, request)
            await accounts.set_password(db, row, password, ctx.now(), actor=admin.email)
    except StaffError as exc:
        return redirect(url, error=_dutch(exc))
    if row.id == admin.id:
        # Setting a password ends every session of the account, this one too.
        response = redirect("/login", ok="Uw wachtwoord is gewijzigd. Log opnieuw in.")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    return redirect(url, ok="Het nieuwe wachtwoord is ingesteld. Deze persoon is overal uitgelogd.")


# --- the audit log -------------------------------------------------------------------------------


async def audit_log(request: Request) -> Response:
    needs(request, Permission.MANAGE_ACCOUNTS)
    ctx = console(request)
    size = ctx.settings.console.page_size
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    async with ctx.sessions.begin() as db:
        total = int(await db.scalar(select(func.count()).select_from(AuditRow)) or 0)
        rows = list(
            await db.scalars(
                select(AuditRow).order_by(AuditRow.id.desc()).limit(size).offset((page - 1) * size)
            )
        )
        emails = {row.id: row.email for row in await accounts.everyone(db)}
    entries = [
        {
            "at": row.at,
            "actor": row.actor,
            "action": ACTIONS_NL.get(row.action, row.action),
            "detail": _detail(row.detail, emails),
        }
        for row in rows
    ]
    return render(
        request,
        "admin_audit.html",
        {
            "entries": entries,
            "page": page,
            "previous": page - 1 if page > 1 else None,
            "next": page + 1 if page * size < total else None,
        },
    )


def _detail(detail: dict[str, Any], emails: dict[int, str]) -> list[tuple[str, str]]:
    shown = []
    for key, value in sorted(detail.items()):
        if key == "staff" and isinstance(value, int):
            shown.append(("account", emails.get(value, f"#{value}")))
        elif key in ("before", "after", "role") and value in set(Role):
            shown.append((key, ROLE_NAMES_NL[Role(value)]))
        else:
            shown.append((key, str(value)))
    return shown


# --- reply templates -----------------------------------------------------------------------------


def _file(request: Request) -> TemplateFile:
    found = template_file(request.path_params["language"], request.path_params["name"])
    if found is None:
        raise HTTPException(404)
    return found


class _Chosen:
    """The profile whose templates the admin edits, and where its templates are."""

    def __init__(self, ctx: ConsoleContext, name: str) -> None:
        self.name = name
        self.settings: ProfileSettings = ctx.settings.profiles[name]
        self.own_dir: Path | None = self.settings.templates
        self.overrides = profile_override_dir(ctx.settings.console.template_overrides, name)
        # Kept in every link and form of the editor; nothing for the default profile.
        self.query = "" if name == DEFAULT_PROFILE else "?" + urlencode({"profile": name})

    def url(self, file: TemplateFile | None = None, suffix: str = "") -> str:
        path = f"/admin/templates/{file.language}/{file.name}" if file else "/admin/templates"
        return path + suffix + self.query


def _profile(request: Request) -> _Chosen:
    ctx = console(request)
    name = request.query_params.get("profile", DEFAULT_PROFILE)
    if name not in ctx.settings.profiles:
        raise HTTPException(404)
    return _Chosen(ctx, name)


def _profiles(request: Request, chosen: _Chosen) -> list[dict[str, Any]]:
    """The profiles to choose from (shown when there are several)."""
    return [
        {"name": name, "organisation": p.organisation, "selected": name == chosen.name}
        for name, p in console(request).settings.profiles.items()
    ]


async def templates_list(request: Request) -> Response:
    needs(request, Permission.MANAGE_TEMPLATES)
    chosen = _profile(request)
    languages = []
    for language, label in LANGUAGES_NL.items():
        files = [
            {
                "file": f,
                "url": chosen.url(f),
                "part": PARTS_NL[f.part],
                "changed": override_text(f, chosen.overrides) is not None,
                "own": chosen.own_dir is not None and override_text(f, chosen.own_dir) is not None,
            }
            for f in template_files()
            if f.language == language
        ]
        languages.append({"code": language, "label": label, "files": files})
    return render(
        request,
        "admin_templates.html",
        {
            "languages": languages,
            "profiles": _profiles(request, chosen),
            "profile": chosen.name,
            "organisation": chosen.settings.organisation,
        },
    )


def _template_page(
    request: Request,
    file: TemplateFile,
    chosen: _Chosen,
    *,
    text: str | None = None,
    error: str = "",
) -> Response:
    saved = override_text(file, chosen.overrides)
    standard = base_text(file, chosen.own_dir)
    # A saved text that no longer passes (a release changed what the code passes in) is
    # shown with the reason, and without a preview that would fail.
    warning = _check(file, saved, chosen) if saved is not None else None
    preview = None
    if not file.is_macros and SAMPLES.get(file.template) and not (error or warning):
        replies = Replies(
            override_dir=console(request).settings.console.template_overrides,
            profile_dirs={chosen.name: chosen.own_dir} if chosen.own_dir else None,
        )
        preview = replies.for_profile(chosen.name).render(
            file.template, file.language, **preview_sample(file.template, chosen.settings)
        )
    return render(
        request,
        "admin_template.html",
        {
            "file": file,
            "part": PARTS_NL[file.part],
            "language_nl": LANGUAGES_NL[file.language],
            "changed": saved is not None,
            "own": standard != base_text(file, None),
            "text": text if text is not None else (saved if saved is not None else standard),
            "builtin": standard,
            "variables": sample_variables(file.template) if not file.is_macros else [],
            "preview": preview,
            "error": error,
            "warning": warning,
            "profile": chosen.name,
            "organisation": chosen.settings.organisation,
            "several_profiles": len(console(request).settings.profiles) > 1,
            "back_url": chosen.url(),
            "save_url": chosen.url(file),
            "reset_url": chosen.url(file, "/reset"),
        },
        status_code=422 if error else 200,
    )


def _check(file: TemplateFile, text: str, chosen: _Chosen) -> str | None:
    return check_template(
        file,
        text,
        override_dir=chosen.overrides,
        profile_dir=chosen.own_dir,
        profile=chosen.settings,
    )


async def template_page(request: Request) -> Response:
    needs(request, Permission.MANAGE_TEMPLATES)
    return _template_page(request, _file(request), _profile(request))


async def template_save(request: Request) -> Response:
    admin = needs(request, Permission.MANAGE_TEMPLATES)
    ctx = console(request)
    file, chosen = _file(request), _profile(request)
    form = await request.form()
    text = normalise_text(_raw(form, "text"))
    problem = _check(file, text, chosen)
    if problem:
        return _template_page(request, file, chosen, text=text, error=f"Niet opgeslagen. {problem}")
    if text == base_text(file, chosen.own_dir):
        return await _reset(ctx, admin.email, file, chosen)
    async with ctx.sessions.begin() as db:
        accounts.audit(
            db,
            ctx.now(),
            admin.email,
            "template_changed",
            template=file.path,
            profile=chosen.name,
            sha256=hashlib.sha256(text.encode()).hexdigest(),
        )
        save_override(file, text, chosen.overrides)  # last: a failed write rolls the audit back
    return redirect(
        chosen.url(file), ok="Opgeslagen. De nieuwe tekst geldt vanaf nu voor nieuwe berichten."
    )


async def template_reset(request: Request) -> Response:
    admin = needs(request, Permission.MANAGE_TEMPLATES)
    return await _reset(console(request), admin.email, _file(request), _profile(request))


async def _reset(ctx: ConsoleContext, actor: str, file: TemplateFile, chosen: _Chosen) -> Response:
    url = chosen.url(file)
    if override_text(file, chosen.overrides) is None:
        return redirect(url, ok="Dit sjabloon had al de standaardtekst.")
    async with ctx.sessions.begin() as db:
        accounts.audit(
            db, ctx.now(), actor, "template_reset", template=file.path, profile=chosen.name
        )
        remove_override(file, chosen.overrides)
    return redirect(url, ok="Het sjabloon heeft weer de standaardtekst.")


def _raw(form: Any, name: str) -> str:
    """A template as typed: form_text would strip the whitespace that shapes the mail."""
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


routes: list[BaseRoute] = [
    Route("/admin", admin_home, methods=["GET"]),
    Route("/admin/staff", staff_list, methods=["GET"]),
    Route("/admin/staff", staff_add, methods=["POST"]),
    Route("/admin/staff/{staff_id:int}", staff_page, methods=["GET"]),
    Route("/admin/staff/{staff_id:int}/role", staff_role, methods=["POST"]),
    Route("/admin/staff/{staff_id:int}/disable", staff_disable, methods=["POST"]),
    Route("/admin/staff/{staff_id:int}/enable", staff_enable, methods=["POST"]),
    Route("/admin/staff/{staff_id:int}/password", staff_password, methods=["POST"]),
    Route("/admin/audit", audit_log, methods=["GET"]),
    Route("/admin/templates", templates_list, methods=["GET"]),
    Route("/admin/templates/{language}/{name}", template_page, methods=["GET"]),
    Route("/admin/templates/{language}/{name}", template_save, methods=["POST"]),
    Route("/admin/templates/{language}/{name}/reset", template_reset, methods=["POST"]),
]
