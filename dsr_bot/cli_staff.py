"""Console accounts: `dsr-bot staff add|list|password|role|disable|enable`.

Passwords are typed at a hidden prompt (twice), or read from standard input with
--password-stdin for scripts; they never appear on the command line or in logs.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.cli_support import in_transaction
from dsr_bot.config import Settings, load_settings
from dsr_bot.domain.roles import Role
from dsr_bot.services import staff as accounts
from dsr_bot.store.tables import StaffRow

ACTOR = "cli"  # who acts in the audit log when an account is changed from the shell
STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (scripts)."
)


def _settings(ctx: click.Context) -> Settings:
    return load_settings(ctx.obj)


def _now() -> datetime:
    return datetime.now(UTC)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(
        f"Password (at least {accounts.MIN_PASSWORD} characters)",
        hide_input=True,
        confirmation_prompt=True,
    )
    return password


@click.group("staff")
def staff_group() -> None:
    """Console accounts and their roles (staff, privacy_officer, admin)."""


@staff_group.command("add")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="staff: tasks and drafts; privacy_officer: also approve and verify; admin: accounts.",
)
@click.option("--name", default="", help="Display name.")
@STDIN
@click.pass_context
def add(ctx: click.Context, email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create a console account."""
    settings = _settings(ctx)
    password = _password(password_stdin)
    # The hash is made before the transaction: argon2 takes a moment on purpose.
    accounts.check_password(password, accounts.normalise_email(email))

    async def go(session: AsyncSession) -> StaffRow:
        return await accounts.add(session, email, role, password, _now(), actor=ACTOR, name=name)

    row = in_transaction(settings, go, migrate_first=True)
    click.echo(
        f"Account {row.email} ({row.role}) created. Log in at http://{settings.console.addr}/"
    )


@staff_group.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Every account, its role, and when it last logged in."""
    settings = _settings(ctx)

    async def go(session: AsyncSession) -> list[StaffRow]:
        return await accounts.everyone(session)

    rows = in_transaction(settings, go, migrate_first=True)
    if not rows:
        click.echo("No accounts yet: dsr-bot staff add EMAIL --role admin")
        return
    for row in rows:
        last = row.last_login_at.strftime("%Y-%m-%d %H:%M") if row.last_login_at else "never"
        state = "" if row.active else "  (disabled)"
        click.echo(f"{row.email:40} {row.role:16} last login {last}{state}")


def _change(ctx: click.Context, email: str, change: str, value: str = "") -> StaffRow:
    settings = _settings(ctx)

    async def go(session: AsyncSession) -> StaffRow:
        row = await accounts.by_email(session, email)
        if row is None:
            raise accounts.StaffError(f"no account {email.strip().lower()}")
        now = _now()
        if change == "password":
            await accounts.set_password(session, row, value, now, actor=ACTOR)
        elif change == "role":
            await accounts.set_role(session, row, value, now, actor=ACTOR)
        else:
            await accounts.set_active(session, row, change == "enable", now, actor=ACTOR)
        return row

    return in_transaction(settings, go, migrate_first=True)


@staff_group.command("password")
@click.argument("email")
@STDIN
@click.pass_context
def password(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Set a new password; the account's open sessions end."""
    row = _change(ctx, email, "password", _password(password_stdin))
    click.echo(f"New password set for {row.email}; its sessions have ended.")


@staff_group.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@click.pass_context
def role(ctx: click.Context, email: str, role: str) -> None:
    """Change an account's role."""
    row = _change(ctx, email, "role", role)
    click.echo(f"{row.email} is now {row.role}.")


@staff_group.command("disable")
@click.argument("email")
@click.pass_context
def disable(ctx: click.Context, email: str) -> None:
    """Stop an account from logging in; its open sessions end."""
    row = _change(ctx, email, "disable")
    click.echo(f"{row.email} is disabled.")


@staff_group.command("enable")
@click.argument("email")
@click.pass_context
def enable(ctx: click.Context, email: str) -> None:
    """Let a disabled account log in again."""
    row = _change(ctx, email, "enable")
    click.echo(f"{row.email} is enabled again.")
