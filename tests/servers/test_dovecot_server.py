"""The private Dovecot fixture server itself: start/stop, APPEND, flags, IDLE, restart."""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, LoginError

from tests.servers.dovecot import DovecotServer, pid_alive

pytestmark = pytest.mark.dovecot


def _message(subject: str, body: str = "hello") -> bytes:
    return (
        f"From: alice@example.org\r\nTo: privacy@example.com\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{uuid.uuid4().hex}@example.org>\r\n"
        f"\r\n{body}\r\n"
    ).encode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DovecotServer]:
    with DovecotServer(tmp_path / "dovecot") as srv:
        yield srv


@contextlib.contextmanager
def _inbox(server: DovecotServer) -> Iterator[Any]:
    client = server.client()
    try:
        client.select_folder("INBOX")
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def _subjects(client: Any) -> list[str]:
    data = client.fetch(client.search(), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
    headers = [d[b"BODY[HEADER.FIELDS (SUBJECT)]"] for _, d in sorted(data.items())]
    return [h.decode().strip().removeprefix("Subject: ") for h in headers]


def _master_pid(server: DovecotServer) -> int | None:
    return server.pid  # a call, so mypy does not carry an earlier `pid is None` over


def _refused(server: DovecotServer) -> bool:
    try:
        socket.create_connection((server.host, server.port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_starts_and_logs_in(server: DovecotServer) -> None:
    pid = server.pid
    assert pid is not None
    assert pid_alive(pid)
    assert server.imap_url() == f"imap://bot:s3cret-test@127.0.0.1:{server.port}/INBOX"
    with _inbox(server) as client:
        assert client.search() == []
        assert b"IDLE" in client.capabilities()


def test_wrong_password_is_rejected(server: DovecotServer) -> None:
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=10)
    try:
        with pytest.raises(LoginError):
            client.login(server.user, "wrong")
    finally:
        client.shutdown()


def test_url_quotes_credentials_and_odd_password_logs_in(tmp_path: Path) -> None:
    with DovecotServer(tmp_path, user="bot@example.com", password="p@ss/w rd%") as srv:
        assert srv.imap_url("Cases/2024") == (
            f"imap://bot%40example.com:p%40ss%2Fw%20rd%25@127.0.0.1:{srv.port}/Cases%2F2024"
        )
        with _inbox(srv) as client:
            assert client.search() == []


def test_rejects_credentials_dovecot_cannot_take(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="user name"):
        DovecotServer(tmp_path, user="dsr+bot")
    with pytest.raises(ValueError, match="password"):
        DovecotServer(tmp_path, password="a:b")


def test_append_then_search_finds_it(server: DovecotServer) -> None:
    raw = _message("Inzageverzoek AVG art. 15")
    server.append(raw)
    server.append(_message("unrelated"))
    with _inbox(server) as client:
        hits = client.search(["SUBJECT", "Inzageverzoek"])
        assert len(hits) == 1
        fetched = client.fetch(hits, ["RFC822"])[hits[0]][b"RFC822"]
        assert fetched == raw  # stored verbatim


def test_append_flags_are_visible(server: DovecotServer) -> None:
    server.append(_message("already read"), flags=[r"\Seen"])
    server.append(_message("new"))
    with _inbox(server) as client:
        seen = client.search(["SEEN"])
        unseen = client.search(["UNSEEN"])
        assert len(seen) == 1
        assert len(unseen) == 1
        assert b"\\Seen" in client.get_flags(seen)[seen[0]]
        assert _subjects(client) == ["already read", "new"]


def test_idle_client_sees_append_from_other_client(server: DovecotServer) -> None:
    with _inbox(server) as idler:
        idler.idle()
        started = time.monotonic()
        server.append(_message("wake up"))
        responses: list[Any] = []
        while time.monotonic() - started < 2.0 and (1, b"EXISTS") not in responses:
            responses += idler.idle_check(timeout=0.2)
        elapsed = time.monotonic() - started
        idler.idle_done()
        assert (1, b"EXISTS") in responses, responses
        assert elapsed < 2.0


def test_stop_frees_port_cuts_clients_and_restart_keeps_mail(server: DovecotServer) -> None:
    port = server.port
    server.append_many(_message(f"before restart {i}") for i in range(3))
    connected = server.client()
    connected.select_folder("INBOX")
    pid = server.pid
    assert pid is not None

    server.stop()
    try:
        assert server.pid is None
        assert not pid_alive(pid)
        assert _refused(server)
        # A logged-in client is cut off at once, not after Dovecot's 10 s grace.
        with pytest.raises((IMAPClientAbortError, OSError)):
            connected.noop()
    finally:
        with contextlib.suppress(OSError):
            connected.shutdown()
    server.stop()  # idempotent

    server.start()
    assert server.port == port
    assert _master_pid(server) not in (None, pid)
    with _inbox(server) as client:
        assert _subjects(client) == [f"before restart {i}" for i in range(3)]


def test_append_many(server: DovecotServer) -> None:
    count = server.append_many(_message(f"bulk {i}") for i in range(200))
    assert count == 200
    with _inbox(server) as client:
        assert len(client.search()) == 200
        assert client.search(["SUBJECT", "bulk 199"]) == [200]
