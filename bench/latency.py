"""APPEND-to-acknowledgement latency while the bot idles on the mailbox (IMAP IDLE)."""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.botrun import maildir_count
from bench.corpus import request
from bench.progress import say
from tests.servers.dovecot import DovecotServer

POLL = 0.005
GAP = 0.3  # between an acknowledgement appearing and the next APPEND
TIMEOUT = 10.0  # per sample


@dataclass
class LatencyResult:
    db: str
    samples: int
    missed: int  # no acknowledgement within TIMEOUT
    p50_s: float
    p95_s: float
    max_s: float
    samples_s: list[float]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: a value that was actually measured, never an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def measure(
    server: DovecotServer, outbox_new: Path, *, db: str, samples: int, stop: threading.Event
) -> LatencyResult:
    """Blocking: run it in a thread, so the bot keeps the event loop to itself.

    `stop` ends it early: a cancelled to_thread() call does not stop its thread, and
    asyncio.run() waits for that thread before it returns.
    """
    rng = random.Random(7)
    base = maildir_count(outbox_new)
    times: list[float] = []
    missed = 0
    client = server.client(timeout=30)
    try:
        for i in range(samples):
            if stop.is_set():
                break
            raw = request(i, tag="latency", rng=rng)
            client.append("INBOX", raw)
            start = time.perf_counter()
            # Expect base + i + 1 files: a late acknowledgement of a missed sample must not
            # end the next sample early.
            while maildir_count(outbox_new) < base + i + 1:
                if time.perf_counter() - start > TIMEOUT:
                    missed += 1
                    break
                if stop.wait(POLL):
                    break
            times.append(time.perf_counter() - start)
            if (i + 1) % 10 == 0:
                say(f"  latency: {i + 1}/{samples} samples, last {times[-1] * 1000:.0f} ms")
            stop.wait(GAP)
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    return LatencyResult(
        db=db,
        samples=len(times),
        missed=missed,
        p50_s=percentile(times, 0.50),
        p95_s=percentile(times, 0.95),
        max_s=max(times),
        samples_s=[round(t, 4) for t in times],
    )
