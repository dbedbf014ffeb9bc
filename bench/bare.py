"""The floor: the same messages fetched by a bare imapclient loop, nothing done with them.

Two loops, because "a bare imapclient loop" can mean either:
- per message: one FETCH per message, as a simple poller would write it;
- batched: FETCH of 100 messages at a time, as the bot does: the wire's own speed on loopback.
A third figure adds the bot's MIME parsing (raw_to_item) to the batched loop: the most the bot's
IMAP side could do with no storage cost at all, which puts the ratios in context.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from imapclient import IMAPClient

from dsr_bot.channels.intake import raw_to_item
from tests.servers.dovecot import DovecotServer

BATCH = 100  # the bot's default batch_size (MailboxSettings.batch_size)


@dataclass
class BareResult:
    messages: int
    bytes: int
    runs_s: list[float]  # after one untimed warm-up run
    median_s: float
    per_s: float
    parse_runs_s: list[float]  # the same loop plus raw_to_item on every message
    parse_per_s: float
    loop_runs_s: list[float]  # one FETCH per message
    loop_per_s: float


def _once(server: DovecotServer, *, parse: bool, batch: int = BATCH) -> tuple[float, int, int]:
    """Seconds from connect to the last FETCH answer (and parse), messages, bytes."""
    start = time.perf_counter()
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=30)
    try:
        client.login(server.user, server.password)
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        count = size = 0
        now = datetime.now(UTC)
        for first in range(0, len(uids), batch):
            fetched = client.fetch(uids[first : first + batch], ["BODY.PEEK[]"])
            count += len(fetched)
            for uid, data in fetched.items():
                raw = data[b"BODY[]"]
                size += len(raw)
                if parse:
                    raw_to_item(raw, source="bench", external_id=str(uid), received_at=now)
        seconds = time.perf_counter() - start
    finally:
        client.logout()
    return seconds, count, size


def measure(server: DovecotServer, repeats: int = 3) -> BareResult:
    """Blocking. The warm-up builds Dovecot's index cache, which the bot then also finds warm."""
    _once(server, parse=False)
    runs = [_once(server, parse=False) for _ in range(repeats)]
    parsed = [_once(server, parse=True)[0] for _ in range(repeats)]
    loop = [_once(server, parse=False, batch=1)[0] for _ in range(repeats)]
    messages = runs[0][1]
    median = statistics.median(r[0] for r in runs)
    return BareResult(
        messages=messages,
        bytes=runs[0][2],
        runs_s=[r[0] for r in runs],
        median_s=median,
        per_s=messages / median,
        parse_runs_s=parsed,
        parse_per_s=messages / statistics.median(parsed),
        loop_runs_s=loop,
        loop_per_s=messages / statistics.median(loop),
    )
