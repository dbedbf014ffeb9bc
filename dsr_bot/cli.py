"""The `dsr-bot` command."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from dsr_bot import (
    __version__,
    cli_accountability,
    cli_casework,
    cli_check_id,
    cli_corrections,
    cli_deadlines,
    cli_identity,
    cli_nlp,
    cli_staff,
    cli_templates,
)
from dsr_bot.cli_support import in_transaction
from dsr_bot.config import Settings, load_settings
from dsr_bot.domain.deadlines import compute_deadlines
from dsr_bot.errors import DsrBotError
from dsr_bot.logs import setup_logging
from dsr_bot.nlp.entities import extract_entities
from dsr_bot.store import migrate, queries
from dsr_bot.store.engine import create_engine
from dsr_bot.store.tables import CaseRow

DISCLAIMER = "Dates are computed by dsr-bot to help plan the work; they are not legal advice."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML settings file [default: $DSR_BOT_CONFIG or ./dsr-bot.toml, if present].",
)
@click.version_option(__version__, prog_name="dsr-bot")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """dsr-bot: handles GDPR/AVG requests that arrive by e-mail and chat."""
    ctx.obj = config_path


def _settings(ctx: click.Context) -> Settings:
    settings = load_settings(ctx.obj)
    setup_logging(settings.logging.level, settings.logging.format)
    return settings


@cli.command()
@click.option(
    "--no-console",
    is_flag=True,
    help="Do not serve the staff console (nor /healthz and /metrics) from this process.",
)
@click.option(
    "--no-smtp-intake", is_flag=True, help="Do not listen for mail over SMTP in this process."
)
@click.pass_context
def run(ctx: click.Context, no_console: bool, no_smtp_intake: bool) -> None:
    """Run intake, pipeline and outbox in one process until SIGTERM or Ctrl-C.

    Several workers may run on one PostgreSQL database with the same settings: one reads each
    mailbox, all deliver mail and share the sweeps. Extra workers on one host need their own
    console address (DSR_BOT_CONSOLE_ADDR) or --no-console, and --no-smtp-intake when intake
    listens; see docs/deployment.md.
    """
    from dsr_bot import app

    settings = _settings(ctx)
    changes: dict[str, Any] = {}
    if no_console:
        changes["console"] = settings.console.model_copy(update={"enabled": False})
    if no_smtp_intake:
        changes["smtp_intake"] = settings.smtp_intake.model_copy(update={"enabled": "off"})
    asyncio.run(app.run(settings.model_copy(update=changes) if changes else settings))


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply database migrations (dsr-bot run also does this at start)."""
    settings = _settings(ctx)

    async def go() -> tuple[str | None, str | None]:
        engine = create_engine(settings.database.url.get_secret_value())
        try:
            return await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    before, after = asyncio.run(go())
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database migrated from {before or 'empty'} to {after}")


@cli.group()
def cases() -> None:
    """Look at cases."""


def _case_summary(case: CaseRow, settings: Settings) -> dict[str, Any]:
    # From today's settings (holidays may have been added since), and the days paused.
    due = compute_deadlines(
        case.received_at,
        promise_weeks=settings.profiles[case.profile].promise_weeks,
        paused_days=case.paused_days,
        extra_holidays=settings.deadlines.holiday_dates,
    )
    return {
        "reference": case.reference,
        "state": case.state,
        "kinds": case.kinds or ["unclassified"],
        "scores": case.scores or {},
        "confidence": case.confidence,
        "classified_by": case.classified_by,
        "channel": case.channel,
        "language": case.language,
        "identity": case.identity_state,
        "received_at": case.received_at.isoformat(),
        "promise_due": due.promise.isoformat(),
        "legal_due": due.legal.isoformat(),
        "paused_since": case.paused_since.isoformat() if case.paused_since else None,
    }


@cases.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--state", type=click.Choice(["triage", "open", "closed"]), help="Only this state.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.pass_context
def cases_list(ctx: click.Context, as_json: bool, state: str | None, limit: int) -> None:
    """List the newest cases."""
    settings = _settings(ctx)
    rows = in_transaction(settings, lambda s: queries.list_cases(s, state=state, limit=limit))
    summaries = [_case_summary(r, settings) for r in rows]
    if as_json:
        click.echo(json.dumps(summaries, indent=2, ensure_ascii=False))
        return
    if not summaries:
        click.echo("no cases")
        return
    click.echo(f"{'REFERENCE':<16}{'STATE':<8}{'KINDS':<22}{'RECEIVED':<12}{'ANSWER BY':<12}LEGAL")
    for c in summaries:
        click.echo(
            f"{c['reference']:<16}{c['state']:<8}{','.join(c['kinds']):<22}"
            f"{c['received_at'][:10]:<12}{c['promise_due']:<12}{c['legal_due']}"
        )
    click.echo(DISCLAIMER)


@cases.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def cases_show(ctx: click.Context, reference: str, as_json: bool) -> None:
    """Show one case: requester, messages, events and outgoing mail."""
    settings = _settings(ctx)
    detail = in_transaction(settings, lambda s: queries.case_detail(s, reference.strip().upper()))
    case = detail.case
    data = _case_summary(case, settings) | {
        "requester": case.requester,
        "requester_name": case.requester_name,
        "subject": case.subject,
        "messages": [
            {
                "id": m.id,
                "received_at": m.received_at.isoformat(),
                "subject": m.subject,
                "attachments": m.attachments,
                "defects": m.defects,
                # Found on display, not stored: no second copy of personal data to erase.
                "found": [
                    {"kind": e.kind, "field": e.field, "value": e.value or e.text}
                    for e in extract_entities(m.body)
                    if e.kind != "bsn"  # stored text is masked; never show one anyway
                ],
            }
            for m in detail.messages
        ],
        "events": [
            {"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "detail": e.detail}
            for e in detail.events
        ],
        "outbox": [
            {
                "id": o.id,
                "kind": o.kind,
                "status": o.status,
                "attempts": o.attempts,
                "subject": o.subject,
            }
            for o in detail.outbox
        ],
    }
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"{data['reference']}  [{data['state']}]  {', '.join(data['kinds'])}")
    if data["scores"]:
        top = sorted(data["scores"].items(), key=lambda kv: -kv[1])[:4]
        click.echo(
            "Labels:    "
            + ", ".join(f"{label} {score:.2f}" for label, score in top)
            + f" (confidence {data['confidence']:.2f}, {data['classified_by']})"
        )
    name = f"{data['requester_name']} " if data["requester_name"] else ""
    click.echo(f"From:      {name}<{data['requester']}>")
    click.echo(f"Subject:   {data['subject']}")
    click.echo(f"Received:  {data['received_at']} via {data['channel']} ({data['language']})")
    click.echo(f"Identity:  {data['identity']}")
    click.echo(
        f"Answer by: {data['promise_due']} (our promise), {data['legal_due']} (legal deadline)"
    )
    if data["paused_since"]:
        click.echo(f"           clock paused since {data['paused_since']}: the dates move on")
    click.echo(f"           {DISCLAIMER}")
    click.echo("\nMessages:")
    for m in data["messages"]:
        extra = f", {len(m['attachments'])} attachment(s)" if m["attachments"] else ""
        click.echo(f"  #{m['id']} {m['received_at']}  {m['subject']}{extra}")
        for e in m["found"]:
            field = f" -> {e['field']}" if e["field"] else ""
            click.echo(f"      {e['kind']}{field}: {e['value']}")
    click.echo("\nEvents:")
    for e in data["events"]:
        click.echo(f"  {e['at']}  {e['actor']:<10} {e['kind']}  {json.dumps(e['detail'])}")
    click.echo("\nOutgoing:")
    for o in data["outbox"] or [
        {"id": "-", "kind": "none", "status": "", "attempts": 0, "subject": ""}
    ]:
        click.echo(
            f"  {o['id']} {o['kind']} {o['status']} (attempts {o['attempts']}) {o['subject']}"
        )


@cli.group()
def messages() -> None:
    """Look at incoming messages, including quarantined and ignored ones."""


@messages.command("list")
@click.option(
    "--route",
    "routes",
    multiple=True,
    type=click.Choice(["new_case", "added_to_case", "ignored", "quarantined"]),
    help="Only these routes (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.pass_context
def messages_list(ctx: click.Context, routes: tuple[str, ...], as_json: bool, limit: int) -> None:
    """List the newest incoming messages and what became of them."""
    settings = _settings(ctx)
    rows = in_transaction(settings, lambda s: queries.list_messages(s, routes=routes, limit=limit))
    data: list[dict[str, Any]] = [
        {
            "id": m.id,
            "source": m.source,
            "external_id": m.external_id,
            "received_at": m.received_at.isoformat(),
            "route": m.route,
            "reason": m.reason,
            "sender": m.sender,
            "subject": m.subject,
        }
        for m in rows
    ]
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if not data:
        click.echo("no messages")
    for m in data:
        reason = f"  ({m['reason']})" if m["reason"] else ""
        click.echo(
            f"#{m['id']:<6} {m['received_at'][:19]}  {m['route']:<14} {m['subject'][:60]}{reason}"
        )


cli.add_command(cli_nlp.train)
cli.add_command(cli_nlp.classify)
cli.add_command(cli_nlp.eval_)
cli.add_command(cli_deadlines.deadline)
for _command in (
    cli_casework.assign,
    cli_casework.pause,
    cli_casework.resume,
    cli_casework.extend,
    cli_casework.refuse,
    cli_casework.close,
):
    cases.add_command(_command)
cli.add_command(cli_casework.drafts)
cli.add_command(cli_casework.purge)
cli.add_command(cli_accountability.erasures)
cli.add_command(cli_accountability.register_)
cli.add_command(cli_check_id.check_id)
cli.add_command(cli_identity.identity_group)
cli.add_command(cli_staff.staff_group)
cli.add_command(cli_corrections.corrections)
cli.add_command(cli_templates.templates_group)


def main() -> None:
    try:
        # Without standalone mode click returns a command's ctx.exit(code) instead of exiting.
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DsrBotError as exc:
        click.echo(f"dsr-bot: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(code, int) and code:
        sys.exit(code)
