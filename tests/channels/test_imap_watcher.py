"""The IMAP watcher against a real Dovecot: IDLE, restarts, \\Seen mail, replies, polling."""

from __future__ import annotations

import asyncio
import email
import logging
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dsr_bot.app import Bot
from dsr_bot.store import queries
from dsr_bot.store.tables import CaseRow, MessageRow
from tests.conftest import (
    count_rows,
    eventually,
    imap_settings,
    outbox_mail,
    request_mail,
    running_bot,
)
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.dovecot


def _requests(count: int, start: int = 0) -> list[bytes]:
    return [
        request_mail(sender=f"persoon{i}@example.nl", subject=f"Inzage {i}").as_bytes()
        for i in range(start, start + count)
    ]


async def _cases(bot: Bot) -> int:
    return await count_rows(bot, CaseRow)


async def _connected(bot: Bot) -> None:
    await eventually(lambda: asyncio.sleep(0, bot.watchers[0].connected.is_set()), within=10)


async def test_an_appended_message_becomes_a_case_and_an_acknowledgement(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path
) -> None:
    async with running_bot(imap_settings(sqlite_url, tmp_path, dovecot)) as bot:
        await _connected(bot)
        await asyncio.to_thread(
            dovecot.append, request_mail(message_id="<r1@example.nl>").as_bytes()
        )
        await eventually(lambda: asyncio.sleep(0, len(outbox_mail(tmp_path / "outbox")) == 1))
    [ack] = outbox_mail(tmp_path / "outbox")
    assert ack["In-Reply-To"] == "<r1@example.nl>"
    assert ack["To"] == "jan@example.nl"


async def test_mail_that_arrived_while_stopped_is_processed_exactly_once(
    dovecot: DovecotServer, database_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(dovecot.append_many, _requests(200))
    settings = imap_settings(database_url, tmp_path, dovecot, batch_size=50)
    async with running_bot(settings) as bot:
        await eventually(lambda: asyncio.sleep(0, bot.watchers[0].processed >= 200), within=60)
    async with running_bot(settings) as bot:  # a restart reads nothing twice
        await _connected(bot)
        await asyncio.to_thread(dovecot.append_many, _requests(1, start=200))
        await eventually(lambda: _has_cases(bot, 201), within=10)
        assert await count_rows(bot, MessageRow) == 201
        async with bot.sessions() as session:
            subjects = set(await session.scalars(select(CaseRow.subject)))
        # Acknowledgements still queued when the first run stopped go out after the restart.
        await eventually(
            lambda: asyncio.sleep(0, len(outbox_mail(tmp_path / "outbox")) >= 201), within=30
        )
    assert subjects == {f"Inzage {i}" for i in range(201)}

    acks = outbox_mail(tmp_path / "outbox")
    assert len(acks) == 201  # one acknowledgement each, none twice
    assert len({ack["In-Reply-To"] for ack in acks}) == 201


async def _has_cases(bot: Bot, n: int) -> bool:
    return await _cases(bot) >= n


async def test_mail_already_read_in_another_client_is_still_processed(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(dovecot.append, _requests(1)[0], flags=["\\Seen"])
    async with running_bot(imap_settings(sqlite_url, tmp_path, dovecot)) as bot:
        await eventually(lambda: _has_cases(bot, 1))
        await asyncio.to_thread(dovecot.append, _requests(1, start=1)[0], flags=["\\Seen"])
        await eventually(lambda: _has_cases(bot, 2))


async def test_the_bot_reconnects_after_a_dovecot_restart_and_misses_nothing(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dsr_bot")
    async with running_bot(imap_settings(sqlite_url, tmp_path, dovecot)) as bot:
        await _connected(bot)
        await asyncio.to_thread(dovecot.append, _requests(1)[0])
        await eventually(lambda: _has_cases(bot, 1))
        await asyncio.sleep(0.3)  # back in IDLE
        await asyncio.to_thread(dovecot.stop)
        await eventually(lambda: asyncio.sleep(0, not bot.watchers[0].connected.is_set()))
        await asyncio.to_thread(dovecot.start)
        # Mail that arrives before the bot is back must not be missed.
        await asyncio.to_thread(dovecot.append_many, _requests(3, start=1))
        await eventually(lambda: _has_cases(bot, 4), within=15)
        assert bot.watchers[0].connected.is_set()
        await asyncio.to_thread(dovecot.append, _requests(1, start=4)[0])
        await eventually(lambda: _has_cases(bot, 5))
    assert any("reconnecting" in r.getMessage() for r in caplog.records)
    assert sum("logged in" in r.getMessage() for r in caplog.records) >= 2


async def test_a_reply_to_the_acknowledgement_lands_on_the_same_case(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path
) -> None:
    async with running_bot(imap_settings(sqlite_url, tmp_path, dovecot)) as bot:
        await _connected(bot)
        await asyncio.to_thread(dovecot.append, request_mail().as_bytes())
        await eventually(lambda: asyncio.sleep(0, len(outbox_mail(tmp_path / "outbox")) == 1))
        [ack] = outbox_mail(tmp_path / "outbox")
        reply = EmailMessage()
        reply["From"] = "Jan Jansen <jan@example.nl>"
        reply["To"] = ack["From"]
        reply["Subject"] = f"Re: {ack['Subject']}"
        reply["Message-ID"] = "<reply-1@example.nl>"
        reply["In-Reply-To"] = ack["Message-ID"]
        reply["References"] = f"{ack['References']} {ack['Message-ID']}"
        reply.set_content("Hierbij nog mijn klantnummer: 4711.")
        await asyncio.to_thread(dovecot.append, reply.as_bytes())

        async def on_case() -> bool:
            async with bot.sessions() as session:
                row = await session.scalar(
                    select(MessageRow).where(MessageRow.message_id == "<reply-1@example.nl>")
                )
            return row is not None

        await eventually(on_case)
        assert await _cases(bot) == 1
        async with bot.sessions() as session:
            [case] = await session.scalars(select(CaseRow))
            detail = await queries.case_detail(session, case.reference)
    assert [m.message_id for m in detail.messages][-1] == "<reply-1@example.nl>"
    assert len(outbox_mail(tmp_path / "outbox")) == 1  # the reply is not acknowledged again


async def test_without_idle_the_mailbox_is_polled(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path
) -> None:
    settings = imap_settings(sqlite_url, tmp_path, dovecot, idle=False, poll_seconds=0.3)
    async with running_bot(settings) as bot:
        await _connected(bot)
        await asyncio.to_thread(dovecot.append, _requests(1)[0])
        await eventually(lambda: _has_cases(bot, 1), within=5)
        assert bot.watchers[0].idle_waits == 0


async def test_processed_mail_can_be_moved_to_a_folder(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path
) -> None:
    client = await asyncio.to_thread(dovecot.client)
    await asyncio.to_thread(client.create_folder, "Verwerkt")
    settings = imap_settings(sqlite_url, tmp_path, dovecot, processed_folder="Verwerkt")
    await asyncio.to_thread(dovecot.append_many, _requests(3))
    async with running_bot(settings) as bot:
        await eventually(lambda: _has_cases(bot, 3))
    inbox = await asyncio.to_thread(client.select_folder, "INBOX")
    moved = await asyncio.to_thread(client.select_folder, "Verwerkt")
    await asyncio.to_thread(client.logout)
    assert (inbox[b"EXISTS"], moved[b"EXISTS"]) == (0, 3)


async def test_a_wrong_password_is_reported_and_retried_without_stopping_the_bot(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = dovecot.imap_url().replace(dovecot.password, "wrong")
    settings = imap_settings(sqlite_url, tmp_path, dovecot, imap_url=url)

    def failures() -> int:
        return sum("reconnecting" in r.getMessage() for r in caplog.records)

    async with running_bot(settings):
        await eventually(lambda: asyncio.sleep(0, failures() >= 2), within=10)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "AUTHENTICATIONFAILED" in text or "Authentication failed" in text
    assert "wrong" not in text  # the password never reaches the log


def test_dovecot_parses_what_we_append(dovecot: DovecotServer) -> None:
    dovecot.append(_requests(1)[0])
    client = dovecot.client()
    client.select_folder("INBOX")
    [uid] = client.search(["ALL"])
    raw = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    client.logout()
    assert email.message_from_bytes(raw, policy=policy.default)["Subject"] == "Inzage 0"


async def test_idle_is_renewed_and_mail_after_a_renewal_is_seen(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path
) -> None:
    settings = imap_settings(sqlite_url, tmp_path, dovecot, idle_renew_seconds=0.5)
    async with running_bot(settings) as bot:
        await _connected(bot)
        await eventually(lambda: asyncio.sleep(0, bot.watchers[0].idle_renewals >= 2), within=10)
        await asyncio.to_thread(dovecot.append, _requests(1)[0])
        await eventually(lambda: _has_cases(bot, 1))


async def test_an_unexpected_error_in_the_watcher_is_logged_and_survived(
    dovecot: DovecotServer,
    sqlite_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dsr_bot.channels import imap

    real = imap._aware
    calls = {"n": 0}
    secret = "-".join(["raw", "mail", "bytes"])  # built at run time: tracebacks show source lines

    def flaky(value: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyError(secret)
        return real(value)

    monkeypatch.setattr(imap, "_aware", flaky)
    await asyncio.to_thread(dovecot.append, _requests(1)[0])
    async with running_bot(imap_settings(sqlite_url, tmp_path, dovecot)) as bot:
        await eventually(lambda: _has_cases(bot, 1))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "unexpected KeyError; reconnecting" in logged
    assert secret not in logged


async def test_a_server_without_idle_is_polled(
    sqlite_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Dovecot's own capability list, less IDLE.
    without_idle = (
        "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE SORT "
        "MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED MOVE\n"
    )
    server = DovecotServer(tmp_path_factory.mktemp("noidle"), extra_config=without_idle)
    server.start()
    try:
        client = await asyncio.to_thread(server.client)
        offers_idle = await asyncio.to_thread(client.has_capability, "IDLE")
        await asyncio.to_thread(client.logout)
        assert not offers_idle
        settings = imap_settings(sqlite_url, tmp_path, server, poll_seconds=0.3)
        async with running_bot(settings) as bot:
            await _connected(bot)
            await asyncio.to_thread(server.append, _requests(1)[0])
            await eventually(lambda: _has_cases(bot, 1), within=5)
            assert bot.watchers[0].idle_waits == 0  # it never sent IDLE
    finally:
        server.stop()


async def test_mail_arriving_between_the_sync_and_idle_is_not_left_waiting(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server announces such mail before it confirms IDLE; missed, it would wait for the
    # next mail or the IDLE renewal (25 minutes).
    async with running_bot(imap_settings(sqlite_url, tmp_path, dovecot)) as bot:
        watcher = bot.watchers[0]
        sync = watcher._sync
        appended: list[bool] = []

        def sync_then_mail_arrives(client: object, uidvalidity: int) -> None:
            sync(client, uidvalidity)
            if not appended:
                appended.append(True)
                dovecot.append(request_mail(message_id="<between@example.nl>").as_bytes())

        monkeypatch.setattr(watcher, "_sync", sync_then_mail_arrives)
        await _connected(bot)
        await eventually(lambda: _has_cases(bot, 1), within=10)


async def test_mail_announced_with_the_idle_confirmation_is_not_left_waiting(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A busy client can read "+ idling" and "* 1 EXISTS" in one go: the EXISTS then sits in
    # imaplib's buffer, where polling the socket never finds it (seen in a clean-clone run).
    async with running_bot(imap_settings(sqlite_url, tmp_path, dovecot)) as bot:
        watcher = bot.watchers[0]
        wait_idle = watcher._wait_idle
        buffered: list[bool] = []

        def idle_with_mail_already_read(client: Any) -> None:
            # An IDLE with no announcement left over from earlier commands (SELECT leaves some).
            if not buffered and not {"EXISTS", "RECENT"} & client._imap.untagged_responses.keys():
                real_idle = client.idle

                def idle() -> None:
                    real_idle()
                    if buffered:
                        return
                    dovecot.append(request_mail(message_id="<buffered@example.nl>").as_bytes())
                    time.sleep(2.0)  # Dovecot announces it within about 1.5 s
                    # Read it into the buffer, as a late reader of "+ idling" would have.
                    buffered.append(b"EXISTS" in client._imap.file.peek(1))

                monkeypatch.setattr(client, "idle", idle)
            wait_idle(client)

        monkeypatch.setattr(watcher, "_wait_idle", idle_with_mail_already_read)
        await _connected(bot)
        await eventually(lambda: _has_cases(bot, 1), within=10)
        assert buffered == [True]  # the case came from the buffered announcement
