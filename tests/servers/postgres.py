"""A private, throw-away PostgreSQL cluster on a loopback port, for tests that stop the server.

The machine's shared server at 127.0.0.1:5432 is never touched: this one has its own data
directory, port and socket directory, is started as a child process and stopped by its pid.
Plain Python (no pytest import). Needs root (the server runs as the ``postgres`` user; PostgreSQL
refuses to run as root) and the Debian ``postgresql`` package (initdb and postgres in
/usr/lib/postgresql/<version>/bin).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

USER = "postgres"

# How the server is asked to stop (PostgreSQL's shutdown modes, by signal to the postmaster):
# "fast" ends sessions and writes a checkpoint, as `systemctl restart` does; "immediate" ends
# at once without one, as a crash would, and the next start replays the WAL.
STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}


def _bin_dir() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError("no PostgreSQL server in /usr/lib/postgresql/*/bin")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """initdb once, then start/stop (by pid) as often as a test likes, on the same port."""

    host = "127.0.0.1"

    def __init__(self, port: int | None = None) -> None:
        self.bin = _bin_dir()
        # Chosen once, so stop() + start() comes back on the same port.
        self.port = port if port is not None else _free_port()
        # Not under pytest's tmp_path: that is 0700 root, and the server runs as postgres.
        self.base_dir = Path(tempfile.mkdtemp(prefix="dsr-pg-"))
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "postgres.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._initialised = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def url(self) -> str:
        """The database URL the bot takes (SQLAlchemy with asyncpg)."""
        return f"postgresql+asyncpg://{USER}@{self.host}:{self.port}/postgres"

    def _initdb(self) -> None:
        user = pwd.getpwnam(USER)
        os.chown(self.base_dir, user.pw_uid, user.pw_gid)
        subprocess.run(
            [
                str(self.bin / "initdb"),
                *("-D", str(self.data_dir), "-U", USER, "--auth=trust", "-E", "UTF8"),
                *("--locale=C.UTF-8", "--no-instructions"),
            ],
            user=USER,
            cwd=self.base_dir,
            capture_output=True,
            check=True,
            timeout=120,
        )
        self._initialised = True

    def start(self, timeout: float = 60.0) -> None:
        if self.pid is not None:
            return
        if not self._initialised:
            self._initdb()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    *("-D", str(self.data_dir), "-p", str(self.port)),
                    *("-c", f"listen_addresses={self.host}"),
                    *("-c", f"unix_socket_directories={self.base_dir}"),
                    # Durable, as in production: a crash (an immediate stop) loses no commit.
                    *("-c", "fsync=on", "-c", "synchronous_commit=on"),
                ],
                user=USER,
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the test's terminal is not ours to take
            )
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop("immediate")
                raise RuntimeError(f"postgres did not come up on port {self.port}:\n{tail}")
            time.sleep(0.1)

    def ready(self) -> bool:
        """Accepting connections (pg_isready: not merely listening, also out of recovery)."""
        done = subprocess.run(
            [str(self.bin / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port)],
            check=False,
            timeout=30,
        )
        return done.returncode == 0

    def stop(self, mode: str = "fast", timeout: float = 60.0) -> None:
        """Stops the server by signal to its pid, in one of PostgreSQL's shutdown modes."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(STOP_SIGNALS[mode])
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # Immediate mode as the last resort: a SIGKILL would leave its sessions running.
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGQUIT)
            proc.wait(timeout)

    def cleanup(self) -> None:
        """Stops the server and removes its files."""
        self.stop("immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()
