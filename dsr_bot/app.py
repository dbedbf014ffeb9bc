"""Wiring: one event loop runs intake, pipeline, outbox and the console; one lifespan starts and
stops them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dsr_bot.channels.imap import ImapWatcher
from dsr_bot.channels.mail_out import MaildirTransport, SmtpTransport
from dsr_bot.channels.mime import DEFAULT_LIMITS
from dsr_bot.channels.smtp_intake import SmtpIntake
from dsr_bot.channels.telegram import TelegramApi, TelegramPoller, TelegramTransport
from dsr_bot.config import Settings, parse_server_url
from dsr_bot.console.app import create_app
from dsr_bot.console.context import ConsoleContext
from dsr_bot.console.server import ConsoleServer
from dsr_bot.nlp.classifier import Classifier, ClassifierPool, SpacyClassifier, Unclassified
from dsr_bot.replies import Replies
from dsr_bot.services import retention, staff
from dsr_bot.services.backlog import Backlog
from dsr_bot.services.chat import ChatDesk
from dsr_bot.services.health import Loops
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.services.identity_sweep import IdentityWorker
from dsr_bot.services.outbox import ByChannel, OutboxSender, Transport
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.services.scheduler import build_scheduler
from dsr_bot.services.sweeps import Sweeper
from dsr_bot.store import locks, migrate
from dsr_bot.store.engine import create_engine
from dsr_bot.store.sealed import Sealer

log = logging.getLogger(__name__)

GRACE_SECONDS = 20.0


def make_transport(settings: Settings) -> Transport:
    url = settings.mail.smtp_url.get_secret_value()
    if url:
        return SmtpTransport(parse_server_url(url, ("smtp", "smtps")))
    return MaildirTransport(settings.mail.outbox_maildir)


@dataclass
class Bot:
    """Everything `dsr-bot run` runs, built from settings; tests build it the same way."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    pipeline: Pipeline
    sender: OutboxSender
    intake: SmtpIntake | None
    watchers: list[ImapWatcher] = field(default_factory=list)
    sweeper: Sweeper | None = None
    identity: IdentityWorker | None = None
    console: ConsoleContext | None = None
    console_server: ConsoleServer | None = None
    telegram: TelegramPoller | None = None
    telegram_api: TelegramApi | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    loops: Loops = field(default_factory=Loops)  # what /healthz and /metrics see

    async def purge(self) -> None:
        await retention.purge(
            self.sessions,
            now=datetime.now(UTC),
            keep_days=self.settings.retention.closed_case_days,
            chat_days=self.settings.telegram.conversation_days,
        )

    async def serve(self) -> None:
        """Run until `stop` is set, then stop intake first and let in-flight work finish."""
        async with contextlib.AsyncExitStack() as stack:
            if self.intake is not None:
                await stack.enter_async_context(self.intake)
            if self.console is not None:
                self.console_server = ConsoleServer(
                    create_app(self.console, self.loops), self.settings.console
                )
                await stack.enter_async_context(self.console_server)
                await self._hint_first_account()
            tasks = [
                asyncio.create_task(w.run(self.stop), name=f"imap-{w.box.name}")
                for w in self.watchers
            ]
            if self.telegram is not None:
                # One poller per bot token: the Bot API refuses a second long poll.
                poll = locks.leading(
                    locks.AdvisoryLock(self.engine, "telegram"), self.telegram.run, self.stop
                )
                tasks.append(asyncio.create_task(poll, name="telegram"))
            sender_stop = asyncio.Event()
            sender = asyncio.create_task(self.sender.run(sender_stop), name="outbox")
            checker = None
            if self.identity is not None:
                self.identity.announce()
                checker = asyncio.create_task(self.identity.run(sender_stop), name="id-check")
            self.loops.track(
                [*tasks, sender, *([checker] if checker else [])], self.watchers, self.stop
            )
            scheduler = None
            if self.sweeper is not None:
                scheduler = build_scheduler(
                    self.settings,
                    sweep=self.sweeper.sweep,
                    purge=self.purge,
                    identity_sweep=self.identity.sweep if self.identity else None,
                    lock=functools.partial(locks.exclusive, self.engine),
                )
                scheduler.start()
            log.info(
                "dsr-bot running: %s IMAP mailbox(es), SMTP intake %s, outgoing mail to %s, "
                "Telegram %s, console %s",
                len(self.watchers),
                f"on {self.intake.host}:{self.intake.port}" if self.intake else "off",
                _describe_transport(self.settings),
                "on" if self.telegram else "off (no DSR_BOT_TELEGRAM_TOKEN)",
                self.console_server.url if self.console_server else "off",
            )
            stop_wait = asyncio.create_task(self.stop.wait())
            intake = [t for t in tasks if t.get_name() != "telegram"]
            await asyncio.wait([stop_wait, *intake], return_when=asyncio.FIRST_COMPLETED)
            self.stop.set()
            log.info("stopping: no new mail is taken; finishing what is in hand")
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await stack.aclose()  # SMTP intake and the console stop listening
            done, pending = (
                await asyncio.wait(tasks, timeout=GRACE_SECONDS) if tasks else (set(), set())
            )
            for task in pending:
                task.cancel()
            sender_stop.set()
            ending = [sender, *([checker] if checker else [])]
            await asyncio.wait(ending, timeout=GRACE_SECONDS)
            for task in ending:
                task.cancel()
            if self.telegram_api is not None:
                await self.telegram_api.close()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("%s stopped with an error: %s", task.get_name(), task.exception())
        log.info("dsr-bot stopped")

    async def _hint_first_account(self) -> None:
        async with self.sessions() as session:
            if not await staff.count(session):
                log.warning(
                    "no staff accounts yet: create one with "
                    "`dsr-bot staff add YOU@EXAMPLE.ORG --role admin` to log in to the console"
                )


def _describe_transport(settings: Settings) -> str:
    url = settings.mail.smtp_url.get_secret_value()
    if url:
        parsed = parse_server_url(url, ("smtp", "smtps"))
        return f"SMTP relay {parsed.host}:{parsed.port}"
    return f"Maildir {settings.mail.outbox_maildir}"


@contextlib.asynccontextmanager
async def classifier_for(settings: Settings) -> AsyncIterator[Classifier]:
    """The trained model (in worker processes, or in this one with workers = 0), or triage for
    everything when switched off; it says which at start."""
    options = settings.classifier
    if not options.enabled:
        log.info("classifier off: every new case goes to staff triage")
        yield Unclassified()
        return
    if options.workers == 0:
        classifier = await asyncio.to_thread(
            SpacyClassifier.load,
            options.model_path,
            threshold=options.fixed_threshold,
            confident_at=options.confident_at,
        )
        log.info("classifier %s loaded (threshold %.2f)", classifier.name, classifier.threshold)
        yield classifier
        return
    pool = ClassifierPool(
        options.model_path,
        threshold=options.fixed_threshold,
        confident_at=options.confident_at,
        workers=options.workers,
    )
    await pool.start()
    log.info(
        "classifier %s loaded in %d worker process(es) (threshold %.2f)",
        pool.name,
        options.workers,
        pool.threshold,
    )
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def build_bot(
    settings: Settings,
    *,
    classifier: Classifier | None = None,
    transport: Transport | None = None,
    imap_initial_backoff: float = 1.0,
) -> AsyncIterator[Bot]:
    engine = create_engine(settings.database.url.get_secret_value())
    stack = contextlib.AsyncExitStack()
    try:
        before, after = await migrate.upgrade(engine)
        if before != after:
            log.info("database migrated from %s to %s", before or "empty", after)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        transports: dict[str, Transport] = {"email": transport or make_transport(settings)}
        telegram_api = TelegramApi(settings.telegram) if settings.telegram.enabled else None
        if telegram_api is not None:
            transports["telegram"] = TelegramTransport(telegram_api)
        backlog = Backlog()
        sender = OutboxSender(
            sessions=sessions,
            transport=ByChannel(transports),
            settings=settings.mail,
            backlog=backlog,
            sealer=Sealer.from_settings(settings),
        )
        if classifier is None:
            classifier = await stack.enter_async_context(classifier_for(settings))
        replies = Replies.from_settings(settings)
        desk = IdentityDesk.from_settings(settings, replies)
        desk.vault.ensure()
        identity = IdentityWorker(sessions=sessions, desk=desk, on_outbox=sender.notify)
        pipeline = Pipeline(
            sessions=sessions,
            settings=settings,
            classifier=classifier,
            replies=replies,
            on_outbox=sender.notify,
            identity=desk,
            on_id_copy=identity.notify,
            backlog=backlog,
        )
        limits = DEFAULT_LIMITS
        intake = None
        if settings.smtp_intake_enabled:
            intake = SmtpIntake(
                host=settings.smtp_intake.host,
                port=settings.smtp_intake.port,
                pipeline=pipeline,
                max_bytes=settings.mail.max_message_bytes,
                limits=limits,
            )
        watchers = [
            ImapWatcher(
                box,
                pipeline=pipeline,
                sessions=sessions,
                max_message_bytes=settings.mail.max_message_bytes,
                limits=limits,
                initial_backoff=imap_initial_backoff,
                lock=locks.AdvisoryLock(engine, f"imap {box.name}"),
            )
            for box in settings.imap_mailboxes
        ]
        sweeper = Sweeper(
            sessions=sessions, settings=settings, replies=replies, on_outbox=sender.notify
        )
        console = (
            ConsoleContext(
                settings=settings,
                sessions=sessions,
                replies=replies,
                desk=desk,
                on_outbox=sender.notify,
            )
            if settings.console.enabled
            else None
        )
        poller = None
        if telegram_api is not None:
            chat_desk = ChatDesk(
                sessions=sessions,
                settings=settings,
                replies=replies,
                classifier=classifier,
                pipeline=pipeline,
                api=telegram_api,
                on_outbox=sender.notify,
            )
            poller = TelegramPoller(telegram_api, chat_desk, initial_backoff=imap_initial_backoff)
        yield Bot(
            settings,
            engine,
            sessions,
            pipeline,
            sender,
            intake,
            watchers,
            sweeper,
            identity,
            console,
            telegram=poller,
            telegram_api=telegram_api,
        )
    finally:
        try:
            await stack.aclose()
        finally:
            await engine.dispose()


async def run(settings: Settings) -> None:
    """`dsr-bot run`: until SIGTERM or SIGINT."""
    with locks.single_process(settings.database.url.get_secret_value()):
        async with build_bot(settings) as bot:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, bot.stop.set)
            await bot.serve()
