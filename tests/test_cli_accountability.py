"""`dsr-bot erasures` and `dsr-bot register` as a privacy officer uses them."""

from __future__ import annotations

import asyncio
import csv
import io
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.cli_accountability import erasures, register_
from dsr_bot.errors import DsrBotError
from dsr_bot.secret_key import secret_file
from dsr_bot.services import accountability
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine
from dsr_bot.store.tables import CaseRow, MessageRow
from tests.conftest import make_settings
from tests.services.test_accountability import NOW, case_row, message_row, restore_plain_rows


@pytest.fixture(autouse=True)
def _no_secret_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSR_BOT_SECRET_KEY", raising=False)


def _root() -> click.Group:
    from dsr_bot.cli import cli

    if {"erasures", "register"} <= set(cli.commands):
        return cli

    @click.group()
    @click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False))
    @click.pass_context
    def root(ctx: click.Context, config_path: Path | None) -> None:
        ctx.obj = config_path

    root.add_command(erasures)
    root.add_command(register_)
    return root


def _url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/db/dsr-bot.db"


def _invoke(tmp_path: Path, *args: str) -> Result:
    config = tmp_path / "dsr-bot.toml"
    config.write_text(f'[database]\nurl = "{_url(tmp_path)}"\n')
    return CliRunner().invoke(_root(), ["--config", str(config), *args])


def _with_db(tmp_path: Path, fn: Callable[[AsyncSession], Awaitable[None]]) -> None:
    async def go() -> None:
        engine = create_engine(_url(tmp_path))
        try:
            await migrate.upgrade(engine)
            async with async_sessionmaker(engine, expire_on_commit=False).begin() as session:
                await fn(session)
        finally:
            await engine.dispose()

    asyncio.run(go())


def _erase_jan(tmp_path: Path) -> bytes:
    """Jan's closed erasure request and Piet's open one; Jan erased with the installation's key."""
    key = accountability.ledger_key(secret_file(make_settings(_url(tmp_path), tmp_path)))

    async def go(session: AsyncSession) -> None:
        jan = case_row(
            "AVG-2026-0002", "jan@example.nl", decision="erased", closed_at=NOW, state="closed"
        )
        piet = case_row("AVG-2026-0003", "piet@example.nl")
        session.add_all([jan, piet])
        await session.flush()
        session.add_all([message_row("1:1", "jan@example.nl", jan.id)])
        await session.flush()
        await accountability.record_erasure(
            session, key, case=jan, identifiers={"email": ["jan@example.nl"]}, now=NOW, actor="po"
        )

    _with_db(tmp_path, go)
    return key


def test_the_key_lives_next_to_the_sqlite_database_or_in_var(tmp_path: Path) -> None:
    assert secret_file(make_settings(_url(tmp_path), tmp_path)) == tmp_path / "db" / "secret.key"
    postgres = make_settings("postgresql+asyncpg://postgres@127.0.0.1/dsr", tmp_path)
    assert secret_file(postgres) == Path("var/secret.key")


def test_replay_after_a_restore_erases_again_and_only_once(tmp_path: Path) -> None:
    _erase_jan(tmp_path)
    key_file = tmp_path / "db" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    first = _invoke(tmp_path, "erasures", "replay")
    assert first.exit_code == 0, first.output
    assert "Erasure ledger: 1 erased identifier(s)." in first.output
    assert "Nothing to erase again" in first.output

    _with_db(tmp_path, restore_plain_rows)
    second = _invoke(tmp_path, "erasures", "replay")
    assert second.exit_code == 0, second.output
    assert "Erased again: 1 case(s) and 2 message(s)" in second.output
    third = _invoke(tmp_path, "erasures", "replay")
    assert "Nothing to erase again" in third.output

    async def check(session: AsyncSession) -> None:
        requesters = set(await session.scalars(select(CaseRow.requester)))
        senders = set(await session.scalars(select(MessageRow.sender)))
        assert "jan@example.nl" not in requesters and "piet@example.nl" in requesters
        assert senders == {None}

    _with_db(tmp_path, check)
    assert "jan@example.nl" not in first.output + second.output + third.output


def test_replay_refuses_to_run_without_the_key_it_needs(tmp_path: Path) -> None:
    _erase_jan(tmp_path)
    key_file = tmp_path / "db" / "secret.key"
    key_file.unlink()
    result = _invoke(tmp_path, "erasures", "replay")
    assert result.exit_code != 0
    assert isinstance(result.exception, DsrBotError)
    assert "key" in str(result.exception) and "missing" in str(result.exception)
    assert not key_file.exists()  # no new, useless key made


def test_replay_on_an_empty_ledger_creates_the_key(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "erasures", "replay")
    assert result.exit_code == 0, result.output
    assert "Erasure ledger: 0 erased identifier(s)." in result.output
    key_file = tmp_path / "db" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_environment_key_is_used_and_no_file_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSR_BOT_SECRET_KEY", "a secret from the vault")
    _erase_jan(tmp_path)
    _with_db(tmp_path, restore_plain_rows)
    result = _invoke(tmp_path, "erasures", "replay")
    assert result.exit_code == 0, result.output
    assert "Erased again: 1 case(s) and 2 message(s)" in result.output
    assert not (tmp_path / "db" / "secret.key").exists()


def test_erasures_export(tmp_path: Path) -> None:
    empty = _invoke(tmp_path, "erasures", "export")
    assert empty.exit_code == 0 and "ledger is empty" in empty.output
    key = _erase_jan(tmp_path)
    result = _invoke(tmp_path, "erasures", "export", "--csv")
    assert result.exit_code == 0, result.output
    assert list(csv.DictReader(io.StringIO(result.stdout))) == [
        {
            "digest": accountability.digest(key, "email", "jan@example.nl"),
            "kind": "email",
            "reference": "AVG-2026-0002",
            "erased_at": NOW.isoformat(),
        }
    ]
    table = _invoke(tmp_path, "erasures", "export")
    assert table.output.splitlines()[0].split() == ["DIGEST", "KIND", "REFERENCE", "ERASED_AT"]
    assert "AVG-2026-0002" in table.output and "1 erased identifier(s)." in table.output


def test_register_export(tmp_path: Path) -> None:
    empty = _invoke(tmp_path, "register", "export")
    assert empty.exit_code == 0 and "No requests" in empty.output
    _erase_jan(tmp_path)
    result = _invoke(tmp_path, "register", "export", "--csv")
    assert result.exit_code == 0, result.output
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert tuple(reader.fieldnames or ()) == accountability.REGISTER_COLUMNS
    rows = list(reader)
    assert [(r["reference"], r["decision"], r["closed"], r["on_time"]) for r in rows] == [
        ("AVG-2026-0002", "erased", "2027-01-15", "no"),
        ("AVG-2026-0003", "", "", "open"),
    ]
    assert "example.nl" not in result.stdout
    table = _invoke(tmp_path, "register", "export")
    assert table.exit_code == 0, table.output
    assert table.output.splitlines()[0].split()[:3] == ["REFERENCE", "KINDS", "RECEIVED"]
    assert "2 request(s): 0 answered on time, 1 late, 1 still open." in table.output


@pytest.mark.parametrize("command", [("erasures",), ("erasures", "replay"), ("register", "export")])
def test_help(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(_root(), [*command, "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output
