"""The Telegram Bot API stand-in, driven by python-telegram-bot as dsr-bot drives it."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter

from tests.servers.bot_api import BotApiStub, StubError, buttons

KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Ja", callback_data="yes"),
            InlineKeyboardButton("Nee", callback_data="no"),
        ],
        [InlineKeyboardButton("Privacyverklaring", url="https://example.org/privacy")],
    ]
)


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it PTB warns (an error under filterwarnings=error) while building RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def make_bot(stub: BotApiStub, token: str | None = None) -> Bot:
    return Bot(token or stub.token, base_url=stub.api_url, base_file_url=stub.file_url)


@pytest.fixture
async def bot(bot_api: BotApiStub) -> AsyncIterator[Bot]:
    async with make_bot(bot_api) as tg:
        yield tg


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


async def test_initialize_gets_the_bot_user(bot: Bot, bot_api: BotApiStub) -> None:
    assert bot.id == bot_api.bot_id
    assert bot.username == bot_api.bot_username
    assert [(r["method"], r["status"]) for r in bot_api.requests()] == [("getMe", 200)]


async def test_wrong_token_is_unauthorized(bot_api: BotApiStub) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(bot_api, "123:not-the-token"):
            pass
    assert bot_api.requests()[-1]["status"] == 401


async def test_json_urlencoded_and_any_case_method_names(bot_api: BotApiStub) -> None:
    markup = {"inline_keyboard": [[{"text": "Ja", "callback_data": "yes"}]]}
    url = f"{bot_api.api_url}{bot_api.token}"
    async with httpx.AsyncClient(trust_env=False) as client:
        as_json = await client.post(
            f"{url}/SENDMESSAGE", json={"chat_id": 7, "text": "a", "reply_markup": markup}
        )
        as_form = await client.post(
            f"{url}/sendmessage",
            data={"chat_id": "7", "text": "b", "reply_markup": json.dumps(markup)},
        )
        unknown = await client.post(f"{url}/sendTelepathy", json={})
        control = await client.post(f"{url}/_stub/reset")
    assert as_json.json()["ok"] and as_form.json()["ok"]
    assert [(s["text"], s["reply_markup"]) for s in bot_api.sent(7)] == [
        ("a", markup),
        ("b", markup),
    ]
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert control.status_code == 404
    assert len(bot_api.sent()) == 2


async def test_user_text_arrives_with_its_command_entity(bot: Bot, bot_api: BotApiStub) -> None:
    update_id = bot_api.send_text(42, 42, "/status AVG-2026-0001", first_name="Jan")
    group_id = bot_api.send_text(-1001234567890, 43, "/start@dsr_test_bot", chat_title="AWL")

    private, group = await bot.get_updates()

    assert private.update_id == update_id
    assert group.update_id == group_id > update_id
    assert private.message is not None and group.message is not None
    assert private.message.text == "/status AVG-2026-0001"
    assert list(private.message.parse_entities([MessageEntity.BOT_COMMAND]).values()) == ["/status"]
    assert private.message.from_user is not None
    assert private.message.from_user.first_name == "Jan"
    assert private.message.chat.type == "private"
    assert group.message.chat.type == "supergroup"
    assert group.message.chat.title == "AWL"
    assert group.message.entities[0].length == len("/start@dsr_test_bot")


async def test_user_text_gets_email_and_url_entities(bot: Bot, bot_api: BotApiStub) -> None:
    bot_api.send_text(42, 42, "Mijn adres: jan@example.nl, zie https://example.nl/avg")

    (update,) = await bot.get_updates()

    assert update.message is not None
    assert update.message.parse_entities() == {
        MessageEntity(MessageEntity.EMAIL, 12, 14): "jan@example.nl",
        MessageEntity(MessageEntity.URL, 32, 22): "https://example.nl/avg",
    }


async def test_offset_confirms_updates_for_good(bot: Bot, bot_api: BotApiStub) -> None:
    ids = [bot_api.send_text(42, 42, text) for text in ("een", "twee", "drie")]

    assert [u.update_id for u in await bot.get_updates()] == ids
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert [u["update_id"] for u in bot_api.pending_updates()] == ids[1:]

    assert await bot.get_updates(offset=ids[2] + 1) == ()
    assert bot_api.pending_updates() == []
    async with make_bot(bot_api) as restarted:
        assert await restarted.get_updates() == ()


async def test_long_poll_ends_empty_after_its_timeout(bot: Bot) -> None:
    assert await bot.get_updates(timeout=1) == ()


async def test_long_poll_wakes_when_the_user_writes(bot: Bot, bot_api: BotApiStub) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await bot_api.wait_polling_async()
    update_id = bot_api.send_text(42, 42, "hallo")

    updates = await asyncio.wait_for(poll, timeout=10)

    assert [u.update_id for u in updates] == [update_id]


async def test_a_second_poller_ends_the_first_with_conflict(bot: Bot, bot_api: BotApiStub) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=20))
    await bot_api.wait_polling_async()
    async with make_bot(bot_api) as second:
        assert await second.get_updates() == ()
    with pytest.raises(Conflict):
        await first


async def test_allowed_updates_keep_other_kinds_away(bot: Bot, bot_api: BotApiStub) -> None:
    sent = await bot.send_message(42, "Klopt dit?", reply_markup=KEYBOARD)
    await bot.get_updates(allowed_updates=["message"])

    bot_api.press_button(42, 42, sent.message_id, "yes")
    text_id = bot_api.send_text(42, 42, "ja")

    assert [u.update_id for u in await bot.get_updates()] == [text_id]


async def test_send_message_is_recorded_and_answered(bot: Bot, bot_api: BotApiStub) -> None:
    first = await bot.send_message(42, "Uw verzoek is ontvangen.", reply_markup=KEYBOARD)
    second = await bot.send_message(42, "<b>AVG-2026-0001</b>", parse_mode="HTML")
    group = await bot.send_message(-555, "Hallo groep")

    assert (first.message_id, second.message_id) == (1, 2)
    assert first.from_user is not None and first.from_user.id == bot_api.bot_id
    assert first.chat.type == "private"
    assert first.reply_markup == KEYBOARD
    assert second.text == "AVG-2026-0001"
    assert second.entities[0].type == MessageEntity.BOLD
    assert group.chat.type == "group"
    assert group.message_id == 1  # message ids count per chat

    records = bot_api.sent(42)
    assert [(r["method"], r["message_id"], r["text"]) for r in records] == [
        ("sendMessage", 1, "Uw verzoek is ontvangen."),
        ("sendMessage", 2, "<b>AVG-2026-0001</b>"),
    ]
    assert records[1]["parse_mode"] == "HTML"
    assert buttons(records[0]) == [
        ("Ja", "yes"),
        ("Nee", "no"),
        ("Privacyverklaring", "https://example.org/privacy"),
    ]
    assert buttons(records[1]) == []
    assert [r["chat_id"] for r in bot_api.sent()] == [42, 42, -555]


async def test_reply_parameters_point_at_the_users_message(bot: Bot, bot_api: BotApiStub) -> None:
    bot_api.send_text(42, 42, "Ik wil mijn gegevens inzien")
    (update,) = await bot.get_updates()
    assert update.message is not None

    answer = await update.message.reply_text("Ontvangen", do_quote=True)

    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "Ik wil mijn gegevens inzien"
    assert bot_api.sent(42)[0]["reply_parameters"]["message_id"] == update.message.message_id
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(42, "?", reply_to_message_id=999)


@pytest.mark.parametrize(
    ("text", "parse_mode", "markup", "error"),
    [
        ("x" * 4097, None, None, "message is too long"),
        ("Jan <jan@example.nl>", "HTML", None, "can't parse entities: unsupported start tag"),
        ("<b>vet", "HTML", None, "can't find end tag"),
        ("Zaak AVG-2026-0001.", "MarkdownV2", None, "character '-' is reserved"),
        ("ok", "Fancy", None, "unsupported parse_mode"),
        (
            "ok",
            None,
            InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]]),
            "button_data_invalid",
        ),
    ],
)
async def test_send_message_refuses_what_telegram_refuses(
    bot: Bot,
    bot_api: BotApiStub,
    text: str,
    parse_mode: str | None,
    markup: InlineKeyboardMarkup | None,
    error: str,
) -> None:
    with pytest.raises(BadRequest, match=f"(?i){error}"):
        await bot.send_message(42, text, parse_mode=parse_mode, reply_markup=markup)
    assert bot_api.sent() == []
    assert bot_api.requests("sendMessage")[-1]["status"] == 400


async def test_longest_and_escaped_texts_pass(bot: Bot, bot_api: BotApiStub) -> None:
    await bot.send_message(42, "x" * 4096)
    html = await bot.send_message(42, "Jan &lt;jan@example.nl&gt;", parse_mode="HTML")
    md = await bot.send_message(42, r"*Zaak* AVG\-2026\-0001\.", parse_mode="MarkdownV2")

    assert html.text == "Jan <jan@example.nl>"
    assert md.text == "Zaak AVG-2026-0001."
    assert len(bot_api.sent(42)) == 3


async def test_button_press_answer_and_edit(bot: Bot, bot_api: BotApiStub) -> None:
    question = await bot.send_message(42, "Klopt uw adres?", reply_markup=KEYBOARD)
    update_id = bot_api.press_button(42, 42, question.message_id, "yes")

    (update,) = await bot.get_updates()
    query = update.callback_query
    assert update.update_id == update_id and query is not None
    assert query.data == "yes"
    assert query.from_user.id == 42
    assert query.message is not None and query.message.message_id == question.message_id

    assert await query.answer("Dank je")
    edited = await bot.edit_message_text("Adres bevestigd.", 42, question.message_id)

    assert bot_api.callback_answers() == [
        {
            "callback_query_id": query.id,
            "chat_id": 42,
            "message_id": question.message_id,
            "data": "yes",
            "text": "Dank je",
            "show_alert": False,
            "url": None,
            "params": {"callback_query_id": query.id, "text": "Dank je"},
        }
    ]
    assert isinstance(edited, type(question)) and edited.edit_date is not None
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard
    assert [(e["method"], e["message_id"], e["text"]) for e in bot_api.edits(42)] == [
        ("editMessageText", question.message_id, "Adres bevestigd.")
    ]
    now = bot_api.message(42, question.message_id)
    assert now is not None and now["text"] == "Adres bevestigd." and "reply_markup" not in now
    with pytest.raises(StubError, match="no button"):
        bot_api.press_button(42, 42, question.message_id, "yes")


async def test_press_label_finds_the_newest_keyboard(bot: Bot, bot_api: BotApiStub) -> None:
    await bot.send_message(42, "Eerste vraag", reply_markup=KEYBOARD)
    newest = await bot.send_message(42, "Tweede vraag", reply_markup=KEYBOARD)

    bot_api.press_label(42, 42, "Nee")

    (update,) = await bot.get_updates()
    assert update.callback_query is not None and update.callback_query.message is not None
    assert update.callback_query.data == "no"
    assert update.callback_query.message.message_id == newest.message_id
    with pytest.raises(StubError, match="URL"):
        bot_api.press_label(42, 42, "Privacyverklaring")


async def test_edits_and_answers_telegram_refuses(bot: Bot, bot_api: BotApiStub) -> None:
    sent = await bot.send_message(42, "Status: open")
    bot_api.send_text(42, 42, "van de gebruiker")

    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", 42, 999)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Status: open", 42, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", 42, sent.message_id + 1)
    with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
        await bot.answer_callback_query("12345")
    assert bot_api.edits() == [] and bot_api.callback_answers() == []


async def test_user_photo_sizes_download(bot: Bot, bot_api: BotApiStub) -> None:
    image = png(1200, 900)
    bot_api.send_photo(42, 42, image, caption="mijn ID-bewijs")

    (update,) = await bot.get_updates()
    assert update.message is not None
    photo = update.message.photo
    assert update.message.caption == "mijn ID-bewijs"
    assert len(photo) >= 2
    assert [p.width for p in photo] == sorted(p.width for p in photo)
    assert (photo[-1].width, photo[-1].height) == (1200, 900)

    largest = await (await bot.get_file(photo[-1].file_id)).download_as_bytearray()
    smallest = await (await bot.get_file(photo[0].file_id)).download_as_bytearray()
    assert bytes(largest) == image
    with Image.open(io.BytesIO(smallest)) as thumb:
        assert max(thumb.size) <= 90


async def test_user_document_download(bot: Bot, bot_api: BotApiStub) -> None:
    pdf = b"%PDF-1.4\n% a test document\n%%EOF\n"
    bot_api.send_document(42, 42, pdf, "paspoort.pdf", "application/pdf")

    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.document is not None
    document = update.message.document
    assert (document.file_name, document.mime_type, document.file_size) == (
        "paspoort.pdf",
        "application/pdf",
        len(pdf),
    )
    file = await bot.get_file(document.file_id)
    assert bytes(await file.download_as_bytearray()) == pdf
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("no-such-file")


async def test_bot_uploads_photo_and_document(bot: Bot, bot_api: BotApiStub) -> None:
    image = png(640, 480)
    photo_message = await bot.send_photo(42, photo=image, caption="Voorbeeld")
    doc_message = await bot.send_document(42, document=b"brief", filename="brief.pdf")
    again = await bot.send_photo(42, photo=photo_message.photo[-1].file_id)

    photo_sent, doc_sent, again_sent = bot_api.sent(42)
    assert (photo_sent["method"], photo_sent["text"]) == ("sendPhoto", "Voorbeeld")
    assert bot_api.file_bytes(photo_sent["file_id"]) == image
    assert photo_message.photo[-1].file_id == photo_sent["file_id"]
    assert (doc_sent["file_name"], doc_sent["mime_type"]) == ("brief.pdf", "application/pdf")
    assert doc_message.document is not None
    assert bot_api.file_bytes(doc_message.document.file_id) == b"brief"
    assert again.photo == photo_message.photo
    assert again_sent["file_id"] == photo_sent["file_id"]


async def test_429_raises_retry_after_then_succeeds(bot: Bot, bot_api: BotApiStub) -> None:
    bot_api.fail("sendMessage", 429, retry_after=7)

    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(42, "hallo")
    await bot.send_message(42, "hallo")

    assert raised.value.retry_after == dtm.timedelta(seconds=7)
    assert [r["status"] for r in bot_api.requests("sendMessage")] == [429, 200]
    assert len(bot_api.sent(42)) == 1


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_raise_network_error(
    bot: Bot, bot_api: BotApiStub, status: int
) -> None:
    bot_api.fail("sendmessage", status, count=2)

    for _ in range(2):
        with pytest.raises(NetworkError) as raised:
            await bot.send_message(42, "hallo")
        assert type(raised.value) is NetworkError  # not a BadRequest, which subclasses it
    await bot.send_message(42, "hallo")

    assert [r["status"] for r in bot_api.requests("sendMessage")] == [status, status, 200]


async def test_any_method_fault_and_custom_description(bot: Bot, bot_api: BotApiStub) -> None:
    bot_api.fail("*", 403, description="Forbidden: bot was blocked by the user")

    with pytest.raises(Exception, match="blocked by the user"):
        await bot.get_updates()
    assert await bot.get_updates() == ()


async def test_webhook_commands_and_delete(bot: Bot, bot_api: BotApiStub) -> None:
    bot_api.send_text(42, 42, "oud")
    assert (await bot.get_webhook_info()).pending_update_count == 1
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert bot_api.pending_updates() == []

    assert await bot.set_my_commands([("status", "Status van uw verzoek")])
    assert bot_api.commands() == [{"command": "status", "description": "Status van uw verzoek"}]
    assert [c.command for c in await bot.get_my_commands()] == ["status"]

    sent = await bot.send_message(42, "weg ermee")
    assert await bot.delete_message(42, sent.message_id)
    assert bot_api.deleted(42) == [{"chat_id": 42, "message_id": sent.message_id}]
    assert bot_api.message(42, sent.message_id) is None
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(42, sent.message_id)


async def test_reset_forgets_all_but_update_ids_keep_rising(bot: Bot, bot_api: BotApiStub) -> None:
    before = bot_api.send_text(42, 42, "een")
    await bot.send_message(42, "twee")
    bot_api.fail("sendMessage", 500, count=5)

    bot_api.reset()

    assert bot_api.pending_updates() == [] and bot_api.sent() == [] and bot_api.requests() == []
    assert (await bot.send_message(42, "drie")).message_id == 1
    assert bot_api.send_text(42, 42, "vier") > before


def test_impossible_user_actions_are_refused(bot_api: BotApiStub) -> None:
    with pytest.raises(StubError, match="private chat"):
        bot_api.send_text(42, 43, "hallo")
    with pytest.raises(StubError, match="no button"):
        bot_api.press_button(42, 42, 1, "yes")
    with pytest.raises(StubError, match="does not serve"):
        bot_api.fail("sendTelepathy", 500)


def test_waiting_for_what_the_bot_sends_times_out_clearly(bot_api: BotApiStub) -> None:
    with pytest.raises(StubError, match="sent: 0 of 1"):
        bot_api.wait_sent(chat_id=42, within=0.2)
