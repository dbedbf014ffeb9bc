"""`dsr-bot identity …`: what staff type to look at an ID copy and record their verdict."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.ext.asyncio import async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.cli import cli
from dsr_bot.domain.cases import RequestKind
from dsr_bot.errors import DsrBotError
from dsr_bot.replies import Replies
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.services.identity_sweep import IdentityWorker
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine
from tests.conftest import FixedClassifier, make_settings, request_mail
from tests.identity.cards import FIELDS, Transform, draw_card, encode, random_person

REF = "AVG-2026-0001"
NOW = datetime.now(UTC)
CARD = encode(draw_card(random_person(random.Random(7), "TD3"), FIELDS), Transform("plain"))


def _config(tmp_path: Path) -> str:
    config = tmp_path / "dsr-bot.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/dsr-bot.db"\n'
        f'[identity]\nstorage_dir = "{tmp_path}/id-copies"\n'
    )
    return str(config)


def _populate(tmp_path: Path, kind: RequestKind = RequestKind.ACCESS) -> None:
    """An access request, and a reply with a shielded copy that passed the automatic check."""
    url = f"sqlite+aiosqlite:///{tmp_path}/dsr-bot.db"

    async def go() -> None:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        settings = make_settings(url, tmp_path)
        desk = IdentityDesk.from_settings(settings, Replies())
        pipeline = Pipeline(
            sessions=sessions,
            settings=settings,
            classifier=FixedClassifier(kind),
            replies=Replies(),
            identity=desk,
            clock=lambda: NOW,
        )
        first = request_mail()
        second = request_mail(subject=f"Re: {REF}", body="Hierbij mijn kopie.")
        second.add_attachment(CARD, maintype="image", subtype="png", filename="id.png")
        for n, msg in enumerate((first, second), 1):
            item = parse_mail(msg.as_bytes(), source="info", external_id=f"1:{n}", received_at=NOW)
            await pipeline.ingest([item])
        await IdentityWorker(sessions=sessions, desk=desk).check_pending()
        await engine.dispose()

    asyncio.run(go())


def _copies(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "id-copies").glob("*"))


def test_staff_list_view_and_verify_and_the_copy_is_gone(tmp_path: Path) -> None:
    _populate(tmp_path)
    config = _config(tmp_path)
    run = CliRunner()
    listing = run.invoke(cli, ["--config", config, "identity", "list"])
    assert listing.exit_code == 0, listing.output
    assert REF in listing.output and "copy_received" in listing.output

    viewed = run.invoke(cli, ["--config", config, "identity", "view", REF, "--by", "bob@x.nl"])
    assert viewed.exit_code == 0
    assert viewed.stdout_bytes == CARD
    assert len(_copies(tmp_path)) == 1

    verified = run.invoke(
        cli,
        [
            "--config",
            config,
            "identity",
            "verify",
            REF,
            "--document",
            "id_card",
            "--by",
            "bob@x.nl",
        ],
    )
    assert verified.exit_code == 0, verified.output
    assert "identity verified (id_card); ID copies deleted" in verified.output
    assert _copies(tmp_path) == []

    again = run.invoke(
        cli,
        [
            "--config",
            config,
            "identity",
            "verify",
            REF,
            "--document",
            "id_card",
            "--by",
            "bob@x.nl",
        ],
    )
    assert isinstance(again.exception, DsrBotError)  # main() prints it as one line, exit 2
    assert "verified already" in str(again.exception)
    shown = json.loads(run.invoke(cli, ["--config", config, "cases", "show", REF, "--json"]).output)
    assert shown["identity"] == "verified"
    kinds = [(e["kind"], e["actor"]) for e in shown["events"]]
    assert ("identity_copy_viewed", "bob@x.nl") in kinds
    assert ("identity_verified", "bob@x.nl") in kinds
    assert "no case is waiting" in run.invoke(cli, ["--config", config, "identity", "list"]).output


def test_staff_errors_are_one_line(tmp_path: Path) -> None:
    _populate(tmp_path)
    config = _config(tmp_path)
    run = CliRunner()
    bad_document = run.invoke(
        cli, ["--config", config, "identity", "verify", REF, "--document", "bus", "--by", "a@x.nl"]
    )
    assert bad_document.exit_code == 2 and "'bus' is not one of" in bad_document.output
    no_reason = run.invoke(cli, ["--config", config, "identity", "waive", REF, "--by", "a@x.nl"])
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    unknown = run.invoke(
        cli,
        [
            "--config",
            config,
            "identity",
            "reject",
            "AVG-2026-0999",
            "--reason",
            "x",
            "--by",
            "a@x.nl",
        ],
    )
    assert isinstance(unknown.exception, DsrBotError)
    assert "no case with reference" in str(unknown.exception)
    rejected = run.invoke(
        cli,
        ["--config", config, "identity", "reject", REF, "--reason", "expired", "--by", "a@x.nl"],
    )
    assert rejected.exit_code == 0 and _copies(tmp_path) == []
    asked = run.invoke(cli, ["--config", config, "identity", "request", REF, "--by", "a@x.nl"])
    assert asked.exit_code == 0 and "ID copy requested" in asked.output
