"""The JSON log format: one object per line with the agreed keys, and as quiet as the text log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsr_bot.config import load_settings
from dsr_bot.errors import ConfigError
from dsr_bot.logs import setup_logging

QUIETENED = ("imapclient", "httpx", "httpcore", "telegram", "aiosmtpd", "mail.log", "sqlalchemy")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Tests call `setup_logging` themselves (its handler writes to the stderr capsys reads
    during the test); the root logger and the quietened libraries are restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in QUIETENED}
    try:
        yield
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, value in levels.items():
            logging.getLogger(name).setLevel(value)


def records(err: str) -> list[dict[str, Any]]:
    lines = [line for line in err.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # fails on any line that is not JSON


@pytest.mark.usefixtures("restore_logging")
def test_a_record_is_one_json_object_with_time_level_logger_message_and_extras(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("DEBUG", "json")
    logging.getLogger("dsr_bot.pipeline").info(
        "case %s opened", "AVG-2026-0001", extra={"mailbox": "info", "batch": 3}
    )
    [entry] = records(capsys.readouterr().err)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "dsr_bot.pipeline"
    assert entry["message"] == "case AVG-2026-0001 opened"
    assert entry["mailbox"] == "info" and entry["batch"] == 3
    assert entry["time"].endswith("+00:00")  # UTC, ISO 8601
    assert set(entry) == {"time", "level", "logger", "message", "mailbox", "batch"}


@pytest.mark.usefixtures("restore_logging")
def test_a_traceback_and_a_multi_line_message_stay_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("DEBUG", "json")
    log = logging.getLogger("dsr_bot.outbox")
    try:
        raise ValueError("relay said no")
    except ValueError:
        log.exception("sending failed")
    log.warning("first line\nsecond line")
    err = capsys.readouterr().err
    failed, warned = records(err)
    assert len(err.strip().splitlines()) == 2
    assert failed["level"] == "ERROR"
    assert "Traceback" in failed["exception"] and "ValueError: relay said no" in failed["exception"]
    assert warned["message"] == "first line\nsecond line"


@pytest.mark.usefixtures("restore_logging")
def test_library_chatter_stays_quiet_in_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG", "json")  # as `dsr-bot run` does, at its most talkative
    token = "123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr"
    # httpx logs every request URL at INFO, and a Bot API URL holds the token.
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot%s/x", token)
    logging.getLogger("imapclient").info("< FETCH 1 (BODY[] {42} Van: jan@example.nl)")
    logging.getLogger("aiosmtpd").info("mail from jan@example.nl")
    logging.getLogger("httpx").warning("connection pool is full")
    err = capsys.readouterr().err
    assert token not in err and "jan@example.nl" not in err
    [entry] = records(err)
    assert entry["logger"] == "httpx" and entry["message"] == "connection pool is full"


def test_the_format_is_a_setting_with_an_environment_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./dsr-bot.toml
    assert load_settings(env={}).logging.format == "text"
    assert load_settings(env={"DSR_BOT_LOG_FORMAT": "json"}).logging.format == "json"
    config = tmp_path / "other.toml"
    config.write_text('[logging]\nformat = "json"\n')
    assert load_settings(config, env={}).logging.format == "json"
    with pytest.raises(ConfigError, match=r"logging\.format"):
        load_settings(env={"DSR_BOT_LOG_FORMAT": "xml"})
