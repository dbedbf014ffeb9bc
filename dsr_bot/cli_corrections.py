"""`dsr-bot corrections export`: the label corrections staff made, as new training data."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.cli_support import in_transaction
from dsr_bot.config import Settings, load_settings
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.errors import DsrBotError
from dsr_bot.logs import setup_logging
from dsr_bot.services import labels
from dsr_bot.services import staff as accounts

ACTOR = "cli"


def _settings(ctx: click.Context) -> Settings:
    settings = load_settings(ctx.obj)
    setup_logging(settings.logging.level, settings.logging.format)
    return settings


def _since(value: str | None) -> datetime | None:
    """The start of that day in Europe/Amsterdam, the day staff saw on the console."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-01",
            param_hint="--since",
        ) from None
    return datetime.combine(day, time(0), AMSTERDAM)


def _write(path: Path, text: str) -> None:
    # Pseudonymised, but still what real people wrote: readable by the owner only.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise DsrBotError(f"cannot write {path}: {exc.strerror}") from None


@click.group("corrections")
def corrections() -> None:
    """Label corrections staff made on the console."""


@corrections.command("export")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to this file (mode 0600) instead of standard output.",
)
@click.option(
    "--since",
    metavar="YYYY-MM-DD",
    default=None,
    help="Only corrections made on or after this day.",
)
@click.pass_context
def export(ctx: click.Context, out: Path | None, since: str | None) -> None:
    """Write the corrections as JSON lines in the corpus's raw format.

    One line per corrected case (its latest correction): {"id", "text", "labels", "lang",
    "style"}, the text being the message the classifier read, with e-mail addresses, phone
    numbers, IBANs, postcodes, addresses and names replaced by placeholders. Review the lines
    before adding them to nlp_models/corpus/raw/ (see nlp_models/README.md).
    """
    settings = _settings(ctx)
    start = _since(since)
    now = datetime.now(UTC)

    async def go(session: AsyncSession) -> labels.Export:
        found = await labels.training_examples(session, since=start)
        text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in found.examples)
        accounts.audit(
            session,
            now,
            ACTOR,
            "corrections_exported",
            count=len(found.examples),
            skipped=found.skipped,
            since=since,
        )
        # Written before the commit: a failed write leaves no audit entry claiming an export.
        if out is not None:
            _write(out, text)
        else:
            click.echo(text, nl=False)
        return found

    found = in_transaction(settings, go, migrate_first=True)
    where = str(out) if out is not None else "standard output"
    count = len(found.examples)
    click.echo(f"{count} correction{'' if count == 1 else 's'} written to {where}", err=True)
    if found.skipped:
        click.echo(f"{found.skipped} skipped: the message is gone (erased or purged)", err=True)
