"""The private-chat conversation: what the bot asks next, for each thing a person may do."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from dsr_bot.domain.chat import (
    Answered,
    ChatFile,
    ChatState,
    ChatUpdate,
    Conversation,
    OpenCase,
    Say,
    Stale,
    Status,
    Suggestion,
    ToCase,
    needs_suggestion,
    parse_command,
    step,
)

AT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
SURE_ACCESS = Suggestion(("access",), confident=True, language="nl")


def text(words: str, message_id: int = 10) -> ChatUpdate:
    return ChatUpdate(
        update_id=message_id, chat_id=42, private=True, at=AT, message_id=message_id, text=words
    )


def press(data: str) -> ChatUpdate:
    return ChatUpdate(
        update_id=99,
        chat_id=42,
        private=True,
        at=AT,
        message_id=5,
        button=data,
        callback_id="cb",
        button_message_text="Wilt u ...?",
    )


def command(name: str, args: str = "", language_code: str | None = None) -> ChatUpdate:
    return ChatUpdate(
        update_id=1,
        chat_id=42,
        private=True,
        at=AT,
        command=name,
        args=args,
        language_code=language_code,
    )


def says(actions: Sequence[object]) -> list[str]:
    return [a.prompt for a in actions if isinstance(a, Say)]


def test_a_clear_request_is_confirmed_with_yes_no_and_something_else() -> None:
    conv, actions = step(Conversation(), text("Ik wil mijn gegevens inzien"), SURE_ACCESS)
    assert conv.state is ChatState.CONFIRM
    [say] = actions
    assert isinstance(say, Say) and say.prompt == "confirm"
    assert say.context == {"kinds": ["access"]}
    assert [b.data for b in say.buttons[0]] == ["yes", "no", "else"]


def test_yes_asks_for_the_email_address_then_opens_the_case_with_it() -> None:
    conv, _ = step(Conversation(), text("Ik wil mijn gegevens inzien", 7), SURE_ACCESS)
    conv, actions = step(conv, press("yes"))
    assert conv.state is ChatState.EMAIL
    assert isinstance(actions[0], Answered) and actions[0].label_key == "yes"
    assert says(actions) == ["ask_email"]
    conv, actions = step(conv, text("Mijn adres is Anna.de.Vries@Example.NL."))
    [opened] = actions
    assert isinstance(opened, OpenCase)
    assert opened.kinds == ("access",) and opened.email == "anna.de.vries@example.nl"
    assert opened.text == "Ik wil mijn gegevens inzien" and opened.first_message == 7
    assert conv.state is ChatState.OPEN


def test_something_that_is_not_an_address_is_asked_again() -> None:
    conv = Conversation(state=ChatState.EMAIL, kinds=("erasure",), text="wis", started_at=AT)
    after, actions = step(conv, text("weet ik niet meer"))
    assert after == conv and says(actions) == ["bad_email"]


def test_i_dont_know_the_address_still_opens_the_case() -> None:
    conv = Conversation(state=ChatState.EMAIL, kinds=("erasure",), text="wis", started_at=AT)
    _, actions = step(conv, press("noemail"))
    opened = actions[-1]
    assert isinstance(opened, OpenCase) and opened.email is None


def test_no_offers_the_list_of_kinds_and_a_choice_is_taken() -> None:
    conv, _ = step(Conversation(), text("Ik wil mijn gegevens inzien"), SURE_ACCESS)
    conv, actions = step(conv, press("no"))
    assert conv.state is ChatState.CHOOSE and says(actions) == ["choose"]
    choose = next(a for a in actions if isinstance(a, Say))
    offered = [b.data for row in choose.buttons for b in row]
    assert "kind:erasure" in offered and "kind:objection" in offered and "kind:other" in offered
    conv, _ = step(conv, press("kind:erasure"))
    assert conv.state is ChatState.EMAIL and conv.kinds == ("erasure",)


@pytest.mark.parametrize(
    "suggestion",
    [
        None,
        Suggestion(("access",), confident=False, language="nl"),
        Suggestion((), confident=True, language="nl"),
    ],
)
def test_when_unsure_it_asks_a_clarifying_question(suggestion: Suggestion | None) -> None:
    conv, actions = step(Conversation(), text("Hallo, ik heb een vraag"), suggestion)
    assert conv.state is ChatState.CHOOSE and says(actions) == ["choose"]


def test_more_text_while_asked_is_added_and_judged_again() -> None:
    conv, _ = step(Conversation(), text("Hallo", 1), None)
    conv, actions = step(conv, text("Verwijder al mijn gegevens", 2), SURE_ACCESS)
    assert conv.text == "Hallo\n\nVerwijder al mijn gegevens"
    assert conv.first_message == 1 and says(actions) == ["confirm"]


def test_the_language_follows_what_the_person_wrote() -> None:
    english = Suggestion(("erasure",), confident=True, language="en")
    conv, _ = step(Conversation(), text("Please delete my data"), english)
    assert conv.language == "en"


def test_a_button_of_an_answered_question_is_stale() -> None:
    conv = Conversation(state=ChatState.OPEN, case_id=1, reference="AVG-2026-0001")
    after, actions = step(conv, press("yes"))
    assert after == conv and isinstance(actions[0], Stale)


def test_in_an_open_case_text_and_files_go_to_the_case() -> None:
    conv = Conversation(state=ChatState.OPEN, case_id=1, reference="AVG-2026-0001")
    photo = dataclasses.replace(text(""), file=ChatFile("f1", "photo", "image/jpeg", 1000))
    for update in (text("Hier is nog iets"), photo):
        after, actions = step(conv, update)
        assert after == conv and isinstance(actions[0], ToCase)


def test_a_file_before_there_is_a_case_is_not_taken() -> None:
    photo = dataclasses.replace(text(""), file=ChatFile("f1", "photo", "image/jpeg", 1000))
    conv, actions = step(Conversation(), photo)
    assert conv.state is ChatState.NEW and says(actions) == ["file_too_early"]
    assert not needs_suggestion(Conversation(), photo)


def test_start_greets_in_the_language_of_the_telegram_app() -> None:
    conv, actions = step(Conversation(), command("start", language_code="en-GB"))
    assert conv.language == "en" and says(actions) == ["greeting"]
    conv, _ = step(Conversation(), command("start", language_code="nl"))
    assert conv.language == "nl"


def test_status_takes_the_reference_given_or_the_chats_own() -> None:
    _, actions = step(Conversation(), command("status", "avg-2026-0042"))
    assert actions == [Status("AVG-2026-0042")]
    conv = Conversation(state=ChatState.OPEN, case_id=1, reference="AVG-2026-0001")
    _, actions = step(conv, command("status"))
    assert actions == [Status("AVG-2026-0001")]


def test_new_starts_a_new_request_even_with_a_case_open() -> None:
    conv = Conversation(state=ChatState.OPEN, case_id=1, reference="AVG-2026-0001", language="en")
    after, actions = step(conv, command("new"))
    assert after.state is ChatState.NEW and after.case_id is None and after.language == "en"
    assert says(actions) == ["new_request"]


def test_a_conversation_survives_being_stored_and_read_back() -> None:
    conv, _ = step(Conversation(), text("Ik wil mijn gegevens inzien", 3), SURE_ACCESS)
    again = Conversation.load(conv.state.value, conv.language, conv.data(), conv.case_id)
    assert again == conv


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("/start", ("start", "")),
        ("/status@AwlPrivacyBot AVG-2026-0042", ("status", "AVG-2026-0042")),
        ("/Nieuw", ("nieuw", "")),
        ("gewoon tekst", None),
        ("/ spaties", None),
    ],
)
def test_commands_are_read_as_telegram_sends_them(raw: str, parsed: tuple[str, str] | None) -> None:
    assert parse_command(raw) == parsed
