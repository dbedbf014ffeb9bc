"""The chat channel end to end: the whole bot against the local Bot API stand-in.

A person talks to the bot in a private chat, staff act in their group chat; everything goes over
HTTP to the stand-in, as it would to api.telegram.org.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.app import Bot
from dsr_bot.config import Settings
from dsr_bot.logs import setup_logging
from dsr_bot.replies import Replies
from dsr_bot.services import casework, identity
from dsr_bot.services import staff as accounts
from dsr_bot.services.casework import Actor
from dsr_bot.store.tables import (
    AuditRow,
    CaseRow,
    ChatRow,
    DraftRow,
    IdCopyRow,
    MessageRow,
    OutboxRow,
)
from tests.conftest import eventually, make_settings, running_bot
from tests.identity.cards import Transform, draw_card, encode, random_person
from tests.servers.bot_api import BotApiStub

PERSON_CHAT = 4242  # a private chat's id is the person's user id
OTHER_CHAT = 5151
STAFF_CHAT = -100777
OFFICER_USER, STAFF_USER, STRANGER_USER = 901, 902, 903
OFFICER, STAFF = "po@academiewerkendleren.nl", "anna@academiewerkendleren.nl"
PASSWORD = "een lang en goed wachtwoord 2026"
PERSON = random_person(random.Random(5), "TD1")
ACCESS = "Goedendag, ik wil graag weten welke persoonsgegevens u van mij bewaart."


@pytest.fixture
def settings(database_url: str, tmp_path: Path, bot_api: BotApiStub) -> Settings:
    return telegram_settings(database_url, tmp_path, bot_api)


def telegram_settings(database_url: str, tmp_path: Path, stub: BotApiStub) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        telegram={
            "token": stub.token,
            "api_url": stub.base_url,
            "staff_chat_id": STAFF_CHAT,
            "staff_accounts": {str(OFFICER_USER): OFFICER, str(STAFF_USER): STAFF},
            "poll_timeout_seconds": 1,
        },
        console={"public_url": "https://privacy.example.nl"},
    )


@asynccontextmanager
async def chat_bot(settings: Settings) -> AsyncIterator[Bot]:
    async with running_bot(settings) as bot:
        await add_staff(bot.sessions)
        yield bot


async def add_staff(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = datetime.now(UTC)
    async with sessions.begin() as s:
        for email, role in ((OFFICER, "privacy_officer"), (STAFF, "staff")):
            if await accounts.by_email(s, email) is None:
                await accounts.add(s, email, role, PASSWORD, now, actor="test")


async def said(stub: BotApiStub, chat_id: int, count: int) -> list[dict[str, Any]]:
    """The first `count` messages the bot sent to the chat, once they are there."""
    return (await stub.wait_sent_async(count, chat_id=chat_id, within=20))[:count]


async def confirm_and_give_address(stub: BotApiStub, chat_id: int = PERSON_CHAT) -> str:
    """The person asks for access, says yes, gives an address; returns the case reference."""
    before = len(stub.sent(chat_id))
    stub.send_text(chat_id, chat_id, ACCESS, first_name="Jan")
    question = (await said(stub, chat_id, before + 1))[-1]
    assert question["text"] == "Wilt u weten welke gegevens wij van u hebben (inzage)?"
    assert [label for label, _ in stub.buttons(question["message"])] == [
        "Ja",
        "Nee",
        "Iets anders",
    ]
    stub.press_label(chat_id, chat_id, "Ja")
    ask = (await said(stub, chat_id, before + 2))[-1]
    assert "Welk e-mailadres gebruikt u bij ons?" in ask["text"]
    stub.send_text(chat_id, chat_id, "jan.jansen@example.nl")
    ack = (await said(stub, chat_id, before + 3))[-1]
    text: str = ack["text"]
    return next(w.strip(".,") for w in text.split() if w.startswith("AVG-"))


async def case_of(bot: Bot, reference: str) -> CaseRow:
    async with bot.sessions() as s:
        case = await s.scalar(select(CaseRow).where(CaseRow.reference == reference))
    assert case is not None
    return case


async def count(bot: Bot, table: type[Any], *where: Any) -> int:
    async with bot.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def test_a_whole_conversation_from_first_message_to_an_approved_reply(
    settings: Settings, bot_api: BotApiStub
) -> None:
    async with chat_bot(settings) as bot:
        bot_api.send_text(PERSON_CHAT, PERSON_CHAT, "/start", language_code="nl")
        [greeting] = await said(bot_api, PERSON_CHAT, 1)
        assert "Welkom bij Academie Werkend Leren" in greeting["text"]
        assert "privacyverklaring" in greeting["text"]

        reference = await confirm_and_give_address(bot_api)
        messages = await said(bot_api, PERSON_CHAT, 4)
        ack = messages[-1]["text"]
        # The acknowledgement gives the reference and asks for a shielded ID in the chat.
        assert f"Uw bericht heeft het nummer {reference}" in ack
        assert "Stuur een foto van de afgeschermde kopie hier in deze chat." in ack
        # The question the person answered shows the answer, its buttons gone.
        [edit] = [e for e in bot_api.edits(PERSON_CHAT) if "inzage" in e["text"]]
        assert edit["text"].endswith("» Ja") and not edit["reply_markup"]

        case = await case_of(bot, reference)
        assert (case.channel, case.requester, case.kinds, case.state) == (
            "telegram",
            str(PERSON_CHAT),
            ["access"],
            "open",
        )
        assert case.contact_email == "jan.jansen@example.nl"
        assert case.identity_state == "copy_requested"

        # The staff chat hears of it: reference and kind, nothing about the person.
        [new_case] = await said(bot_api, STAFF_CHAT, 1)
        assert new_case["text"].startswith(f"Nieuw verzoek {reference}: inzage (chat)")
        assert "Jan" not in new_case["text"] and "example.nl" not in new_case["text"]

        # Staff verify the identity and write an answer; the officer approves it in the chat.
        now = datetime.now(UTC)
        replies = Replies()
        async with bot.sessions.begin() as s:
            await identity.verify(s, bot.pipeline._identity, reference, "passport", OFFICER, now)
            draft = await casework.draft_answer(
                s,
                reference,
                "Wij hebben geen gegevens van u.",
                Actor(STAFF),
                now,
                settings,
                replies,
            )
        bot.sender.notify()
        [_, note] = await said(bot_api, STAFF_CHAT, 2)
        assert f"Concept klaar bij {reference}: antwoord, geschreven door {STAFF}" in note["text"]
        assert bot_api.buttons(note["message"]) == [
            ("Goedkeuren", f"approve:{draft.id}"),
            ("Open in console", f"https://privacy.example.nl/cases/{reference}"),
        ]
        bot_api.press_label(STAFF_CHAT, OFFICER_USER, "Goedkeuren", message_id=note["message_id"])
        reply = (await said(bot_api, PERSON_CHAT, 5))[-1]
        assert "Wij hebben geen gegevens van u." in reply["text"]
        assert "Stuur ons dan een bericht in deze chat." in reply["text"]
        [approved] = await bot_api.wait_for_async("edits", chat_id=STAFF_CHAT, within=10)
        assert f"Goedgekeurd door {OFFICER}" in approved["text"]
        async with bot.sessions() as s:
            stored = await s.get(DraftRow, draft.id)
            assert stored is not None and (stored.status, stored.decided_by) == (
                "approved",
                OFFICER,
            )
        assert await count(bot, AuditRow, AuditRow.action == "draft_approved") == 1


async def test_an_unshielded_id_photo_is_refused_deleted_and_asked_for_again(
    settings: Settings, bot_api: BotApiStub
) -> None:
    async with chat_bot(settings) as bot:
        reference = await confirm_and_give_address(bot_api)
        # Only the photo is covered: the MRZ, the document number and the BSN still show.
        photo = encode(draw_card(PERSON, ["photo"]), Transform("jpeg", jpeg_quality=90))
        bot_api.send_photo(PERSON_CHAT, PERSON_CHAT, photo)
        messages = await said(bot_api, PERSON_CHAT, 5)
        assert f"Wij hebben uw kopie ontvangen bij verzoek {reference}" in messages[3]["text"]
        refused = messages[4]["text"]
        assert "niet goed afgeschermd" in refused or "afgeschermd" in refused
        assert "Stuur een foto van de afgeschermde kopie hier in deze chat." in refused

        async with bot.sessions() as s:
            [copy] = list(await s.scalars(select(IdCopyRow)))
        assert (copy.status, copy.outcome) == ("deleted", "unshielded")
        vault = settings.identity.storage_dir
        assert not [p for p in vault.rglob("*") if p.is_file()]
        assert (await case_of(bot, reference)).identity_state == "copy_requested"


async def test_status_answers_only_in_the_chat_that_opened_the_case(
    settings: Settings, bot_api: BotApiStub
) -> None:
    async with chat_bot(settings):
        reference = await confirm_and_give_address(bot_api)
        bot_api.send_text(OTHER_CHAT, OTHER_CHAT, f"/status {reference}")
        [refused] = await said(bot_api, OTHER_CHAT, 1)
        assert f"geen verzoek vinden met het nummer {reference}" in refused["text"]
        assert "inzage" not in refused["text"]

        bot_api.send_text(PERSON_CHAT, PERSON_CHAT, f"/status {reference}")
        status = (await said(bot_api, PERSON_CHAT, 4))[-1]
        assert status["text"].startswith(f"Uw verzoek {reference} (inzage):")
        assert "Wij wachten op een afgeschermde kopie" in status["text"]


async def test_approval_by_someone_not_allowed_is_refused_and_logged(
    settings: Settings, bot_api: BotApiStub
) -> None:
    async with chat_bot(settings) as bot:
        reference = await confirm_and_give_address(bot_api)
        now = datetime.now(UTC)
        async with bot.sessions.begin() as s:
            await identity.verify(s, bot.pipeline._identity, reference, "passport", OFFICER, now)
            draft = await casework.draft_answer(
                s, reference, "Hier is uw overzicht.", Actor(STAFF), now, settings, Replies()
            )
        bot.sender.notify()
        [_, note] = await said(bot_api, STAFF_CHAT, 2)
        # A stranger, and a staff member whose role may not approve.
        for user in (STRANGER_USER, STAFF_USER):
            bot_api.press_label(STAFF_CHAT, user, "Goedkeuren", message_id=note["message_id"])
        answers = await bot_api.wait_for_async("callback_answers", 2, chat_id=STAFF_CHAT, within=10)
        assert all(a["show_alert"] and "geen concepten goedkeuren" in a["text"] for a in answers)
        # The Approve button still works for the privacy officer; nothing went out meanwhile.
        assert len(bot_api.sent(PERSON_CHAT)) == 3
        async with bot.sessions() as s:
            stored = await s.get(DraftRow, draft.id)
            assert stored is not None and stored.status == "draft"
            refusals = list(
                await s.scalars(select(AuditRow).where(AuditRow.action == "telegram_refused"))
            )
        assert sorted(r.actor for r in refusals) == sorted([STAFF, f"telegram:{STRANGER_USER}"])


async def test_a_storm_of_429_answers_is_waited_out(
    settings: Settings, bot_api: BotApiStub
) -> None:
    bot_api.fail("sendMessage", 429, count=3, retry_after=1)
    bot_api.fail("getUpdates", 502, count=2)
    async with chat_bot(settings):
        bot_api.send_text(PERSON_CHAT, PERSON_CHAT, "/start")
        [greeting] = await said(bot_api, PERSON_CHAT, 1)
        assert "Welkom" in greeting["text"]
    statuses = [r["status"] for r in bot_api.requests("sendMessage")]
    assert statuses[:4] == [429, 429, 429, 200]
    # (499: a long poll of an earlier bot, given up when it stopped)
    polls = [r["status"] for r in bot_api.requests("getUpdates") if r["status"] != 499]
    assert polls[:3] == [502, 502, 200]


async def test_a_restart_mid_conversation_opens_one_case_and_repeats_nothing(
    database_url: str, tmp_path: Path, bot_api: BotApiStub
) -> None:
    settings = telegram_settings(database_url, tmp_path, bot_api)
    async with chat_bot(settings):
        bot_api.send_text(PERSON_CHAT, PERSON_CHAT, ACCESS)
        [question] = await said(bot_api, PERSON_CHAT, 1)
    # Stopped before it confirmed the update to the API: the API offers it again.
    bot_api.press_label(PERSON_CHAT, PERSON_CHAT, "Ja", message_id=question["message_id"])
    async with chat_bot(settings) as bot:
        await said(bot_api, PERSON_CHAT, 2)
        bot_api.send_text(PERSON_CHAT, PERSON_CHAT, "jan.jansen@example.nl")
        await said(bot_api, PERSON_CHAT, 3)
        # Once more, with the case open.
    async with chat_bot(settings) as bot:
        bot_api.send_text(PERSON_CHAT, PERSON_CHAT, "Nog een vraag erbij.")
        await said(bot_api, PERSON_CHAT, 4)
        await eventually(lambda: _confirmed(bot_api), within=10)
        assert await count(bot, CaseRow) == 1
        sent = [m["text"] for m in bot_api.sent(PERSON_CHAT)]
        assert sum(t.startswith("Wilt u weten") for t in sent) == 1
        assert sum("Welk e-mailadres" in t for t in sent) == 1
        assert "Wij hebben uw bericht bij uw verzoek" in sent[-1]
        async with bot.sessions() as s:
            chat = await s.get(ChatRow, PERSON_CHAT)
            assert chat is not None and chat.state == "open"

        async def all_delivered() -> bool:
            return await count(bot, OutboxRow, OutboxRow.status != "sent") == 0

        await eventually(all_delivered, within=10)


async def _confirmed(stub: BotApiStub) -> bool:
    return not stub.pending_updates()


async def test_without_a_token_the_channel_is_off_and_says_so(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="dsr_bot")
    async with running_bot(make_settings(database_url, tmp_path)) as bot:
        assert bot.telegram is None
    assert any("Telegram off (no DSR_BOT_TELEGRAM_TOKEN)" in r.message for r in caplog.records)


async def test_a_wrong_token_stops_the_chat_channel_with_a_clear_error_but_not_the_bot(
    database_url: str, tmp_path: Path, bot_api: BotApiStub, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        telegram={"token": "123:wrong", "api_url": bot_api.base_url, "poll_timeout_seconds": 1},
    )
    async with running_bot(settings) as bot:
        assert bot.telegram is not None

        async def said_so() -> bool:
            return any("check the token" in r.message for r in caplog.records)

        await eventually(said_so, within=10)
        assert not bot.stop.is_set()  # mail and the console go on
    assert "wrong" not in caplog.text  # the token is never logged


async def test_the_token_never_reaches_the_log(
    settings: Settings, bot_api: BotApiStub, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "telegram")}
    try:
        setup_logging("DEBUG")  # as `dsr-bot run` sets it up, at its most talkative
        async with chat_bot(settings):
            bot_api.send_text(PERSON_CHAT, PERSON_CHAT, "/start")
            await said(bot_api, PERSON_CHAT, 1)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, value in quiet.items():
            logging.getLogger(name).setLevel(value)
    log = capsys.readouterr().err
    assert "telegram: connected as @dsr_test_bot" in log
    assert bot_api.token not in log and bot_api.token.split(":")[1] not in log


async def test_a_message_the_bot_cannot_handle_is_kept_for_staff_and_the_chat_goes_on(
    settings: Settings, bot_api: BotApiStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dsr_bot.domain import chat

    real_step = chat.step

    def broken(conv: Any, update: Any, suggestion: Any = None) -> Any:
        if "kapot" in update.text:
            raise RuntimeError("a bug")
        return real_step(conv, update, suggestion)

    monkeypatch.setattr(chat, "step", broken)
    async with chat_bot(settings) as bot:
        bot_api.send_text(PERSON_CHAT, PERSON_CHAT, "Dit maakt iets kapot, BSN 111222333")
        [sorry] = await said(bot_api, PERSON_CHAT, 1)
        assert sorry["text"].startswith("Sorry, er ging bij ons iets mis met uw bericht.")
        async with bot.sessions() as s:
            [kept] = list(await s.scalars(select(MessageRow)))
        assert kept.route == "quarantined" and "RuntimeError" in (kept.reason or "")
        assert "111222333" not in kept.body and "kapot" in kept.body
        # The next message is handled as usual.
        bot_api.send_text(PERSON_CHAT, PERSON_CHAT, "/start")
        assert "Welkom" in (await said(bot_api, PERSON_CHAT, 2))[-1]["text"]


async def test_a_photo_that_cannot_be_fetched_yet_is_fetched_again_not_lost(
    settings: Settings, bot_api: BotApiStub
) -> None:
    async with chat_bot(settings) as bot:
        reference = await confirm_and_give_address(bot_api)
        bot_api.fail("getFile", 502, count=5)  # more than one call's own retries
        photo = encode(draw_card(PERSON, []), Transform("jpeg", jpeg_quality=90))
        bot_api.send_photo(PERSON_CHAT, PERSON_CHAT, photo)
        received = (await said(bot_api, PERSON_CHAT, 4))[-1]
        assert f"Wij hebben uw kopie ontvangen bij verzoek {reference}" in received["text"]
        assert await count(bot, IdCopyRow) == 1
        assert await count(bot, MessageRow, MessageRow.route == "quarantined") == 0
