"""The IMAP watcher: reads new mail by UID, waits with IDLE (or polls), reconnects with backoff.

imapclient is blocking, so the watcher runs in a worker thread and hands each batch to the
pipeline on the event loop. Progress is the stored (UIDVALIDITY, last UID), saved in the same
transaction as the batch; \\Seen flags are never relied on, so mail read elsewhere still counts.

Several workers on one PostgreSQL: one of them reads a mailbox at a time, the one holding the
mailbox's advisory lock (store/locks.py); the others stand by and take over when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import random
import shlex
import socket
import ssl
import subprocess
import threading
import time
import traceback
from collections.abc import Coroutine, Iterator, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from dsr_bot.channels.intake import raw_to_item
from dsr_bot.channels.mime import DEFAULT_LIMITS, MimeLimits
from dsr_bot.config import MailboxSettings, ServerUrl, parse_server_url
from dsr_bot.domain.inbound import Channel, InboundMessage, Quarantined
from dsr_bot.errors import ChannelError, StoreError
from dsr_bot.services.pipeline import MailboxCursor, Outcome, Pipeline
from dsr_bot.store import queries
from dsr_bot.store.locks import AdvisoryLock, leading

log = logging.getLogger(__name__)

T = TypeVar("T")
# Errors after which we reconnect: the server went away, or answered in a way we cannot go on from.
RECONNECT_ERRORS = (OSError, IMAPClientError, imaplib.IMAP4.error, ssl.SSLError, EOFError)
FETCH_BYTES_BUDGET = 20 * 1024 * 1024  # at most this much mail in memory per fetch


class ServerGone(ConnectionError):
    """The server said BYE."""


class ImapWatcher:
    def __init__(
        self,
        box: MailboxSettings,
        *,
        pipeline: Pipeline,
        sessions: Any,
        max_message_bytes: int,
        limits: MimeLimits = DEFAULT_LIMITS,
        initial_backoff: float = 1.0,
        lock: AdvisoryLock | None = None,
    ) -> None:
        self.box = box
        self._lock = lock
        self._url: ServerUrl = parse_server_url(box.imap_url.get_secret_value(), ("imap", "imaps"))
        self._pipeline = pipeline
        self._sessions = sessions
        self._max_bytes = max_message_bytes
        self._limits = limits
        self._initial_backoff = initial_backoff
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connected = threading.Event()  # for tests and health: set while logged in
        self.processed = 0
        self.idle_waits = 0  # IDLE commands issued
        self.idle_renewals = 0
        self._synced = False  # a sync or a batch completed since the last failure
        self.synced_at: float | None = None  # when it last had every message (for /metrics)
        self.standby = False  # another worker reads this mailbox (for health)

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until `stop` is set; the batch in hand is finished first. With a lock, only
        while this process holds it."""
        if self._lock is None:
            await self._watch(stop)
        else:
            await leading(self._lock, self._watch, stop, on_standby=self._on_standby)

    def _on_standby(self, standby: bool) -> None:
        self.standby = standby

    async def _watch(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = threading.Event()  # anew: a watcher that lost its lock may lead again
        worker = asyncio.ensure_future(asyncio.to_thread(self._run_blocking))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([worker, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._stopping.set()
            stopper.cancel()
            await worker

    # --- in the worker thread -------------------------------------------------------------

    def _run_blocking(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            client: IMAPClient | None = None
            try:
                client = self._connect()
                self._serve(client)
            except (*RECONNECT_ERRORS, ChannelError, StoreError) as exc:
                # Back off further only while nothing works; after good syncs, start over.
                failures = 1 if self._synced else failures + 1
                self._synced = False
                log.warning(
                    "imap %s: %s; reconnecting (attempt %s)",
                    self.box.name,
                    _describe(exc),
                    failures,
                )
            except Exception as exc:
                # A bug or a response nobody foresaw must not stop intake. Type and stack only:
                # the message of such an error may hold raw mail.
                failures = 1 if self._synced else failures + 1
                self._synced = False
                log.error(
                    "imap %s: unexpected %s; reconnecting (attempt %s)\n%s",
                    self.box.name,
                    type(exc).__name__,
                    failures,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
            finally:
                self.connected.clear()
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.shutdown()
            if failures:
                self._stopping.wait(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        delay: float = min(
            self.box.reconnect_max_seconds, self._initial_backoff * 2.0 ** (failures - 1)
        )
        # Jitter, so several workers do not retry in step; nothing secret depends on it.
        return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret

    def _connect(self) -> IMAPClient:
        url = self._url
        client = IMAPClient(url.host, port=url.port, ssl=url.tls, timeout=30)
        client.normalise_times = False  # aware datetimes for INTERNALDATE
        try:
            if self.box.auth == "xoauth2":
                client.oauth2_login(url.username, self._oauth2_token())
            else:
                client.login(url.username, url.password)
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        log.info("imap %s: logged in to %s:%s", self.box.name, url.host, url.port)
        return client

    def _oauth2_token(self) -> str:
        if self.box.oauth2_token_command:
            try:
                done = subprocess.run(  # noqa: S603 - the operator's own configured command
                    shlex.split(self.box.oauth2_token_command),
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=True,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise ChannelError(f"oauth2_token_command failed ({type(exc).__name__})") from None
            token = done.stdout.strip()
        else:
            token = self.box.oauth2_token.get_secret_value()
        if not token:
            raise ChannelError("xoauth2 login needs oauth2_token or oauth2_token_command")
        return token

    def _serve(self, client: IMAPClient) -> None:
        folder = self._url.path or "INBOX"
        info = client.select_folder(folder, readonly=not self.box.processed_folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        use_idle = self.box.idle and client.has_capability("IDLE")
        self.connected.set()
        while not self._stopping.is_set():
            self._sync(client, uidvalidity)
            self._synced = True
            self.synced_at = time.time()
            if use_idle:
                self._wait_idle(client)
            else:
                self._stopping.wait(self.box.poll_seconds)
                client.noop()

    def _sync(self, client: IMAPClient, uidvalidity: int) -> None:
        """Store every message above the cursor, batch by batch, in UID order.

        The next batch is fetched and parsed while the current one is being stored; batches
        are still committed one after the other, so the cursor only moves forward.
        """
        last = self._last_uid(uidvalidity)
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        storing: tuple[Future[list[Outcome]], list[int], int] | None = None
        try:
            for batch in _chunks(uids, self.box.batch_size):
                sizes = self._sizes(client, batch)
                for part in _by_budget([u for u in batch if u in sizes], sizes, FETCH_BYTES_BUDGET):
                    if self._stopping.is_set():
                        return  # what is not stored yet is read again at the next start
                    items = self._fetch(client, part, sizes, uidvalidity)
                    # The model classifies this batch while the one before it is stored.
                    ahead = self._submit(self._pipeline.classify_ahead(items))
                    if storing is not None:
                        self._stored(client, *storing)
                    cursor = MailboxCursor(self.box.name, uidvalidity, part[-1])
                    storing = (
                        self._submit(self._pipeline.ingest(items, cursor, ahead)),
                        part,
                        len(items),
                    )
        finally:
            if storing is not None:
                self._stored(client, *storing)

    def _sizes(self, client: IMAPClient, batch: list[int]) -> dict[int, int]:
        """Each message's size, or, when none in the batch is large, the same upper bound for
        each: the batch then fits the fetch budget whole and every message is small enough.

        Asking the server which messages are large is one short answer; a FETCH of every size
        is a response per message for imapclient to parse (a fifth of the watcher's work).
        """
        bound = min(self._max_bytes, FETCH_BYTES_BUDGET // len(batch))
        if bound > 0 and not client.search(["UID", _uid_set(batch), "LARGER", bound]):
            return dict.fromkeys(batch, bound)
        return {
            uid: int(data.get(b"RFC822.SIZE", 0))
            for uid, data in client.fetch(batch, ["RFC822.SIZE"]).items()
        }

    def _stored(
        self, client: IMAPClient, future: Future[list[Outcome]], part: list[int], count: int
    ) -> None:
        future.result()  # raises StoreError when the batch was not stored: reconnect and retry
        self.processed += count
        self._synced = True  # progress: a failure after this backs off from the start again
        if self.box.processed_folder:
            client.move(part, self.box.processed_folder)

    def _fetch(
        self, client: IMAPClient, uids: Sequence[int], sizes: dict[int, int], uidvalidity: int
    ) -> list[InboundMessage | Quarantined]:
        small = [u for u in uids if sizes[u] <= self._max_bytes]
        fetched = client.fetch(small, ["BODY.PEEK[]", "INTERNALDATE"]) if small else {}
        items: list[InboundMessage | Quarantined] = []
        for uid in uids:
            external_id = f"{uidvalidity}:{uid}"
            if uid not in small:
                items.append(self._too_large(client, uid, sizes[uid], external_id))
                continue
            data = fetched.get(uid)
            if data is None:
                continue  # expunged by another client meanwhile
            items.append(
                raw_to_item(
                    data[b"BODY[]"],
                    source=self.box.name,
                    external_id=external_id,
                    received_at=_aware(data.get(b"INTERNALDATE")),
                    limits=self._limits,
                )
            )
        return items

    def _too_large(self, client: IMAPClient, uid: int, size: int, external_id: str) -> Quarantined:
        # Record it with its headers rather than pull a huge mail into memory; it stays put.
        head = client.fetch([uid], ["BODY.PEEK[HEADER]", "INTERNALDATE"]).get(uid, {})
        item = raw_to_item(
            head.get(b"BODY[HEADER]", b"") + b"\r\n",
            source=self.box.name,
            external_id=external_id,
            received_at=_aware(head.get(b"INTERNALDATE")),
            limits=self._limits,
        )
        reason = f"message too large ({size} bytes, limit {self._max_bytes}); left in the mailbox"
        return Quarantined(
            channel=Channel.EMAIL,
            source=self.box.name,
            external_id=external_id,
            received_at=item.received_at,
            reason=reason,
            sender=item.sender,
            subject=item.subject,
            message_id=item.message_id,
        )

    def _wait_idle(self, client: IMAPClient) -> None:
        """Wait for new mail; IDLE is renewed before 29 minutes, when servers may drop it."""
        client.idle()
        self.idle_waits += 1
        try:
            if _arrived_before_idle(client):
                return
            deadline = time.monotonic() + self.box.idle_renew_seconds
            while not self._stopping.is_set() and time.monotonic() < deadline:
                for response in _buffered_responses(client) or client.idle_check(timeout=1.0):
                    if response and response[0] == b"BYE":
                        raise ServerGone("server said BYE")
                    if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                        return
                self.synced_at = time.time()  # a quiet second in IDLE: still up to date
            self.idle_renewals += 1
        finally:
            client.idle_done()

    def _last_uid(self, uidvalidity: int) -> int:
        async def load() -> tuple[int, int] | None:
            async with self._sessions() as session:
                row = await queries.mailbox_state(session, self.box.name)
                return (row.uidvalidity, row.last_uid) if row else None

        state = self._call(load())
        if state is None:
            return 0
        if state[0] != uidvalidity:
            log.warning(
                "imap %s: UIDVALIDITY changed (%s -> %s); reading the mailbox again, "
                "known messages are recognised by Message-ID",
                self.box.name,
                state[0],
                uidvalidity,
            )
            return 0
        return state[1]

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._submit(coro).result()

    def _submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        assert self._loop is not None  # noqa: S101 - type narrowing only
        return asyncio.run_coroutine_threadsafe(coro, self._loop)


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _arrived_before_idle(client: IMAPClient) -> bool:
    """Whether mail arrived between the last sync and IDLE: the server announces it before
    its "+ idling", and imapclient files that EXISTS with imaplib's untagged responses
    instead of handing it to idle_check, where it would wait for the next mail or renewal."""
    pending: dict[str, object] = client._imap.untagged_responses
    return any([pending.pop(name, None) for name in ("EXISTS", "RECENT")])  # pop both


def _buffered_responses(client: IMAPClient) -> list[tuple[bytes, ...]]:
    """Whole lines the client has already received but idle_check cannot see: it polls the
    socket, while imaplib's reader (or TLS) may hold a "* 5 EXISTS" that came in one read with
    "+ idling". Never waits; a partial line is left for idle_check."""
    imap = client._imap
    sock = client.socket()
    responses: list[tuple[bytes, ...]] = []
    while True:
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            pending = imap.file.peek(1)  # what is buffered, or what the socket holds right now
        except (BlockingIOError, ssl.SSLWantReadError):
            pending = b""
        finally:
            sock.settimeout(timeout)
        if b"\n" not in pending:
            return responses
        line: bytes = imap._get_line()
        # "* 5 EXISTS" -> (b"5", b"EXISTS"), "* BYE ..." -> (b"BYE", ...): what the loop checks
        responses.append(tuple(line.split(b" ", 2)[1:3]))


def _uid_set(uids: Sequence[int]) -> str:
    """An IMAP sequence set for these UIDs (sorted): runs as first:last, so a batch of
    consecutive UIDs is one short range."""
    runs: list[list[int]] = []
    for uid in uids:
        if runs and uid == runs[-1][1] + 1:
            runs[-1][1] = uid
        else:
            runs.append([uid, uid])
    return ",".join(str(first) if first == last else f"{first}:{last}" for first, last in runs)


def _by_budget(uids: Sequence[int], sizes: dict[int, int], budget: int) -> Iterator[list[int]]:
    part: list[int] = []
    total = 0
    for uid in uids:
        if part and total + sizes[uid] > budget:
            yield part
            part, total = [], 0
        part.append(uid)
        total += sizes[uid]
    if part:
        yield part


def _aware(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "server did not answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200]
