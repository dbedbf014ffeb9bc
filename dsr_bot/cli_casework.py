"""Staff actions from the command line: `dsr-bot cases assign|pause|resume|extend|refuse|close`,
`dsr-bot drafts list|show|approve|discard` and `dsr-bot purge`. `--by` names who acts; every action
goes to the case's event log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.cli_support import in_transaction
from dsr_bot.config import Settings, load_settings
from dsr_bot.replies import Replies
from dsr_bot.secret_key import secret_file
from dsr_bot.services import casework, retention
from dsr_bot.services.accountability import ledger_key
from dsr_bot.services.casework import Actor
from dsr_bot.store.engine import create_engine
from dsr_bot.store.tables import DraftRow

BY = click.option("--by", "by", required=True, help="Your staff e-mail address (for the log).")


def _settings(ctx: click.Context) -> Settings:
    return load_settings(ctx.obj)


def _now() -> datetime:
    return datetime.now(UTC)


@click.command()
@click.argument("reference")
@click.argument("assignee")
@BY
@click.pass_context
def assign(ctx: click.Context, reference: str, assignee: str, by: str) -> None:
    """Make ASSIGNEE (an e-mail address) responsible: reminders go to them too."""
    actor = Actor(by)
    case = in_transaction(
        _settings(ctx), lambda s: casework.assign(s, reference, assignee, actor, _now())
    )
    click.echo(f"{case.reference} assigned to {case.assignee}")


@click.command()
@click.argument("reference")
@BY
@click.pass_context
def pause(ctx: click.Context, reference: str, by: str) -> None:
    """Stop the clock while waiting for identity information you asked for."""
    settings, actor = _settings(ctx), Actor(by)
    case = in_transaction(settings, lambda s: casework.pause(s, reference, actor, _now(), settings))
    click.echo(f"{case.reference}: clock paused since {case.paused_since}")


@click.command()
@click.argument("reference")
@BY
@click.pass_context
def resume(ctx: click.Context, reference: str, by: str) -> None:
    """Start the clock again; the due dates move by the days it stood still."""
    settings, actor = _settings(ctx), Actor(by)
    case = in_transaction(
        settings, lambda s: casework.resume(s, reference, actor, _now(), settings)
    )
    click.echo(
        f"{case.reference}: clock running; answer by {case.promise_due} (our promise), "
        f"{case.legal_due} (legal deadline)"
    )


def _draft_command(name: str, kind: str, doc: str) -> click.Command:
    @click.command(name=name, help=doc)
    @click.argument("reference")
    @click.option("--reason", required=True, help="Why, in words the person will read.")
    @BY
    @click.pass_context
    def command(ctx: click.Context, reference: str, reason: str, by: str) -> None:
        settings, actor = _settings(ctx), Actor(by)
        draft = in_transaction(
            settings,
            lambda s: casework.draft_notice(
                s,
                reference,
                kind,
                reason,
                actor,
                _now(),
                settings,
                Replies.from_settings(settings),
            ),
        )
        click.echo(
            f"draft {draft.id} written; someone else approves it: "
            f"dsr-bot drafts approve {draft.id} --by EMAIL"
        )

    return command


extend = _draft_command(
    "extend",
    "extension_notice",
    "Draft an extension notice (two more months; only within the first month).",
)
refuse = _draft_command(
    "refuse",
    "refusal_notice",
    "Draft a notice (Article 12(4)) that the request is not acted on: why, and the AP route.",
)


@click.command()
@click.argument("reference")
@click.option("--decision", type=click.Choice(casework.DECISIONS), required=True)
@BY
@click.pass_context
def close(ctx: click.Context, reference: str, decision: str, by: str) -> None:
    """Close a case with its decision ("erased" also records it in the erasure ledger)."""
    settings, actor = _settings(ctx), Actor(by)
    key = ledger_key(secret_file(settings)) if decision == "erased" else None
    case = in_transaction(
        settings,
        lambda s: casework.close(s, reference, decision, actor, _now(), ledger_key=key),
    )
    click.echo(f"{case.reference} closed: {case.decision}")


@click.group()
def drafts() -> None:
    """Messages waiting for approval (four eyes)."""


def _draft_line(d: DraftRow) -> str:
    return f"#{d.id:<5} {d.status:<10} {d.kind:<26} case {d.case_id:<6} {d.subject}"


@drafts.command("list")
@click.option("--all", "everything", is_flag=True, help="Also approved and discarded drafts.")
@click.pass_context
def drafts_list(ctx: click.Context, everything: bool) -> None:
    """Drafts waiting for approval."""
    rows = in_transaction(
        _settings(ctx), lambda s: casework.list_drafts(s, None if everything else "draft")
    )
    for row in rows:
        click.echo(_draft_line(row))
    if not rows:
        click.echo("no drafts")


@drafts.command("show")
@click.argument("draft_id", type=int)
@click.pass_context
def drafts_show(ctx: click.Context, draft_id: int) -> None:
    """The draft as it would be sent."""

    async def get(session: AsyncSession) -> DraftRow:
        draft = await session.get(DraftRow, draft_id)
        if draft is None:
            raise casework.CaseworkError(f"no draft {draft_id}")
        return draft

    draft = in_transaction(_settings(ctx), get)
    click.echo(_draft_line(draft))
    click.echo(f"written by {draft.created_by} at {draft.created_at:%Y-%m-%d %H:%M}\n")
    click.echo(f"Subject: {draft.subject}\n\n{draft.body}")


@drafts.command("approve")
@click.argument("draft_id", type=int)
@BY
@click.pass_context
def drafts_approve(ctx: click.Context, draft_id: int, by: str) -> None:
    """Approve and send a draft (not your own)."""
    settings, actor = _settings(ctx), Actor(by)
    draft = in_transaction(
        settings, lambda s: casework.approve(s, draft_id, actor, _now(), settings)
    )
    click.echo(f"draft {draft.id} approved; it is in the outbox (#{draft.outbox_id})")


@drafts.command("discard")
@click.argument("draft_id", type=int)
@BY
@click.pass_context
def drafts_discard(ctx: click.Context, draft_id: int, by: str) -> None:
    """Throw a draft away."""
    actor = Actor(by)
    draft = in_transaction(_settings(ctx), lambda s: casework.discard(s, draft_id, actor, _now()))
    click.echo(f"draft {draft.id} discarded")


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would be removed; remove nothing.")
@click.pass_context
def purge(ctx: click.Context, dry_run: bool) -> None:
    """Remove closed cases (and their messages and log) past the retention period."""
    settings = _settings(ctx)

    async def go() -> retention.PurgeReport:
        engine = create_engine(settings.database.url.get_secret_value())
        try:
            return await retention.purge(
                async_sessionmaker(engine, expire_on_commit=False),
                now=_now(),
                keep_days=settings.retention.closed_case_days,
                chat_days=settings.telegram.conversation_days,
                dry_run=dry_run,
            )
        finally:
            await engine.dispose()

    report = asyncio.run(go())
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"closed before {report.cutoff:%Y-%m-%d}: {verb} {len(report.references)} case(s)"
        + (
            f" ({', '.join(report.references[:20])}{' ...' if len(report.references) > 20 else ''})"
            if report.references
            else ""
        )
    )
    for table, count in sorted(report.rows.items()):
        click.echo(f"  {table}: {count} row(s)")
