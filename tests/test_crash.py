"""Killing the bot with SIGKILL loses no message and creates no duplicate case.

Two tests: one kill in the middle of a batch of 1,000 messages already waiting, and a crash soak,
kills at random (seeded) moments while mail keeps arriving. The soak runs short in `make test`
(300 messages, 3 kills) and at length in `make soak` (DSR_SOAK=1: 2,000 messages, 20 kills); it
prints its figures, which docs/reliability.md records.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import outbox_mail, request_mail
from tests.faults import SOAK, SOAK_TIMEOUT, report
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


# --- crash soak ---------------------------------------------------------------------------------

SEED = int(os.environ.get("DSR_SOAK_SEED", "20261125"))
SOAK_MESSAGES = 2000 if SOAK else 300
SOAK_KILLS = 20 if SOAK else 3
# Mail arrives over this long, in small groups; the kills fall inside it.
FEED_SECONDS = 150.0 if SOAK else 25.0
FEED_GROUP = 5
# Generous: a loaded 2-core machine may take long to restart; these bound, they do not measure.
RECOVERY_TIMEOUT = 180.0
DRAIN_TIMEOUT = 600.0


class Feeder(threading.Thread):
    """Appends the soak's mail to the mailbox over FEED_SECONDS, whatever the bot is doing."""

    def __init__(self, dovecot: DovecotServer, total: int) -> None:
        super().__init__(name="soak-feeder", daemon=True)
        self.dovecot = dovecot
        self.total = total
        self.appended = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        groups = (self.total + FEED_GROUP - 1) // FEED_GROUP
        pause = FEED_SECONDS / groups
        began = time.monotonic()
        client = None
        try:
            for n, start in enumerate(range(0, self.total, FEED_GROUP)):
                # On a schedule, so a slow append does not stretch the feed.
                if self.stop.wait(max(0.0, began + n * pause - time.monotonic())):
                    return
                raws = [_soak_mail(i) for i in range(start, min(start + FEED_GROUP, self.total))]
                for attempt in range(10):  # the feeder is not what is tested: it retries
                    try:
                        client = client or self.dovecot.client()
                        client.multiappend("INBOX", raws)
                        break
                    except Exception:
                        # Appended twice, a message is the same message: the bot goes by
                        # Message-ID, so a retry changes no figure.
                        client = None
                        if attempt == 9:
                            raise
                        time.sleep(1.0)
                self.appended += len(raws)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.logout()


def _soak_mail(i: int) -> bytes:
    return request_mail(
        sender=f"soak{i}@example.nl",
        subject=f"Verzoek {i}",
        message_id=f"<soak-{i}@example.nl>",
    ).as_bytes()


@dataclass
class SoakFigures:
    sent: int = 0
    stored: int = 0
    lost: int = 0
    cases: int = 0
    duplicate_cases: int = 0
    acks_queued: int = 0
    acks_delivered: int = 0
    duplicate_acks: int = 0
    acks_missing: int = 0
    kills: int = 0
    stored_at_kills: list[int] = field(default_factory=list)
    recovery_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        rec = self.recovery_seconds
        return [
            f"seed {SEED}, {self.seconds:.0f} s in all",
            f"messages sent {self.sent}, stored {self.stored}, lost {self.lost}",
            f"cases {self.cases}, duplicate cases {self.duplicate_cases}",
            f"acknowledgements queued {self.acks_queued}, delivered {self.acks_delivered} "
            f"(files), duplicate deliveries {self.duplicate_acks}, never delivered "
            f"{self.acks_missing}",
            f"kills {self.kills}, messages stored at each kill {self.stored_at_kills}",
            "recovery after each kill (restart to next message stored), s: "
            + ", ".join(f"{r:.2f}" for r in rec),
            f"recovery min {min(rec):.2f} s, median {statistics.median(rec):.2f} s, "
            f"max {max(rec):.2f} s"
            if rec
            else "no recoveries",
        ]


@pytest.mark.timeout(SOAK_TIMEOUT if SOAK else 300)
def test_crash_soak_sigkill_at_random_moments_while_mail_arrives(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    # Kill moments: sorted random points in the feed, so each lands while mail is arriving.
    moments = sorted(rng.uniform(0.05, 0.95) * FEED_SECONDS for _ in range(SOAK_KILLS))
    figures = SoakFigures(sent=SOAK_MESSAGES)
    bot = BotProcess(tmp_path, _config(dovecot))
    feeder = Feeder(dovecot, SOAK_MESSAGES)
    began = time.monotonic()
    feeder.start()
    try:
        bot.start()
        for moment in moments:
            time.sleep(max(0.0, moment - (time.monotonic() - began)))
            bot.signal(signal.SIGKILL)
            bot.wait()
            figures.kills += 1
            figures.stored_at_kills.append(bot.count("messages"))
            figures.recovery_seconds.append(_restart(bot, feeder))
            print(  # progress, for a long run watched on the terminal
                f"kill {figures.kills} at {time.monotonic() - began:.1f} s: "
                f"{figures.stored_at_kills[-1]} stored, {feeder.appended} appended, "
                f"back in {figures.recovery_seconds[-1]:.2f} s",
                flush=True,
            )
        feeder.join(FEED_SECONDS + 120)
        assert feeder.error is None, f"feeding the mailbox failed: {feeder.error!r}"
        assert feeder.appended == SOAK_MESSAGES
        bot.wait_for("messages", SOAK_MESSAGES, timeout=DRAIN_TIMEOUT)
        bot.wait_for("outbox WHERE status = 'sent'", SOAK_MESSAGES, timeout=DRAIN_TIMEOUT)
    finally:
        feeder.stop.set()
        bot.stop()
    figures.seconds = time.monotonic() - began

    subjects = {f"Verzoek {i}" for i in range(SOAK_MESSAGES)}
    stored_ids = {row[0] for row in bot.query("SELECT message_id FROM messages")}
    figures.stored = bot.count("messages")
    figures.lost = sum(
        1 for i in range(SOAK_MESSAGES) if f"<soak-{i}@example.nl>" not in stored_ids
    )
    figures.cases = bot.count("cases")
    case_subjects = [str(row[0]) for row in bot.query("SELECT subject FROM cases")]
    figures.duplicate_cases = len(case_subjects) - len(set(case_subjects))
    figures.acks_queued = bot.count("outbox")
    delivered = [m["Message-ID"] for m in outbox_mail(tmp_path / "var" / "outbox")]
    figures.acks_delivered = len(delivered)
    figures.duplicate_acks = len(delivered) - len(set(delivered))
    queued_ids = {row[0] for row in bot.query("SELECT message_id FROM outbox")}
    figures.acks_missing = len(queued_ids - set(delivered))
    report("crash soak", figures.lines())

    assert figures.kills == SOAK_KILLS
    assert figures.lost == 0
    assert figures.stored == SOAK_MESSAGES
    assert set(case_subjects) == subjects
    assert figures.duplicate_cases == 0
    assert figures.acks_queued == SOAK_MESSAGES  # one acknowledgement per case, queued once
    assert figures.acks_missing == 0
    # At least once: an ack sent but not yet recorded at a kill goes again, so at most one per kill.
    assert figures.duplicate_acks <= figures.kills


def _restart(bot: BotProcess, feeder: Feeder) -> float:
    """Starts the bot again; returns the seconds until it stored a message again (the feed goes
    on until after the last kill, so there is always one to come)."""
    before = bot.count("messages")
    started = time.monotonic()
    bot.start()
    bot.wait_for("messages", min(before + 1, feeder.total), timeout=RECOVERY_TIMEOUT)
    return time.monotonic() - started
