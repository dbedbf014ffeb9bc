"""Staff commands for identity: `dsr-bot identity list|request|verify|reject|waive|view`.

`--by` names who acts; every action goes to the case's event log. Verifying, rejecting or
waiving deletes every stored ID copy of the case.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dsr_bot.cli_support import in_transaction
from dsr_bot.config import Settings, load_settings
from dsr_bot.domain.deadlines import AMSTERDAM
from dsr_bot.domain.identity import SATISFIED, DocumentType
from dsr_bot.errors import DsrBotError
from dsr_bot.replies import Replies
from dsr_bot.services import identity
from dsr_bot.services.casework import Actor
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.store.tables import CaseRow, IdCopyRow

BY = click.option("--by", "by", required=True, help="Your staff e-mail address (for the log).")
REASON = click.option("--reason", required=True, help="Why; kept in the case log.")


def _settings(ctx: click.Context) -> Settings:
    return load_settings(ctx.obj)


def _desk(settings: Settings) -> IdentityDesk:
    return IdentityDesk.from_settings(settings, Replies.from_settings(settings))


def _now() -> datetime:
    return datetime.now(UTC)


@click.group("identity")
def identity_group() -> None:
    """Proof of identity: ask for it, look at ID copies, record the verdict."""


@identity_group.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Open cases whose identity is not established yet, with copies waiting for review."""
    settings = _settings(ctx)

    async def go(session: AsyncSession) -> list[tuple[CaseRow, int]]:
        waiting = select(IdCopyRow.case_id, func.count().label("n")).where(
            IdCopyRow.status == "review"
        )
        counts = dict(
            (int(case_id), int(n))
            for case_id, n in await session.execute(waiting.group_by(IdCopyRow.case_id))
        )
        cases = await session.scalars(
            select(CaseRow)
            .where(
                CaseRow.state != "closed",
                CaseRow.identity_state.not_in([s.value for s in SATISFIED]),
            )
            .order_by(CaseRow.id)
        )
        return [(case, counts.get(case.id, 0)) for case in cases]

    rows = in_transaction(settings, go)
    if not rows:
        click.echo("no case is waiting for identity")
        return
    click.echo(f"{'REFERENCE':<16}{'IDENTITY':<16}{'ASKED ON':<12}COPIES TO REVIEW")
    for case, copies in rows:
        asked = case.identity_requested_at
        day = asked.astimezone(AMSTERDAM).date().isoformat() if asked else "-"
        click.echo(f"{case.reference:<16}{case.identity_state:<16}{day:<12}{copies}")


@identity_group.command()
@click.argument("reference")
@click.option("--reason", default="", help="Told to the person: why you ask.")
@BY
@click.pass_context
def request(ctx: click.Context, reference: str, reason: str, by: str) -> None:
    """Ask the person for a shielded ID copy; the request is sent at once and the clock stops."""
    settings, actor = _settings(ctx), Actor(by)
    desk = _desk(settings)
    case = in_transaction(
        settings,
        lambda s: identity.request_copy(s, desk, reference, actor.who, _now(), reason=reason),
    )
    click.echo(f"{case.reference}: ID copy requested; clock paused since {case.paused_since}")


@identity_group.command()
@click.argument("reference")
@click.option(
    "--document",
    required=True,
    type=click.Choice([d.value for d in DocumentType]),
    help="The kind of document that showed who the person is.",
)
@BY
@click.pass_context
def verify(ctx: click.Context, reference: str, document: str, by: str) -> None:
    """Identity verified: record it, delete every ID copy of the case, restart the clock."""
    settings, actor = _settings(ctx), Actor(by)
    desk = _desk(settings)
    case = in_transaction(
        settings, lambda s: identity.verify(s, desk, reference, document, actor.who, _now())
    )
    click.echo(f"{case.reference}: identity verified ({document}); ID copies deleted")


@identity_group.command()
@click.argument("reference")
@REASON
@BY
@click.pass_context
def reject(ctx: click.Context, reference: str, reason: str, by: str) -> None:
    """The copy does not establish identity: delete it; then `request` again or close."""
    settings, actor = _settings(ctx), Actor(by)
    desk = _desk(settings)
    case = in_transaction(
        settings, lambda s: identity.reject(s, desk, reference, reason, actor.who, _now())
    )
    click.echo(f"{case.reference}: identity rejected; ID copies deleted")


@identity_group.command()
@click.argument("reference")
@REASON
@BY
@click.pass_context
def waive(ctx: click.Context, reference: str, reason: str, by: str) -> None:
    """No proof of identity needed for this case after all."""
    settings, actor = _settings(ctx), Actor(by)
    desk = _desk(settings)
    case = in_transaction(
        settings, lambda s: identity.waive(s, desk, reference, reason, actor.who, _now())
    )
    click.echo(f"{case.reference}: identity check waived")


@identity_group.command()
@click.argument("reference")
@BY
@click.pass_context
def view(ctx: click.Context, reference: str, by: str) -> None:
    """Write the ID copy waiting for review to standard output (pipe it to a viewer); logged.

    Example: dsr-bot identity view AVG-2026-0042 --by you@example.nl | display -
    """
    if sys.stdout.isatty():
        raise DsrBotError("the copy is an image: pipe it to a viewer (… | display -)")
    settings, actor = _settings(ctx), Actor(by)
    desk = _desk(settings)
    row, data = in_transaction(
        settings, lambda s: identity.view_copy(s, desk, reference, actor.who, _now())
    )
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    click.echo(f"copy #{row.id} ({row.content_type}, {row.size} bytes)", err=True)
