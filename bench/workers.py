"""Several workers: 1, 2 and 4 `dsr-bot run` processes on one PostgreSQL and one mailbox.

Each run gets a fresh database and a fresh IMAP folder. The workers are started with one
configuration and left to settle (one reads the folder, the others stand by; every one delivers
mail and runs the sweeps); then the corpus is APPENDed in one go. Measured from the start of the
APPEND until every case has its acknowledgement queued ("acknowledged") and until every
acknowledgement is in the shared Maildir ("delivered"), with the machine's CPU use over that
window. The same messages in every run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.databases import database
from bench.progress import say
from tests.servers.dovecot import DovecotServer

RESULTS = Path(__file__).resolve().parent / "results" / "workers.json"
ROOT = Path(__file__).resolve().parent.parent
COUNTS = (1, 2, 4)
POLL = 0.01
START_TIMEOUT = 120.0


@dataclass
class WorkersRun:
    workers: int
    messages: int
    append_s: float  # the APPEND of the whole corpus
    acked_s: float | None  # APPEND started -> every case acknowledged (queued); None: not in time
    delivered_s: float | None  # APPEND started -> every acknowledgement in the Maildir
    per_s: float  # messages / acked_s (0 when incomplete)
    delivered_per_s: float
    cpu_busy: float  # both CPUs' busy share over the window, 0..1
    reader_cpu_s: float  # CPU of the worker reading the mailbox over the window (its own process)
    others_cpu_s: float  # CPU of the other workers together (their own processes)
    others_delivered: int  # acknowledgements the other workers delivered
    cases: int
    acks: int  # acknowledgement rows in the outbox: one per case
    delivered: int  # files in the Maildir
    runs_per_s: list[float] = field(default_factory=list)


@dataclass
class WorkersBench:
    messages: int
    load_before: tuple[float, float, float]
    runs: list[WorkersRun] = field(default_factory=list)


class _Worker:
    def __init__(self, workdir: Path, config: Path, console: bool) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "dsr-bot.log"
        options = [] if console else ["--no-console"]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DSR_BOT_CONSOLE_ADDR": "127.0.0.1:0",
            "DSR_BOT_SECRET_KEY": "dsr-bot bench: not a real secret",
        }
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dsr_bot", "--config", str(config), "run", *options],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def reads(self) -> bool:
        return "imap info: logged in" in self.log()

    def cpu_s(self) -> float:
        """User and system CPU of the process itself (not its classifier worker)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def delivered(self) -> int:
        return self.log().count(" delivered (acknowledgement)")

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait_or_kill(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _config(url: str, shared: Path, imap_url: str) -> str:
    return f"""
[database]
url = "{url}"
[mail]
outbox_maildir = "{shared}/outbox"
[identity]
storage_dir = "{shared}/id-copies"
[console]
template_overrides = "{shared}/templates"
[staff]
daily_digest = false
[[mailboxes]]
name = "info"
imap_url = "{imap_url}"
"""


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


async def _ready(workers: list[_Worker]) -> None:
    """Every worker running, one of them reading the folder (and settled into IDLE)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        logs = [w.log() for w in workers]
        if all("dsr-bot running" in log for log in logs) and any(w.reads() for w in workers):
            break
        for worker in workers:
            if worker.proc.poll() is not None:
                raise RuntimeError(f"a worker exited at start:\n{worker.log()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not start in time")
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)


async def _counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        cases = await conn.scalar(text("SELECT count(*) FROM cases"))
        acks = await conn.scalar(text("SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'"))
    return int(cases or 0), int(acks or 0)


def _maildir_count(new: Path) -> int:
    try:
        return len(os.listdir(new))
    except FileNotFoundError:
        return 0


async def run_once(
    server: DovecotServer, workdir: Path, corpus: list[bytes], count: int, folder: str
) -> WorkersRun:
    messages = len(corpus)
    shared = workdir / "shared"
    shared.mkdir(parents=True)
    await asyncio.to_thread(_create_folder, server, folder)
    async with database("postgres", workdir) as url:
        config = workdir / "dsr-bot.toml"
        config.write_text(_config(url, shared, server.imap_url(folder)))
        workers: list[_Worker] = []
        engine = create_async_engine(url)
        try:
            workers = [_Worker(workdir / f"w{n}", config, console=n == 0) for n in range(count)]
            await _ready(workers)
            busy0, total0 = _cpu_times()
            cpu0 = [w.cpu_s() for w in workers]
            t0 = time.perf_counter()
            await asyncio.to_thread(server.append_many, corpus, folder=folder)
            appended = time.perf_counter() - t0
            acked_at = delivered_at = None
            deadline = t0 + max(120.0, messages / 10)
            cases = acks = 0
            outbox_new = shared / "outbox" / "new"
            while time.perf_counter() < deadline and delivered_at is None:
                if acked_at is None:
                    cases, acks = await _counts(engine)
                    if acks >= messages:
                        acked_at = time.perf_counter() - t0
                if acked_at is not None and _maildir_count(outbox_new) >= messages:
                    delivered_at = time.perf_counter() - t0
                await asyncio.sleep(POLL)
            busy1, total1 = _cpu_times()
            cpu = [w.cpu_s() - c for w, c in zip(workers, cpu0, strict=True)]
            cases, acks = await _counts(engine)
            reader = [w.reads() for w in workers]
        finally:
            await engine.dispose()
            for worker in workers:
                worker.terminate()
            for worker in workers:
                await asyncio.to_thread(worker.wait_or_kill, 60)
        delivered = _maildir_count(shared / "outbox" / "new") + _maildir_count(
            shared / "outbox" / "cur"
        )
    return WorkersRun(
        workers=count,
        messages=messages,
        append_s=appended,
        acked_s=acked_at,
        delivered_s=delivered_at,
        per_s=messages / acked_at if acked_at else 0.0,
        delivered_per_s=messages / delivered_at if delivered_at else 0.0,
        cpu_busy=(busy1 - busy0) / max(1, total1 - total0),
        reader_cpu_s=sum(c for c, r in zip(cpu, reader, strict=True) if r),
        others_cpu_s=sum(c for c, r in zip(cpu, reader, strict=True) if not r),
        others_delivered=sum(w.delivered() for w, r in zip(workers, reader, strict=True) if not r),
        cases=cases,
        acks=acks,
        delivered=delivered,
    )


def _create_folder(server: DovecotServer, folder: str) -> None:
    client = server.client()
    try:
        client.create_folder(folder)
    finally:
        client.logout()


def median(runs: list[WorkersRun]) -> WorkersRun:
    """The median run by rate (the slower middle one for an even count); incomplete ones show."""
    ordered = sorted(runs, key=lambda r: r.per_s)
    chosen = ordered[(len(ordered) - 1) // 2]
    if any(r.acked_s is None for r in runs):
        chosen = next(r for r in ordered if r.acked_s is None)
    return dataclasses.replace(chosen, runs_per_s=[r.per_s for r in runs])


async def measure(
    server: DovecotServer, workdir: Path, corpus: list[bytes], repeat: int
) -> WorkersBench:
    load = os.getloadavg()
    bench = WorkersBench(messages=len(corpus), load_before=(load[0], load[1], load[2]))
    for count in COUNTS:
        runs = []
        for attempt in range(1, repeat + 1):
            say(f"workers: {count} worker(s), run {attempt}/{repeat}")
            run = await run_once(
                server, workdir / f"w{count}-{attempt}", corpus, count, f"w{count}r{attempt}"
            )
            say(
                f"  {count} worker(s): {run.per_s:.0f} msg/s acknowledged, "
                f"{run.delivered_per_s:.0f} msg/s delivered, CPU {run.cpu_busy:.0%}"
            )
            runs.append(run)
        bench.runs.append(median(runs))
    return bench


def table(bench: WorkersBench) -> str:
    one = next((r.per_s for r in bench.runs if r.workers == 1), 0.0)
    lines = [
        f"Several workers: {bench.messages} messages APPENDed to one mailbox, one PostgreSQL "
        f"(load average before: {', '.join(f'{v:.2f}' for v in bench.load_before)})",
        "",
        "| workers | acknowledged | vs 1 worker | delivered | CPU busy (2 CPUs) | CPU s: reader "
        "/ others | delivered by others | runs (msg/s) | cases / acks / mails |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in bench.runs:
        ratio = f"{r.per_s / one:.2f}" if one else "-"
        acked = f"**{r.per_s:.0f} msg/s** ({r.acked_s:.2f} s)" if r.acked_s else "incomplete"
        delivered = (
            f"{r.delivered_per_s:.0f} msg/s ({r.delivered_s:.2f} s)" if r.delivered_s else "-"
        )
        rates = ", ".join(f"{v:.0f}" for v in r.runs_per_s)
        lines.append(
            f"| {r.workers} | {acked} | {ratio} | {delivered} | {r.cpu_busy:.0%} "
            f"| {r.reader_cpu_s:.2f} / {r.others_cpu_s:.2f} | {r.others_delivered} | {rates} "
            f"| {r.cases} / {r.acks} / {r.delivered} |"
        )
    return "\n".join(lines)


def write_json(bench: WorkersBench, path: Path = RESULTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dataclasses.asdict(bench), indent=2) + "\n")
    return path
