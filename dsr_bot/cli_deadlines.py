"""Deadline and accountability commands: `dsr-bot deadline` (more follow in this module)."""

from __future__ import annotations

import json
from datetime import date, datetime, time

import click

from dsr_bot.config import load_settings
from dsr_bot.domain.deadlines import AMSTERDAM, compute_deadlines
from dsr_bot.errors import DsrBotError


def parse_received(value: str) -> datetime:
    """A date (the Amsterdam receipt date itself), or a datetime: with an offset it is converted
    to Amsterdam; without one it is taken as Amsterdam local time."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(12), tzinfo=AMSTERDAM)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise DsrBotError(
            f"--received: not a date or datetime: {value!r} "
            "(use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM])"
        ) from None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=AMSTERDAM)


@click.command()
@click.option(
    "--received",
    required=True,
    help="When the request arrived: YYYY-MM-DD, or a datetime such as 2026-03-05T23:30:00+00:00.",
)
@click.option(
    "--paused-days",
    type=click.IntRange(0, 3650),
    default=0,
    show_default=True,
    help="Days the clock stood still while waiting for identity information.",
)
@click.pass_context
def deadline(ctx: click.Context, received: str, paused_days: int) -> None:
    """Print the due dates of a request received then, as JSON.

    legal_due: one month (Art. 12(3)); extended_due: three months, if an extension is announced
    within the first month; promised_due: the organisation's own promise. Ends on a weekend or a
    Dutch public holiday move to the next working day.
    """
    settings = load_settings(ctx.obj)
    due = compute_deadlines(
        parse_received(received),
        promise_weeks=settings.profiles["default"].promise_weeks,
        paused_days=paused_days,
        extra_holidays=settings.deadlines.holiday_dates,
    )
    click.echo(
        json.dumps(
            {
                "legal_due": due.legal.isoformat(),
                "extended_due": due.legal_extended.isoformat(),
                "promised_due": due.promise.isoformat(),
            }
        )
    )
