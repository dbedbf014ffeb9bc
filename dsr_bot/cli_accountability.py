"""Accountability commands: `dsr-bot erasures` (the erasure ledger) and `dsr-bot register`."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from datetime import UTC, datetime

import click
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.cli_support import in_transaction
from dsr_bot.config import Settings, load_settings
from dsr_bot.errors import DsrBotError
from dsr_bot.logs import setup_logging
from dsr_bot.secret_key import SECRET_ENV, secret_file
from dsr_bot.services import accountability


def _settings(ctx: click.Context) -> Settings:
    settings = load_settings(ctx.obj)
    setup_logging(settings.logging.level, settings.logging.format)
    return settings


def _write_csv(columns: Sequence[str], rows: Sequence[dict[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    click.echo(buffer.getvalue(), nl=False)


def _write_table(columns: Sequence[str], rows: Sequence[dict[str, str]]) -> None:
    widths = [max([len(c), *(len(r[c]) for r in rows)]) for c in columns]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in rows:
        click.echo(
            "  ".join(row[c].ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
        )


@click.group()
def erasures() -> None:
    """The erasure ledger: a keyed hash of every erased e-mail address and phone number."""


@erasures.command("replay")
@click.pass_context
def erasures_replay(ctx: click.Context) -> None:
    """Erase again what a restored backup brought back.

    Run this after every restore of the database: each case and message of a person in the
    erasure ledger is scrubbed again. Running it twice does no harm.
    """
    settings = _settings(ctx)
    path = secret_file(settings)
    key_missing = SECRET_ENV not in os.environ and not path.exists()

    async def go(session: AsyncSession) -> accountability.ReplayReport:
        if key_missing and await accountability.ledger_size(session):
            # A new key would match nothing, and the replay would wrongly report all clear.
            raise DsrBotError(
                f"the erasure ledger key {path} is missing: restore it from its own backup "
                f"(or set {SECRET_ENV}) before replaying erasures"
            )
        return await accountability.replay(session, accountability.ledger_key(path))

    report = in_transaction(settings, go, migrate_first=True)
    click.echo(f"Erasure ledger: {report.ledger} erased identifier(s).")
    if report.cases or report.messages:
        click.echo(
            f"Erased again: {report.cases} case(s) and {report.messages} message(s) "
            "of people who had been erased before."
        )
    else:
        click.echo("Nothing to erase again: no erased person's data was found.")


@erasures.command("export")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV with a header row to stdout.")
@click.pass_context
def erasures_export(ctx: click.Context, as_csv: bool) -> None:
    """List the erasure ledger: digest, kind, case reference and when the erasure was done.

    The digests cannot be turned back into addresses; they only show that an erasure happened.
    """
    settings = _settings(ctx)
    rows = in_transaction(settings, accountability.export_ledger, migrate_first=True)
    columns = ("digest", "kind", "reference", "erased_at")
    if as_csv:
        _write_csv(columns, rows)
    elif not rows:
        click.echo("The erasure ledger is empty: no erasures have been recorded.")
    else:
        _write_table(columns, rows)
        click.echo(f"{len(rows)} erased identifier(s).")


@click.group("register")
def register_() -> None:
    """The register of requests: every case, its deadlines, its decision, on time or not."""


@register_.command("export")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV with a header row to stdout.")
@click.pass_context
def register_export(ctx: click.Context, as_csv: bool) -> None:
    """List every request with its deadlines, decision and whether it was answered on time.

    Dates are calendar dates in Europe/Amsterdam. legal_due_in_force is the extended deadline
    when an extension notice was sent, else the one-month deadline. on_time is "yes" or "no" for
    closed cases and "open" for cases still being handled.
    """
    settings = _settings(ctx)
    now = datetime.now(UTC)
    rows = in_transaction(
        settings, lambda s: accountability.register(s, now=now), migrate_first=True
    )
    if as_csv:
        _write_csv(accountability.REGISTER_COLUMNS, rows)
        return
    if not rows:
        click.echo("No requests have been received yet.")
        return
    _write_table(accountability.REGISTER_COLUMNS, rows)
    count = {answer: sum(1 for r in rows if r["on_time"] == answer) for answer in ("yes", "no")}
    still_open = sum(1 for r in rows if r["on_time"] == "open")
    click.echo(
        f"{len(rows)} request(s): {count['yes']} answered on time, {count['no']} late, "
        f"{still_open} still open."
    )
    click.echo("Dates are computed by dsr-bot to help account for the work; not legal advice.")
