"""XOAUTH2 login (Microsoft 365, Google), checked at the SASL exchange against an IMAP stub."""

from __future__ import annotations

import base64
import socketserver
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient.exceptions import LoginError

from dsr_bot.channels.imap import ImapWatcher
from dsr_bot.config import MailboxSettings
from dsr_bot.errors import ChannelError

TOKEN = "ya29.a0-test-token"


class _SaslStub(socketserver.StreamRequestHandler):
    """Just enough IMAP to log in with AUTHENTICATE XOAUTH2 (RFC 3501 + Google's XOAUTH2)."""

    server: _Server

    def handle(self) -> None:
        self.wfile.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] stub ready\r\n")
        while line := self.rfile.readline():
            tag, _, command = line.decode().strip().partition(" ")
            if command.upper() == "CAPABILITY":
                self.wfile.write(b"* CAPABILITY IMAP4rev1 AUTH=XOAUTH2\r\n")
                self.wfile.write(f"{tag} OK done\r\n".encode())
            elif command.upper() == "AUTHENTICATE XOAUTH2":
                self.wfile.write(b"+ \r\n")
                answer = base64.b64decode(self.rfile.readline().strip())
                self.server.exchanges.append(answer)
                if answer == self.server.expected:
                    self.wfile.write(f"{tag} OK authenticated\r\n".encode())
                else:
                    error = base64.b64encode(b'{"status":"401","schemes":"bearer"}')
                    self.wfile.write(b"+ " + error + b"\r\n")
                    self.rfile.readline()  # the client's empty response ends the exchange
                    self.wfile.write(f"{tag} NO [AUTHENTICATIONFAILED] invalid token\r\n".encode())
            elif command.upper() == "LOGOUT":
                self.wfile.write(f"* BYE\r\n{tag} OK bye\r\n".encode())
                return
            else:
                self.wfile.write(f"{tag} BAD unexpected\r\n".encode())


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    exchanges: list[bytes]
    expected: bytes


@pytest.fixture
def stub() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _SaslStub)
    server.exchanges = []
    server.expected = f"user=bot@example.nl\x01auth=Bearer {TOKEN}\x01\x01".encode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _watcher(server: _Server, **box: str) -> ImapWatcher:
    port = server.server_address[1]
    settings = MailboxSettings.model_validate(
        {"imap_url": f"imap://bot%40example.nl@127.0.0.1:{port}/INBOX", "auth": "xoauth2", **box}
    )
    return ImapWatcher(settings, pipeline=None, sessions=None, max_message_bytes=1024)  # type: ignore[arg-type]


def test_xoauth2_sends_the_sasl_string_with_the_configured_token(stub: _Server) -> None:
    client = _watcher(stub, oauth2_token=TOKEN)._connect()
    client.logout()
    assert stub.exchanges == [stub.expected]


def test_a_token_command_gives_a_fresh_token_at_each_login(stub: _Server, tmp_path: Path) -> None:
    script = tmp_path / "token.py"
    script.write_text(f"print({TOKEN!r})\n")
    watcher = _watcher(stub, oauth2_token_command=f"{sys.executable} {script}")
    watcher._connect().logout()
    watcher._connect().logout()
    assert stub.exchanges == [stub.expected, stub.expected]


def test_a_refused_token_is_a_login_error_the_watcher_retries(stub: _Server) -> None:
    with pytest.raises(LoginError):
        _watcher(stub, oauth2_token="expired")._connect()
    assert stub.exchanges == [b"user=bot@example.nl\x01auth=Bearer expired\x01\x01"]


def test_xoauth2_without_a_token_is_a_clear_error(stub: _Server) -> None:
    with pytest.raises(ChannelError, match="needs oauth2_token or oauth2_token_command"):
        _watcher(stub)._connect()
    assert stub.exchanges == []
