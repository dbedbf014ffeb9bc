"""Operations, end to end: `dsr-bot run` with JSON logs, /healthz and /metrics over real HTTP,
and the IMAP watcher's state as they report it."""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dsr_bot.app import Bot
from dsr_bot.domain.cases import RequestKind
from dsr_bot.store.tables import CaseRow
from tests.conftest import (
    FixedClassifier,
    count_rows,
    eventually,
    imap_settings,
    request_mail,
    running_bot,
)
from tests.process import BotProcess
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_relay import free_port

BSN = "111222333"  # passes the elfproef
BODY = f"Graag inzage in mijn gegevens. Mijn BSN is {BSN}. Vriendelijke groet, Jan"


def figures(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def json_records(log: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.splitlines() if line.strip()]


def console_url(bot: BotProcess, within: float = 30) -> str:
    """From the JSON log: the console's address (its port is chosen at start)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for record in json_records(bot.log()):
            if str(record["message"]).startswith("console on http://"):
                return str(record["message"]).removeprefix("console on ")
        assert bot.proc is not None and bot.proc.poll() is None, bot.log()
        time.sleep(0.05)
    raise AssertionError(f"no console line: {bot.log()}")


def test_run_logs_json_and_serves_healthz_and_metrics(tmp_path: Path) -> None:
    port = free_port()
    bot = BotProcess(
        tmp_path,
        f"[smtp_intake]\nport = {port}\n\n[classifier]\nenabled = false\n",
        env={"DSR_BOT_LOG_FORMAT": "json"},
    )
    bot.start()
    try:
        url = console_url(bot)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(request_mail(body=BODY))
        bot.wait_for("outbox WHERE status = 'sent'", 1, timeout=10)
        with httpx.Client(base_url=url, timeout=10) as client:
            health = client.get("/healthz")
            scraped = client.get("/metrics")
    finally:
        assert bot.stop() == 0
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    assert health.json()["loops"]["outbox"] == "running"
    assert scraped.status_code == 200
    found = figures(scraped.text)
    assert found[("dsr_bot_cases", (("state", "triage"),))] == 1  # no classifier: triage
    assert found[("dsr_bot_outbox_pending", (("channel", "email"),))] == 0
    assert found[("dsr_bot_loop_up", (("loop", "outbox"),))] == 1

    records = json_records(bot.log())  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    messages = [r["message"] for r in records]
    assert any(m.startswith("dsr-bot running") for m in messages)
    assert messages[-1] == "dsr-bot stopped"
    log = bot.log()
    assert BSN not in log and "Graag inzage" not in log and "jan@example.nl" not in log


async def _health(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/healthz")
    found: dict[str, Any] = response.json()
    return response.status_code, found


async def _console_up(bot: Bot) -> bool:
    await asyncio.sleep(0)
    return bot.console_server is not None and bot.console_server.port != 0


@pytest.mark.dovecot
async def test_healthz_and_metrics_follow_the_imap_watcher(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path
) -> None:
    settings = imap_settings(sqlite_url, tmp_path, dovecot)
    classifier = FixedClassifier(RequestKind.OBJECTION)
    async with running_bot(settings, classifier=classifier) as bot:
        watcher = bot.watchers[0]
        await eventually(lambda: asyncio.sleep(0, watcher.connected.is_set()))
        await eventually(lambda: _console_up(bot))
        assert bot.console_server is not None
        async with httpx.AsyncClient(base_url=bot.console_server.url, timeout=10) as client:
            status, body = await _health(client)
            assert status == 200
            assert body["loops"]["imap-info"] == "connected"
            assert body["loops"]["outbox"] == "running"

            await asyncio.to_thread(dovecot.append, request_mail().as_bytes())
            await eventually(lambda: _has_case(bot))
            found = figures((await client.get("/metrics")).text)
            assert found[("dsr_bot_imap_connected", (("mailbox", "info"),))] == 1
            assert found[("dsr_bot_cases", (("state", "open"),))] == 1
            assert ("dsr_bot_imap_lag_seconds", (("mailbox", "info"),)) in found
            assert ("dsr_bot_imap_last_stored_timestamp_seconds", (("mailbox", "info"),)) in found

            # The server goes away: the watcher reconnects, and the bot is still healthy.
            await asyncio.to_thread(dovecot.stop)
            await eventually(lambda: asyncio.sleep(0, not watcher.connected.is_set()))
            status, body = await _health(client)
            assert status == 200
            assert body["loops"]["imap-info"] == "reconnecting"
            found = figures((await client.get("/metrics")).text)
            assert found[("dsr_bot_imap_connected", (("mailbox", "info"),))] == 0
            assert found[("dsr_bot_loop_up", (("loop", "imap-info"),))] == 1


async def _has_case(bot: Bot) -> bool:
    return await count_rows(bot, CaseRow) == 1
