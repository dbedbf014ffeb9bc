"""Running `dsr-bot run` as a real process, as an operator would: for crash and log tests."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from signal import Signals
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent


class BotProcess:
    def __init__(self, workdir: Path, config: str, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.config_path = workdir / "dsr-bot.toml"
        if "[staff]" not in config:
            config += "\n[staff]\ndaily_digest = false\n"  # tests count the mail that goes out
        self.config_path.write_text(config)
        self.log_path = workdir / "dsr-bot.log"
        # A free port for the console, so tests never compete for 8000.
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DSR_BOT_CONSOLE_ADDR": "127.0.0.1:0",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def db_path(self) -> Path:
        return self.workdir / "var" / "dsr-bot.db"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dsr_bot", "--config", str(self.config_path), "run"],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as in a terminal or under systemd
        )
        log.close()

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def signal_group(self, sig: Signals) -> None:
        """As Ctrl-C in a terminal: the bot and its classifier worker both get the signal."""
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> int:
        """SIGTERM, as systemd does; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.signal(signal.SIGTERM)
        try:
            return self.wait(30)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.wait(10)
            raise

    def query(self, sql: str) -> list[tuple[object, ...]]:
        """Read the bot's SQLite database while it runs (WAL allows a reader beside the writer)."""
        if not self.db_path.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []  # not migrated yet
        finally:
            conn.close()

    def count(self, table: str) -> int:
        rows = self.query(f"SELECT count(*) FROM {table}")
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def wait_for(self, table: str, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.count(table) < n:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"dsr-bot exited with {self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{table}: {self.count(table)} of {n} after {timeout} s")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> BotProcess:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
