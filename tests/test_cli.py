"""The dsr-bot command as staff and operators use it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dsr_bot.channels.mime import parse_mail
from dsr_bot.cli import cli
from dsr_bot.domain.inbound import Channel, Quarantined
from dsr_bot.nlp.classifier import MODEL_DIR
from dsr_bot.replies import Replies
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine
from tests.conftest import make_settings, request_mail, trained_classifier

ROOT = Path(__file__).resolve().parent.parent
RECEIVED = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("command", _all_commands(cli), ids=lambda c: " ".join(c) or "dsr-bot")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "dsr-bot.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/dsr-bot.db"\n')
    return config


def _populate(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/dsr-bot.db"

    async def go() -> None:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        from sqlalchemy.ext.asyncio import async_sessionmaker

        pipeline = Pipeline(
            sessions=async_sessionmaker(engine, expire_on_commit=False),
            settings=make_settings(url, tmp_path),
            classifier=trained_classifier(MODEL_DIR),
            replies=Replies(),
            clock=lambda: RECEIVED,
        )
        # Not "U kunt mij bellen op ...": the model takes that as a hint of objection (a known
        # limit, tests/nlp/test_model.py), and this test is about the listing, not the model.
        body = "Ik wil graag inzage in mijn gegevens. Ik ben bereikbaar op 06-12345678."
        raw = request_mail(subject="Inzage graag", body=body).as_bytes()
        await pipeline.ingest(
            [
                parse_mail(raw, source="info", external_id="1:1", received_at=RECEIVED),
                Quarantined(Channel.EMAIL, "info", "1:2", RECEIVED, "no sender address"),
            ]
        )
        await engine.dispose()

    asyncio.run(go())


def test_db_upgrade_migrates_once(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = CliRunner().invoke(cli, ["--config", str(config), "db", "upgrade"])
    second = CliRunner().invoke(cli, ["--config", str(config), "db", "upgrade"])
    assert first.output.startswith("database migrated from empty to ")
    assert second.output.startswith("database is up to date")


def test_cases_list_and_show(tmp_path: Path) -> None:
    _populate(tmp_path)
    config = str(_config(tmp_path))
    listing = CliRunner().invoke(cli, ["--config", config, "cases", "list", "--json"])
    [case] = json.loads(listing.output)
    scores = case.pop("scores")
    assert scores["access"] > 0.7 and len(scores) == 8
    assert case.pop("confidence") > 0.7
    assert case.pop("classified_by").startswith("dsr_bot_requests-")
    assert case == {
        "reference": "AVG-2026-0001",
        "state": "open",
        "kinds": ["access"],
        "channel": "email",
        "language": "nl",
        # An access request: a shielded ID copy was asked for, and the clock waits for it.
        "identity": "copy_requested",
        "received_at": "2026-11-25T09:00:00+00:00",
        "promise_due": "2026-12-23",
        "legal_due": "2026-12-28",
        "paused_since": "2026-11-25",
    }
    table = CliRunner().invoke(cli, ["--config", config, "cases", "list"])
    assert "AVG-2026-0001" in table.output and "not legal advice" in table.output
    shown = CliRunner().invoke(cli, ["--config", config, "cases", "show", "avg-2026-0001"])
    assert shown.exit_code == 0
    assert "Inzage graag" in shown.output
    assert "acknowledgement_queued" in shown.output
    assert re.search(r"^Labels:    access [01]\.\d\d", shown.output, re.M)
    assert "phone: +31612345678" in shown.output
    detail = json.loads(
        CliRunner()
        .invoke(cli, ["--config", config, "cases", "show", "AVG-2026-0001", "--json"])
        .output
    )
    assert [e["kind"] for e in detail["events"]] == [
        "opened",
        "classified",
        "acknowledgement_queued",
        "identity_requested",  # the acknowledgement asked for a shielded ID copy
    ]


def test_messages_list_shows_quarantined_mail_with_its_reason(tmp_path: Path) -> None:
    _populate(tmp_path)
    config = str(_config(tmp_path))
    result = CliRunner().invoke(
        cli, ["--config", config, "messages", "list", "--route", "quarantined", "--json"]
    )
    [message] = json.loads(result.output)
    assert (message["route"], message["reason"]) == ("quarantined", "no sender address")


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dsr_bot", "--config", str(_config(tmp_path)), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )


def test_an_unknown_reference_is_one_clear_line(tmp_path: Path) -> None:
    _populate(tmp_path)
    done = _run(tmp_path, "cases", "show", "AVG-2026-9999")
    assert done.returncode == 2
    assert done.stderr == "dsr-bot: error: no case with reference 'AVG-2026-9999'\n"


def test_reading_an_unmigrated_database_says_what_to_do(tmp_path: Path) -> None:
    done = _run(tmp_path, "cases", "list")
    assert done.returncode == 2
    assert done.stderr == (
        "dsr-bot: error: the database is not migrated yet: run `dsr-bot db upgrade`\n"
    )


def test_case_dates_in_the_cli_count_the_configured_extra_holidays(tmp_path: Path) -> None:
    _populate(tmp_path)
    config = _config(tmp_path)
    # 23 December 2026 is the four-week promise; declared a holiday, the promise moves a day.
    config.write_text(config.read_text() + '[deadlines]\nextra_holidays = ["2026-12-23"]\n')
    listing = CliRunner().invoke(cli, ["--config", str(config), "cases", "list", "--json"])
    [case] = json.loads(listing.output)
    assert case["promise_due"] == "2026-12-24"


def test_a_commands_exit_status_reaches_the_shell(tmp_path: Path) -> None:
    """`classify --jsonl` exits 1 when a line cannot be read, through `dsr-bot` as in a script."""
    done = subprocess.run(
        [sys.executable, "-m", "dsr_bot", "classify", "--jsonl"],
        input='{"id": 1, "text": "Ik wil inzage."}\nnot json\n',
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert len(done.stdout.splitlines()) == 2
