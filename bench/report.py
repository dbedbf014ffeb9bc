"""The results: a Markdown table for people, JSON (bench/results/latest.json) for comparison."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import classifier, id_check, sweep
from bench.bare import BareResult
from bench.ingest import IngestResult
from bench.latency import LatencyResult

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"

# The acceptance targets; reported, never asserted.
INGEST_MIN_PER_S = 200.0
RATIO_MIN = 0.3
P95_MAX_S = 2.0

_DB_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass
class Results:
    options: dict[str, Any]
    machine: dict[str, Any]
    bare: BareResult | None = None
    ingest: list[IngestResult] = field(default_factory=list)
    latency: LatencyResult | None = None
    classifier: classifier.ClassifierResult | None = None
    sweep: sweep.SweepBench | None = None
    id_check: id_check.IdCheckBench | None = None
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def _command(*argv: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError as exc:
        return f"unavailable ({exc.strerror})"
    return done.stdout.strip() or done.stderr.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_facts() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "dovecot": _command("dovecot", "--version"),
        "sqlite": sqlite3.sqlite_version,
        "commit": _command("git", "rev-parse", "--short", "HEAD"),
        # Others edit the tree while benches run: say exactly which code was measured.
        "uncommitted": _command("git", "status", "--porcelain", "--", "dsr_bot").splitlines(),
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def verdicts(results: Results) -> dict[str, dict[str, Any]]:
    """The figures the targets are about, with PASS/MISS; the one place the targets are applied."""
    out: dict[str, dict[str, Any]] = {}
    for run in results.ingest:
        rate = run.per_s_from_connected
        out[f"ingest_{run.db}"] = {
            "msg_per_s": rate,
            "status": _verdict(run.complete and rate >= INGEST_MIN_PER_S),
        }
        if results.bare is not None:
            for name, baseline in (
                ("loop", results.bare.loop_per_s),
                ("batched", results.bare.per_s),
            ):
                ratio = rate / baseline
                out[f"ratio_{name}_{run.db}"] = {
                    "ratio": ratio,
                    "status": _verdict(run.complete and ratio >= RATIO_MIN),
                }
    if (lat := results.latency) is not None:
        out[f"latency_{lat.db}"] = {
            "p95_s": lat.p95_s,
            "status": _verdict(not lat.missed and lat.p95_s <= P95_MAX_S),
        }
    if (idc := results.id_check) is not None:
        out["id_check"] = {
            "p95_s": idc.p95_s,
            "status": _verdict(not idc.missing_tools and idc.p95_s <= id_check.P95_MAX_S),
        }
    return out


def table(results: Results) -> str:
    status = {key: v["status"] for key, v in verdicts(results).items()}
    rows = [
        "| Measurement | Result | Target | Status |",
        "|---|---|---|---|",
    ]
    for run in results.ingest:
        detail = (
            f"**{run.per_s_from_connected:.0f} msg/s** ({run.messages} in "
            f"{run.from_connected_s:.2f} s from watcher connected; "
            f"{run.per_s_from_start:.0f} msg/s from serve() start"
            + (
                f"; median of {len(run.runs_per_s)} runs: "
                + ", ".join(f"{r:.0f}" for r in run.runs_per_s)
                if len(run.runs_per_s) > 1
                else ""
            )
            + ")"
        )
        if not run.complete:
            detail += f"; INCOMPLETE: {run.cases} cases, {run.acked} acknowledged"
        rows.append(
            f"| Ingest, {_DB_NAMES[run.db]} | {detail} | >= {INGEST_MIN_PER_S:.0f} msg/s "
            f"| {status[f'ingest_{run.db}']} |"
        )
    if (bare := results.bare) is not None:
        rows.append(
            f"| Bare fetch, one FETCH per message | **{bare.loop_per_s:.0f} msg/s** "
            f"(median of {len(bare.loop_runs_s)}) | - | - |"
        )
        rows.append(
            f"| Bare fetch, batches of 100 (as the bot fetches) | **{bare.per_s:.0f} msg/s** "
            f"({bare.messages} in {bare.median_s:.3f} s, median of {len(bare.runs_s)}) | - | - |"
        )
        rows.append(
            f"| Bare fetch + MIME parse (raw_to_item), for context | {bare.parse_per_s:.0f} msg/s "
            f"(ratio {bare.parse_per_s / bare.per_s:.2f} of bare) | - | - |"
        )
        for run in results.ingest:
            for name, label, baseline in (
                ("loop", "per-message loop", bare.loop_per_s),
                ("batched", "batched fetch", bare.per_s),
            ):
                rows.append(
                    f"| Ratio bot/bare ({label}), {_DB_NAMES[run.db]} "
                    f"| **{run.per_s_from_connected / baseline:.2f}** | >= {RATIO_MIN} "
                    f"| {status[f'ratio_{name}_{run.db}']} |"
                )
    if (lat := results.latency) is not None:
        missed = f", {lat.missed} missed (> 10 s)" if lat.missed else ""
        rows.append(
            f"| APPEND -> ack latency, IDLE, {_DB_NAMES[lat.db]} ({lat.samples} samples{missed}) "
            f"| p50 {lat.p50_s:.3f} s, **p95 {lat.p95_s:.3f} s**, max {lat.max_s:.3f} s "
            f"| p95 <= {P95_MAX_S:.0f} s | {status[f'latency_{lat.db}']} |"
        )
    if results.classifier is not None:
        rows += classifier.rows(results.classifier)
    if results.sweep is not None:
        rows += sweep.rows(results.sweep)
    if results.id_check is not None:
        rows += id_check.rows(results.id_check)
    extra = [
        f"- {_DB_NAMES[r.db]}: migrations {r.migrate_s:.2f} s, serve() to connected "
        f"{r.connect_s:.2f} s, process CPU {r.cpu_s:.2f} s during the "
        f"{r.from_connected_s:.2f} s ingest, all {r.acked} acknowledgements in the Maildir "
        + (f"{r.delivered_s:.2f} s after connect" if r.delivered_s is not None else "NOT reached")
        for r in results.ingest
    ]
    m = results.machine
    dirty = f" + {len(m['uncommitted'])} uncommitted dsr_bot files" if m["uncommitted"] else ""
    facts = (
        f"{m['date']}, {m['nproc']} CPU ({m['cpu']}), Python {m['python']}, "
        f"Dovecot {m['dovecot']}, SQLite {m['sqlite']}, commit {m['commit']}{dirty}, "
        f"wall time {results.wall_s:.0f} s"
    )
    if results.latency is not None:
        extra.append(
            "- Latency includes Dovecot 2.3's fixed 0.5 s delay before it tells an IDLE client "
            "about new mail (see tests/servers/dovecot.py); the bot's own share is the rest."
        )
    notes = [f"- Note: {n}" for n in results.notes]
    if results.sweep is not None:
        notes += [f"- Note: {n}" for n in results.sweep.notes]
    return "\n".join([*rows, "", *extra, *notes, "", facts])


def write_json(results: Results, path: Path = RESULTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dataclasses.asdict(results)
    data["targets"] = {
        "ingest_min_per_s": INGEST_MIN_PER_S,
        "ratio_min": RATIO_MIN,
        "latency_p95_max_s": P95_MAX_S,
        "id_check_p95_max_s": id_check.P95_MAX_S,
    }
    data["verdicts"] = verdicts(results)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
