"""The SMTP relay is down for a while (five minutes in `make soak`, seconds in `make test`):
acknowledgements wait in the outbox and are all delivered once it is back, none twice."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dsr_bot.domain.cases import RequestKind
from dsr_bot.store.tables import OutboxRow
from tests.conftest import FixedClassifier, imap_settings, running_bot
from tests.faults import SOAK, SOAK_TIMEOUT, at_least, report, request_raws, rows
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_relay import SmtpRelay, free_port

pytestmark = pytest.mark.dovecot

DOWN_SECONDS = 300.0 if SOAK else 3.0
REQUESTS = 200 if SOAK else 20
# The outbox's doubling retry delay, capped: after an outage of D seconds, delivery resumes
# within this long (the default cap is 15 minutes; an operator lowers it to recover sooner).
RETRY_MAX = 30.0 if SOAK else 1.0


@pytest.mark.timeout(SOAK_TIMEOUT if SOAK else 120)
async def test_acknowledgements_wait_for_the_relay_and_go_once(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    port = free_port()
    settings = imap_settings(f"sqlite+aiosqlite:///{tmp_path}/dsr-bot.db", tmp_path, dovecot)
    mail = {
        "smtp_url": f"smtp://127.0.0.1:{port}",
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": RETRY_MAX,
        "max_attempts": 1000,  # an outage is not a reason to give up
        "outbox_maildir": str(tmp_path / "outbox"),
    }
    settings = settings.model_copy(update={"mail": settings.mail.model_validate(mail)})
    relay = SmtpRelay(port)  # not started: the relay is down
    classifier = FixedClassifier(RequestKind.ACCESS)

    async def attempts() -> int:
        async with bot.sessions() as s:
            return int(await s.scalar(select(func.min(OutboxRow.attempts))) or 0)

    async with running_bot(settings, classifier=classifier) as bot:
        down_at = time.monotonic()
        await asyncio.to_thread(dovecot.append_many, request_raws(REQUESTS, "relay"))
        await at_least(lambda: rows(bot, OutboxRow), REQUESTS, within=120)
        # Every acknowledgement was tried and failed at least twice while the relay was down.
        await at_least(attempts, 2, within=60)
        await asyncio.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))
        tried = await attempts()
        relay.start()
        up_at = time.monotonic()
        try:
            await at_least(
                lambda: rows(bot, OutboxRow, OutboxRow.status == "sent"), REQUESTS, within=300
            )
            recovery = time.monotonic() - up_at
            # Anything sent twice would have come by now: every row is recorded as sent.
            await asyncio.sleep(1.0)
        finally:
            relay.stop()
        failed = await rows(bot, OutboxRow, OutboxRow.status == "failed")

    ids = Counter(m["Message-ID"] for m in relay.received)
    twice = sum(n - 1 for n in ids.values())
    report(
        "SMTP relay down",
        [
            f"relay down {up_at - down_at:.0f} s in all "
            f"({DOWN_SECONDS:.0f} s asked), {REQUESTS} acknowledgements waiting",
            f"attempts per acknowledgement while down: at least {tried}",
            f"delivered {len(relay.received)}, distinct {len(ids)}, twice {twice}, "
            f"failed for good {failed}",
            f"recovery (relay up to every acknowledgement delivered) {recovery:.1f} s",
        ],
    )
    assert len(ids) == REQUESTS
    assert twice == 0
    assert failed == 0
    recipients = {to for _, tos in relay.envelopes for to in tos}
    assert recipients == {f"relay{i}@example.nl" for i in range(REQUESTS)}
