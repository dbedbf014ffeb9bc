"""`python -m bench`: the phases in order, with Dovecot and the bot stopped on any exit.

Order: the ID-copy check (it needs no server; `--only id-check` stops there); the console's
case list with 10,000 cases (no server either; `--only console` runs it alone); fill the INBOX
once; bare fetch (its warm-up also warms Dovecot's index cache for the bot); one ingest run per
database, each into a fresh database so the bot reads the mailbox from UID 1 (`--only ingest`
runs the phases from the INBOX fill up to here); the latency phase reuses the last ingest's
bot, already idling. The last run is SQLite when it is measured, so the latency figure is that
of the default store, and its APPENDs cannot end up in another run's INBOX. Last, several
workers: 1, 2 and 4 `dsr-bot run` processes on PostgreSQL, each run into a folder of its own
(`--only workers` runs it alone; bench/results/workers.json).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from bench import bare, classifier, console, id_check, ingest, latency, sweep, workers
from bench.botrun import running
from bench.corpus import requests
from bench.databases import database, postgres_problem
from bench.progress import say
from bench.report import Results, machine_facts, table, write_json
from dsr_bot.logs import setup_logging
from tests.servers.dovecot import DovecotServer


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--messages", type=int, default=1000, help="ingest corpus size")
    parser.add_argument("--samples", type=int, default=50, help="latency samples")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--repeat", type=int, default=3, help="ingest runs per database; the median is reported"
    )
    parser.add_argument(
        "--only",
        choices=("id-check", "console", "ingest", "workers"),
        help="run this phase alone and print its rows (bench/results/latest.json is kept); "
        "ingest: the bare fetch and the ingest runs, without the latency phase",
    )
    args = parser.parse_args(argv)
    if args.messages < 1 or args.samples < 1 or args.repeat < 1:
        parser.error("--messages, --samples and --repeat must be at least 1")
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    # Outside the event loop too, TERM must unwind through the finally that stops Dovecot.
    signal.signal(signal.SIGTERM, _interrupt)
    setup_logging("WARNING")
    started = time.perf_counter()
    results = Results(options=vars(args), machine=machine_facts())
    if args.only is None or args.only == "id-check":
        say(f"ID-copy check: {id_check.PEOPLE * id_check.TRANSFORMS_EACH * 5} cards, one at a time")
        results.id_check = id_check.measure()
        say(f"  ID-copy check: p95 {results.id_check.p95_s:.2f} s")
    if args.only == "id-check":
        results.wall_s = time.perf_counter() - started
        print(table(results), flush=True)
        return 0
    # The console's figures are printed and written on their own (bench/results/console.json).
    console_bench = (
        asyncio.run(console.measure(args.db)) if args.only in (None, "console") else None
    )
    if args.only == "console":
        assert console_bench is not None
        print(console.table(console_bench), flush=True)
        say(f"results written to {console.write_json(console_bench)}")
        return 0
    # Short path: Dovecot's unix sockets live below it (sun_path is 108 bytes).
    workdir = Path(tempfile.mkdtemp(prefix="dsrb-", dir="/tmp"))
    server = DovecotServer(workdir / "dovecot")
    workers_bench = None
    try:
        say(f"starting Dovecot in {workdir}")
        server.start()
        if args.only != "workers":
            asyncio.run(_run(server, workdir, args, results))
        if args.only in (None, "workers"):
            workers_bench = asyncio.run(_workers(server, workdir, args, results))
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("interrupted; cleaning up, no results written")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # clean-up is bounded: let it finish
        say("stopping Dovecot")
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    results.wall_s = time.perf_counter() - started
    if args.only != "workers":
        print(table(results), flush=True)
    if workers_bench is not None:
        print("\n" + workers.table(workers_bench), flush=True)
        say(f"results written to {workers.write_json(workers_bench)}")
    if console_bench is None:  # --only ingest or workers: one phase, latest.json is kept
        return 0
    print("\n" + console.table(console_bench), flush=True)
    say(f"results written to {write_json(results)} and {console.write_json(console_bench)}")
    return 0


async def _workers(
    server: DovecotServer, workdir: Path, args: argparse.Namespace, results: Results
) -> workers.WorkersBench | None:
    """Several `dsr-bot run` processes; PostgreSQL only (several workers need it)."""
    if problem := await postgres_problem():
        say(f"skipping several workers: {problem}")
        results.notes.append(f"several workers skipped: {problem}")
        return None
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    corpus = requests(args.messages, tag="worker")
    return await workers.measure(server, workdir / "workers", corpus, args.repeat)


async def _run(
    server: DovecotServer, workdir: Path, args: argparse.Namespace, results: Results
) -> None:
    main_task = asyncio.current_task()
    assert main_task is not None
    # SIGTERM unwinds like Ctrl-C: the bot, the PostgreSQL database and Dovecot get cleaned up.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)

    if args.only != "ingest":
        say("classifier: load, latency and throughput in a fresh process")
        results.classifier = await asyncio.to_thread(classifier.measure)
        say(f"  classifier: {results.classifier.pipe_per_s:.0f} msg/s with nlp.pipe")

        say(f"deadline sweep: {sweep.CASES:,} open cases per database in a fresh process (1-2 min)")
        results.sweep = await asyncio.to_thread(sweep.measure, args.db)
        for run in results.sweep.runs:
            say(f"  sweep, {run.db}: steady state {run.steady_s:.3f} s, first {run.first_s:.1f} s")

    dbs = ["postgres", "sqlite"] if args.db == "both" else [args.db]
    if "postgres" in dbs and (problem := await postgres_problem()):
        say(f"skipping PostgreSQL: {problem}")
        results.notes.append(f"PostgreSQL row skipped: {problem}")
        dbs.remove("postgres")
    if not dbs:
        return

    say(f"appending {args.messages} messages (distinct senders) to INBOX")
    corpus = requests(args.messages, tag="person")
    await asyncio.to_thread(server.append_many, corpus)

    say("bare imapclient fetch: 1 warm-up + 3 timed runs, then 3 with MIME parsing")
    results.bare = await asyncio.to_thread(bare.measure, server)
    say(f"  bare: {results.bare.per_s:.0f} msg/s")

    for kind in dbs:
        runs = []
        for attempt in range(1, args.repeat + 1):
            last = kind == dbs[-1] and attempt == args.repeat and args.only != "ingest"
            runs.append(await _ingest_once(server, workdir, args, results, kind, attempt, last))
        results.ingest.append(ingest.median(runs))
    results.ingest.sort(key=lambda r: r.db != "sqlite")  # SQLite row first


async def _ingest_once(
    server: DovecotServer,
    workdir: Path,
    args: argparse.Namespace,
    results: Results,
    kind: str,
    attempt: int,
    last: bool,
) -> ingest.IngestResult:
    """One ingest into a fresh database; the very last one goes on to the latency phase."""
    dir_ = workdir / f"{kind}-{attempt}"
    say(f"ingest on {kind}, run {attempt}/{args.repeat}: starting the bot")
    async with database(kind, dir_) as url:
        t_build = time.perf_counter()
        async with running(server, url, dir_) as bot:
            run = await ingest.measure(bot, db=kind, messages=args.messages, t_build=t_build)
            say(f"  {kind}: {run.per_s_from_connected:.0f} msg/s from watcher connected")
            if last:
                say(f"latency on {kind}: {args.samples} APPENDs, one at a time")
                await asyncio.sleep(1.0)  # let the watcher settle into IDLE
                stop = threading.Event()
                try:
                    results.latency = await asyncio.to_thread(
                        latency.measure,
                        server,
                        bot.outbox_new,
                        db=kind,
                        samples=args.samples,
                        stop=stop,
                    )
                finally:
                    stop.set()  # on cancellation: the thread must not outlive the bot
        say(f"  {kind}: bot stopped")
    return run
