"""A private, throw-away Dovecot IMAP server on loopback for tests and benchmarks.

Plain Python on purpose (no pytest import) so ``bench/`` can drive it as well.
Needs root (Dovecot's master starts as root and drops privileges) and the
Debian ``dovecot-imapd`` package (Dovecot 2.3).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

DOVECOT_BIN = "/usr/sbin/dovecot"

# Mail processes run as nobody: Dovecot refuses to access mail as uid 0.
MAIL_UID = 65534
MAIL_GID = 65534

# Messages per MULTIAPPEND command in append_many(). One command is one
# Dovecot save transaction, far faster than one APPEND round trip per message.
_MULTIAPPEND_BATCH = 100

# Dovecot puts ~30 unix sockets into its base_dir; sun_path is limited to 108
# bytes and the longest name below it is "/replication-notify-fifo" (24).
_MAX_RUN_DIR_LEN = 80

_POLL = 0.01

# Dovecot's default auth_username_chars; e.g. "+" is refused.
_USERNAME_CHARS = frozenset(string.ascii_letters + string.digits + ".-_@")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, ...)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def pid_alive(pid: int) -> bool:
    """Whether pid is a live process; zombies count as gone.

    The daemonised master is not our child; PID 1 reaps it, but some PID 1s
    (this VM's) only do so a while later, and kill(pid, 0) succeeds on a zombie.
    """
    fields = _proc_stat(pid)
    return fields is not None and fields[0] != "Z"


def _group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is still in process group pgid."""
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                fields = _proc_stat(int(entry.name))
                if fields is not None and fields[0] != "Z" and fields[2] == str(pgid):
                    return True
    return False


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL)
    return True


def _system_user(name: str) -> str:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return "nobody"
    return name


class DovecotServer:
    """One Dovecot instance whose config, sockets, logs and mail all live in ``base_dir``."""

    host: str = "127.0.0.1"

    def __init__(
        self,
        base_dir: Path,
        *,
        user: str = "bot",
        password: str = "s3cret-test",
        port: int | None = None,
        extra_config: str = "",
    ) -> None:
        self.extra_config = extra_config  # appended to the generated dovecot.conf
        if not user or not set(user) <= _USERNAME_CHARS:
            # Dovecot would just answer "Authentication failed" (auth_username_chars).
            raise ValueError(f"user name {user!r} has characters Dovecot rejects")
        if any(c in password for c in ":\r\n"):
            raise ValueError("password must not contain ':' or newlines (passwd-file format)")
        self.base_dir = Path(base_dir).resolve()
        self.user = user
        self.password = password
        # Chosen once, so stop() + start() comes back on the same port.
        self.port = port if port is not None else _free_port(self.host)
        self.conf_path = self.base_dir / "dovecot.conf"
        self.log_path = self.base_dir / "dovecot.log"
        self.run_dir = self.base_dir / "run"
        self.mail_dir = self.base_dir / "mail"
        self._short_run_dir: Path | None = None
        self._pgid: int | None = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """PID of the running Dovecot master, or None."""
        return self._read_pid()

    def _read_pid(self) -> int | None:
        # A method, not the property: mypy would keep a narrowed self.pid.
        try:
            pid = int((self.run_dir / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def start(self, timeout: float = 10.0) -> None:
        if self.pid is not None:
            return
        deadline = time.monotonic() + timeout
        self._prepare_dirs()
        self._write_config()
        # Output to a file, not a pipe: the daemonised master could inherit the
        # pipe and make us wait for EOF forever. Exit status is non-zero when
        # the config is bad or a listener cannot bind (checked before forking).
        with (self.base_dir / "launch.out").open("wb") as out:
            proc = subprocess.run(
                [DOVECOT_BIN, "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if proc.returncode != 0:
            raise RuntimeError(f"dovecot exited with {proc.returncode}:\n{self._log_tail()}")
        # The launcher exits right after forking; the daemon writes master.pid
        # a moment later, and listeners are bound even before that.
        while (pid := self._read_pid()) is None or not self._greeting_ok():
            if time.monotonic() > deadline:
                msg = f"dovecot did not come up on {self.host}:{self.port}:\n{self._log_tail()}"
                self.stop()
                raise RuntimeError(msg)
            time.sleep(_POLL)
        # The master calls setsid(), so all processes of this instance are in
        # the process group named after the master's pid.
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) == pid:
                self._pgid = pid

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid
        pgid = self._pgid
        if pgid is not None and pid not in (None, pgid):
            pgid = None  # someone else's instance now owns master.pid; leave it alone
        if pgid is None and pid is None:
            return  # nothing of ours is running (and the port may be someone else's)
        if pgid is not None:
            # Signal the whole group, not just the master: on SIGTERM the master
            # alone takes ~1.5 s to exit, and imap processes that saw I/O in
            # the last 10 s outlive it (IMAP_DIE_IDLE_SECS in Dovecot 2.3,
            # shutdown_clients notwithstanding), so a connected client would
            # not notice the "restart" for up to 10 s.
            # Repeat it: if children die before the master handles its own
            # SIGTERM, it respawns log/anvil and then waits up to 6 s for them.
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGTERM)
                if _wait(lambda: not _group_alive(pgid), 0.1):
                    break
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                if not _wait(lambda: not _group_alive(pgid), timeout):
                    raise RuntimeError(f"dovecot process group {pgid} survived SIGKILL")
            self._pgid = None
        elif pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait(lambda: not pid_alive(pid), timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                if not _wait(lambda: not pid_alive(pid), timeout):
                    raise RuntimeError(f"dovecot master {pid} survived SIGKILL")
        if not _wait(lambda: not self._port_open(), timeout):
            raise RuntimeError(f"port {self.port} still open after stopping dovecot")
        if self._short_run_dir is not None:
            self.run_dir.unlink(missing_ok=True)
            shutil.rmtree(self._short_run_dir, ignore_errors=True)
            self._short_run_dir = None

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- client helpers ----------------------------------------------------

    def imap_url(self, folder: str = "INBOX") -> str:
        user = quote(self.user, safe="")
        password = quote(self.password, safe="")
        return f"imap://{user}:{password}@{self.host}:{self.port}/{quote(folder, safe='')}"

    def client(self, timeout: float = 10.0) -> IMAPClient:
        """A logged-in plaintext client; the caller must logout().

        "[UNAVAILABLE] Temporary authentication failure" (RFC 5530: try again later) is retried
        for a few seconds: on a loaded machine Dovecot's auth process can answer it just after
        a start, as a real server can; the bot's watcher retries it the same way."""
        deadline = time.monotonic() + 5.0
        while True:
            client = IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
            try:
                client.login(self.user, self.password)
            except LoginError as exc:
                client.shutdown()
                if "UNAVAILABLE" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                continue
            except BaseException:
                client.shutdown()
                raise
            return client

    def append(self, raw: bytes, *, folder: str = "INBOX", flags: Sequence[str] = ()) -> None:
        with self._session() as client:
            client.append(folder, raw, flags=tuple(flags))

    def append_many(self, raws: Iterable[bytes], *, folder: str = "INBOX") -> int:
        count = 0
        batch: list[bytes] = []
        with self._session() as client:
            for raw in raws:
                batch.append(raw)
                if len(batch) == _MULTIAPPEND_BATCH:
                    client.multiappend(folder, batch)
                    count += len(batch)
                    batch = []
            if batch:
                client.multiappend(folder, batch)
                count += len(batch)
        return count

    # -- internals ---------------------------------------------------------

    @contextlib.contextmanager
    def _session(self) -> Iterator[Any]:
        client = self.client()
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def _prepare_dirs(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        # The mail uid and the dovecot user (auth reads passwd) must traverse
        # every ancestor, but pytest's /tmp/pytest-of-root is 0700. Add only
        # o+x (search, not listing), only on directories we own.
        for directory in (self.base_dir, *self.base_dir.parents):
            st = directory.stat()
            if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
                directory.chmod((st.st_mode & 0o7777) | 0o001)
        if self.pid is None:
            # Left behind by a SIGKILL; Dovecot ignores it but self.pid would
            # trust it if the number got reused.
            with contextlib.suppress(OSError):
                (self.run_dir / "master.pid").unlink()
        if len(str(self.run_dir)) > _MAX_RUN_DIR_LEN:
            # Too long for unix socket paths: sockets go to a short temp dir and
            # <base_dir>/run links to it, so <base_dir>/run/master.pid still works.
            if self.run_dir.is_symlink():
                self.run_dir.unlink()
            self._short_run_dir = Path(tempfile.mkdtemp(prefix="dovecot-"))
            self.run_dir.symlink_to(self._short_run_dir)
        (self.mail_dir / self.user).mkdir(parents=True, exist_ok=True)
        for path in (self.mail_dir, *self.mail_dir.rglob("*")):
            os.lchown(path, MAIL_UID, MAIL_GID)
        (self.base_dir / "state").mkdir(exist_ok=True)
        passwd = self.base_dir / "passwd"
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        passwd.chmod(0o644)  # read by the auth process, running as default_internal_user

    def _write_config(self) -> None:
        base = self.base_dir
        home = f"{self.mail_dir}/%u"
        # A complete config: `dovecot -c <this file>` never reads /etc/dovecot.
        conf = f"""\
# Generated by tests/servers/dovecot.py; rewritten on every start().
# instance_name must differ between instances (doveadm/state bookkeeping).
instance_name = dsr-test-{self.port}
base_dir = {self._short_run_dir or self.run_dir}
state_dir = {base}/state
log_path = {self.log_path}
info_log_path = {self.log_path}
debug_log_path = {self.log_path}
protocols = imap
listen = {self.host}
default_internal_user = {_system_user("dovecot")}
default_login_user = {_system_user("dovenull")}
ssl = no
disable_plaintext_auth = no
# Default 2 s delay on failed logins only slows down tests.
auth_failure_delay = 0
# Default anyway; note it does NOT cut recently active imap connections at
# once (see stop()).
shutdown_clients = yes
# Throw-away mail: skipping fsync keeps append_many fast.
mail_fsync = never
mail_location = maildir:{home}
# IDLE is woken by inotify (plus a fixed 0.5 s batching delay in Dovecot, so
# EXISTS arrives ~0.51 s after an APPEND). This is only the fallback poll when
# inotify is unavailable (e.g. max_user_instances exhausted); default 30 s.
mailbox_idle_check_interval = 1 secs
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = {base}/passwd
}}
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_GID} home={home}
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
        self.conf_path.write_text(conf + self.extra_config)

    def _greeting_ok(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                data = b""
                while b"\r\n" not in data:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return False
                    data += chunk
                return data.startswith(b"* OK")
        except OSError:
            return False

    def _port_open(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0):
                return True
        except OSError:
            return False

    def _log_tail(self, lines: int = 30) -> str:
        text = ""
        for path in (self.base_dir / "launch.out", self.log_path):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])
