"""Killing the bot with SIGKILL mid-batch loses no message and creates no duplicate case."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import outbox_mail, request_mail
from tests.process import BotProcess
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.dovecot

TOTAL = 1000


def _config(dovecot: DovecotServer) -> str:
    return f"""
[mail]
retry_initial_seconds = 0.2
delivery_lease_seconds = 2
[[mailboxes]]
name = "info"
imap_url = "{dovecot.imap_url()}"
batch_size = 20
"""


def test_sigkill_during_a_batch_loses_nothing_and_duplicates_nothing(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    dovecot.append_many(
        request_mail(sender=f"p{i}@example.nl", subject=f"Verzoek {i}").as_bytes()
        for i in range(TOTAL)
    )
    bot = BotProcess(tmp_path, _config(dovecot))
    bot.start()
    try:
        bot.wait_for("messages", 1)
        time.sleep(0.1)
        bot.signal(signal.SIGKILL)
        bot.wait()
    finally:
        bot.stop()
    stored_at_kill = bot.count("messages")
    assert 0 < stored_at_kill < TOTAL, "the kill must land mid-way to test anything"

    with bot:
        bot.wait_for("messages", TOTAL)
        bot.wait_for("outbox WHERE status = 'sent'", TOTAL)
    assert bot.count("messages") == TOTAL
    assert bot.count("cases") == TOTAL
    assert bot.query("SELECT count(DISTINCT subject) FROM cases") == [(TOTAL,)]
    assert bot.count("outbox") == TOTAL  # one acknowledgement per case, queued once
    # Delivery is at least once: an ack written just before the kill may go again, same Message-ID.
    delivered = {m["Message-ID"] for m in outbox_mail(tmp_path / "var" / "outbox")}
    assert len(delivered) == TOTAL
