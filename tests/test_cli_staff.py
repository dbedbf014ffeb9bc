"""`dsr-bot staff …`: creating and changing console accounts from the shell."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dsr_bot.cli import cli
from dsr_bot.errors import DsrBotError

PASSWORD = "a long and sound passphrase"


def _config(tmp_path: Path) -> str:
    config = tmp_path / "dsr-bot.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/dsr-bot.db"\n')
    return str(config)


def _run(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    """Exit code and output as `dsr-bot` gives them: a DsrBotError is a one-line message and
    exit status 2 (dsr_bot.cli.main)."""
    result = CliRunner().invoke(cli, ["--config", _config(tmp_path), "staff", *args], input=stdin)
    if isinstance(result.exception, DsrBotError):
        return 2, f"{result.output}dsr-bot: error: {result.exception}"
    return result.exit_code, result.output


def test_an_admin_is_created_with_a_typed_password_and_listed(tmp_path: Path) -> None:
    code, out = _run(
        tmp_path, "add", "Ad@Example.org", "--role", "admin", stdin=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert code == 0, out
    assert "ad@example.org (admin) created" in out and "http://127.0.0.1:8000/" in out
    assert PASSWORD not in out  # the prompt hides it
    code, out = _run(tmp_path, "list")
    assert code == 0 and "ad@example.org" in out and "never" in out


def test_mistakes_get_a_one_line_error_and_no_account(tmp_path: Path) -> None:
    code, out = _run(
        tmp_path, "add", "sam@example.org", "--role", "staff", "--password-stdin", stdin="short\n"
    )
    assert code == 2 and "at least 12 characters" in out and "Traceback" not in out
    code, out = _run(tmp_path, "role", "sam@example.org", "admin")
    assert code == 2 and "no account sam@example.org" in out
    code, out = _run(tmp_path, "list")
    assert "No accounts yet" in out


def test_roles_change_and_a_disabled_account_shows_as_such(tmp_path: Path) -> None:
    for email, role in (("ad@example.org", "admin"), ("sam@example.org", "staff")):
        code, out = _run(
            tmp_path, "add", email, "--role", role, "--password-stdin", stdin=PASSWORD + "\n"
        )
        assert code == 0, out
    assert _run(tmp_path, "role", "sam@example.org", "privacy_officer")[0] == 0
    assert _run(tmp_path, "disable", "sam@example.org")[0] == 0
    code, out = _run(tmp_path, "list")
    line = next(line for line in out.splitlines() if line.startswith("sam@example.org"))
    assert "privacy_officer" in line and "(disabled)" in line
    code, out = _run(tmp_path, "disable", "ad@example.org")
    assert code == 2 and "last active admin" in out
