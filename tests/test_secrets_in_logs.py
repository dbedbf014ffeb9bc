"""No password, token or key reaches the log, even when every connection that uses one fails.

The whole bot runs with logging set up as `dsr-bot run` does it, at DEBUG (its most talkative),
in both formats, while the IMAP server refuses the password and the OAuth2 token, the relay
cannot take the relay password, and the Telegram API is unreachable. The error paths are where
a library's exception text could carry a URL with credentials in it. The database password is
checked through the command line, where a wrong database ends the start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from dsr_bot.logs import LogFormat, setup_logging
from tests.conftest import eventually, make_settings, request_mail, running_bot
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_relay import SmtpRelay, free_port

ROOT = Path(__file__).resolve().parent.parent

# Distinct enough that finding one in a log line cannot be chance.
IMAP_PASSWORD = "imap-Pw-7Kq2x/+"
OAUTH2_TOKEN = "ya29.oauth-Tk-3Lm8"
SMTP_PASSWORD = "smtp-Pw-9Zx4v"
TELEGRAM_SECRET = "AAH-tg-Secret-5Rt1w"
SECRET_KEY = "deployment-Key-8Hj6q"
METRICS_TOKEN = "metrics-Tk-6Bv3n"
DATABASE_PASSWORD = "db-Pw-2Wn5e"
SECRETS = (
    IMAP_PASSWORD,
    OAUTH2_TOKEN,
    SMTP_PASSWORD,
    TELEGRAM_SECRET,
    SECRET_KEY,
    METRICS_TOKEN,
)


def _forms(secret: str) -> set[str]:
    """The secret as it may be written: as it is, and percent-encoded in a URL."""
    return {secret, quote(secret, safe=""), quote(secret)}


@pytest.fixture
def bot_logging() -> Iterator[None]:
    """Whatever setup_logging changes on the root and library loggers is put back afterwards."""
    root = logging.getLogger()
    saved_root = root.handlers[:], root.level
    manager = logging.Logger.manager
    levels = {
        name: logger.level
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    try:
        yield
    finally:
        root.handlers[:], level = saved_root
        root.setLevel(level)
        for name, logger in manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.setLevel(levels.get(name, logging.NOTSET))


def _send(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(request_mail())


@pytest.mark.dovecot
@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_no_secret_reaches_the_log_when_every_connection_fails(
    fmt: LogFormat,
    dovecot: DovecotServer,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    bot_logging: None,
) -> None:
    monkeypatch.setenv("DSR_BOT_SECRET_KEY", SECRET_KEY)
    server = f"{dovecot.host}:{dovecot.port}"
    with SmtpRelay() as relay:  # offers no AUTH: the relay password cannot be used
        settings = make_settings(
            sqlite_url,
            tmp_path,
            mailboxes=[
                {
                    "name": "info",
                    "imap_url": f"imap://{dovecot.user}:{quote(IMAP_PASSWORD, safe='')}@{server}/",
                    "reconnect_max_seconds": 0.5,
                },
                {
                    "name": "brand",
                    "imap_url": f"imap://{dovecot.user}@{server}/",
                    "auth": "xoauth2",
                    "oauth2_token": OAUTH2_TOKEN,
                    "reconnect_max_seconds": 0.5,
                },
            ],
            mail={"smtp_url": f"smtp://relay:{SMTP_PASSWORD}@127.0.0.1:{relay.port}"},
            smtp_intake={"enabled": "on"},
            console={"metrics_token": METRICS_TOKEN},
            telegram={
                "token": f"123456:{TELEGRAM_SECRET}",
                "api_url": f"http://127.0.0.1:{free_port()}",  # nothing listens there
                "poll_timeout_seconds": 1,
            },
        )
        setup_logging("DEBUG", fmt)  # as `dsr-bot run` sets it up, at its most talkative
        log: list[str] = []

        async def every_path_failed() -> bool:
            log.append(capsys.readouterr().err)
            text = "".join(log)
            return all(
                part in text
                for part in (
                    "imap info:",
                    "imap brand:",
                    "reconnecting (attempt 2)",
                    "not delivered",
                    "telegram:",
                )
            )

        async with running_bot(settings) as bot:
            assert bot.intake is not None
            await asyncio.to_thread(_send, bot.intake.port)
            await eventually(every_path_failed, within=20)
        assert relay.received == []
    log.append(capsys.readouterr().err)
    text = "".join(log)
    assert "dsr-bot running" in text
    for secret in SECRETS:
        for form in _forms(secret):
            assert form not in text, f"{secret!r} is in the log"


def test_a_database_password_is_not_shown_when_the_database_cannot_be_reached(
    tmp_path: Path,
) -> None:
    config = tmp_path / "dsr-bot.toml"
    config.write_text('[logging]\nlevel = "DEBUG"\n\n[smtp_intake]\nenabled = "off"\n')
    url = f"postgresql+asyncpg://dsr:{DATABASE_PASSWORD}@127.0.0.1:{free_port()}/dsr"
    done = subprocess.run(
        [sys.executable, "-m", "dsr_bot", "--config", str(config), "run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DSR_BOT_DATABASE_URL": url},
        timeout=120,
    )
    assert done.returncode != 0
    assert "database" in done.stderr
    assert DATABASE_PASSWORD not in done.stdout + done.stderr
