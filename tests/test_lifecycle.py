"""`dsr-bot run` as a process: it serves, and stops cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import signal
import smtplib
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import outbox_mail, request_mail
from tests.process import BotProcess
from tests.servers.smtp_relay import free_port


def _wait_listening(port: int, bot: BotProcess, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert bot.proc is not None and bot.proc.poll() is None, bot.log()
        time.sleep(0.05)
    raise AssertionError(f"not listening on {port}: {bot.log()}")


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)],
    ids=["SIGTERM", "SIGINT", "Ctrl-C to the process group"],
)
def test_run_takes_mail_and_stops_cleanly_on_a_signal(
    tmp_path: Path, sig: signal.Signals, group: bool
) -> None:
    port = free_port()
    bot = BotProcess(tmp_path, f"[smtp_intake]\nport = {port}\n")
    bot.start()
    try:
        _wait_listening(port, bot)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(request_mail())
        bot.wait_for("outbox WHERE status = 'sent'", 1, timeout=5)
        if group:
            bot.signal_group(sig)
        else:
            bot.signal(sig)
        assert bot.wait(timeout=30) == 0
    finally:
        bot.stop()
    assert len(outbox_mail(tmp_path / "var" / "outbox")) == 1
    log = bot.log()
    assert "dsr-bot stopped" in log
    assert "Traceback" not in log
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # the port is free again


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = BotProcess(tmp_path, f"[smtp_intake]\nport = {port}\n")
        bot.start()
        assert bot.wait(timeout=30) == 2
    assert f"dsr-bot: error: cannot listen for SMTP on 127.0.0.1:{port}" in bot.log()
    assert "Traceback" not in bot.log()


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found |= {int(child) for child in text}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_killed_bot_leaves_no_classifier_worker_behind(tmp_path: Path) -> None:
    port = free_port()
    bot = BotProcess(tmp_path, f"[smtp_intake]\nport = {port}\n")
    bot.start()
    try:
        _wait_listening(port, bot)  # the classifier worker is up before intake opens
        assert bot.proc is not None
        children = _children(bot.proc.pid)
        assert children, "the classifier runs in a worker process"
        bot.signal(signal.SIGKILL)
        bot.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in children)
    finally:
        bot.stop()
