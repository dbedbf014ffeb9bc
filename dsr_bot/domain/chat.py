"""The conversation in a person's private chat, as a pure state machine.

    new --text--> confirm --Ja--> email --address or "weet ik niet"--> open (a case exists)
           \\--unsure--> choose --kind--/      ^
    confirm --Nee--> choose                    |
    open: text and files go to the case; /nieuw, or the case closing, starts anew.

`step` takes where the chat stands, one update and (for free text) what the classifier made
of it, and returns the new state and what to do. The service carries the actions out in one
transaction with the update offset, so a restart repeats nothing and loses nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dsr_bot.domain.cases import RequestKind

MAX_TEXT = 20_000  # what a conversation collects before the case exists
_EMAIL = re.compile(r"[^@\s<>()\[\],;:\"']+@[^@\s<>()\[\],;:\"']+\.[^@\s<>()\[\],;:\"']{2,}")


class ChatState(enum.StrEnum):
    NEW = "new"
    CONFIRM = "confirm"  # asked whether we understood the request
    CHOOSE = "choose"  # asked what the request is about
    EMAIL = "email"  # asked which e-mail address the person uses with us
    OPEN = "open"  # a case is open for this chat


@dataclass(frozen=True, slots=True)
class ChatFile:
    file_id: str
    kind: str  # "photo" or "document"
    content_type: str
    size: int | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ChatUpdate:
    """One Bot API update, protocol details stripped (channels/telegram.py makes these)."""

    update_id: int
    chat_id: int
    private: bool
    at: datetime
    user_id: int | None = None
    user_name: str | None = None
    language_code: str | None = None
    message_id: int | None = None
    text: str = ""  # the text, or a file's caption
    command: str | None = None  # "start" for "/start@SomeBot"
    args: str = ""
    button: str | None = None  # callback data of a pressed inline button
    callback_id: str | None = None
    button_message_text: str = ""  # the text of the message the button sits under
    file: ChatFile | None = None

    @property
    def unsupported(self) -> bool:
        """A sticker, voice note, location...: nothing the bot can read."""
        return not (self.text or self.command or self.button or self.file)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What the classifier made of the text so far."""

    kinds: tuple[str, ...]
    confident: bool
    language: str


@dataclass(frozen=True, slots=True)
class Conversation:
    state: ChatState = ChatState.NEW
    language: str = "nl"
    text: str = ""  # what the person wrote about the request, BSN-masked
    kinds: tuple[str, ...] = ()  # suggested, then confirmed
    suggested: tuple[str, ...] = ()  # the classifier's suggestion, kept for the case log
    started_at: datetime | None = None
    first_message: int | None = None  # Telegram message id of the first text
    case_id: int | None = None
    reference: str | None = None

    def data(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kinds": list(self.kinds),
            "suggested": list(self.suggested),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "first_message": self.first_message,
            "reference": self.reference,
        }

    @classmethod
    def load(
        cls, state: str, language: str, data: dict[str, Any], case_id: int | None
    ) -> Conversation:
        started = data.get("started_at")
        return cls(
            state=ChatState(state),
            language=language,
            text=str(data.get("text") or ""),
            kinds=tuple(data.get("kinds") or ()),
            suggested=tuple(data.get("suggested") or ()),
            started_at=datetime.fromisoformat(started) if started else None,
            first_message=data.get("first_message"),
            case_id=case_id,
            reference=data.get("reference"),
        )


# --- what to do ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Button:
    text_key: str  # a label from LABELS, in the chat's language
    data: str


@dataclass(frozen=True, slots=True)
class Say:
    """A message to the chat: a prompt template (templates/<lang>/chat/<prompt>.j2)."""

    prompt: str
    context: dict[str, Any] = field(default_factory=dict)
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Answered:
    """A button was understood: the question it sat under shows the answer, buttons gone."""

    label_key: str


@dataclass(frozen=True, slots=True)
class Stale:
    """A button of a question that was answered already, or of another conversation."""


@dataclass(frozen=True, slots=True)
class OpenCase:
    kinds: tuple[str, ...]
    suggested: tuple[str, ...]
    text: str
    email: str | None
    started_at: datetime
    first_message: int | None


@dataclass(frozen=True, slots=True)
class ToCase:
    """The update is a message on the chat's open case (text, an ID photo, a document)."""


@dataclass(frozen=True, slots=True)
class Status:
    reference: str | None


Action = Say | Answered | Stale | OpenCase | ToCase | Status

KIND_ORDER = tuple(k.value for k in RequestKind)
YES, NO, ELSE, NO_EMAIL, KIND = "yes", "no", "else", "noemail", "kind:"


def needs_suggestion(conv: Conversation, update: ChatUpdate) -> bool:
    """Whether `step` wants the classifier's view of this update's text."""
    return (
        bool(update.text)
        and update.command is None
        and update.button is None
        and update.file is None
        and conv.state in (ChatState.NEW, ChatState.CONFIRM, ChatState.CHOOSE)
    )


def step(
    conv: Conversation, update: ChatUpdate, suggestion: Suggestion | None = None
) -> tuple[Conversation, list[Action]]:
    """The next state of a private chat and what to do, for one update."""
    if update.command is not None:
        return _command(conv, update)
    if update.button is not None:
        return _button(conv, update)
    if conv.state is ChatState.OPEN:
        if update.unsupported:
            return conv, [Say("unsupported")]
        return conv, [ToCase()]
    if update.file is not None:
        # Not kept: nothing asked for it yet, and an ID copy is only taken for a case.
        return conv, [Say("file_too_early")]
    if update.unsupported or not update.text.strip():
        return conv, [Say("unsupported")]
    if conv.state is ChatState.EMAIL:
        return _email(conv, update)
    return _request_text(conv, update, suggestion)


def _command(conv: Conversation, update: ChatUpdate) -> tuple[Conversation, list[Action]]:
    name = update.command
    if name in ("start", "help", "hulp"):
        language = _language_of_user(update.language_code, conv)
        if conv.state is ChatState.NEW:
            conv = dataclasses.replace(conv, language=language)
        return conv, [Say("greeting", {"reference": conv.reference})]
    if name == "status":
        reference = update.args.split()[0].upper() if update.args.split() else conv.reference
        return conv, [Status(reference)]
    if name in ("nieuw", "new"):
        fresh = Conversation(language=conv.language)
        return fresh, [Say("new_request")]
    return conv, [Say("unknown_command")]


def _button(conv: Conversation, update: ChatUpdate) -> tuple[Conversation, list[Action]]:
    data = update.button or ""
    if conv.state is ChatState.CONFIRM and data in (YES, NO, ELSE):
        if data == YES:
            return _ask_email(conv, conv.kinds, "yes")
        if data == ELSE:
            return _ask_email(conv, (RequestKind.OTHER.value,), "else")
        return dataclasses.replace(conv, state=ChatState.CHOOSE), [
            Answered("no"),
            _choose(),
        ]
    if conv.state is ChatState.CHOOSE and data.startswith(KIND):
        kind = data.removeprefix(KIND)
        if kind in KIND_ORDER:
            return _ask_email(conv, (kind,), f"kind_{kind}")
    if conv.state is ChatState.EMAIL and data == NO_EMAIL:
        return _open(conv, None, Answered("no_email"))
    return conv, [Stale()]


def _request_text(
    conv: Conversation, update: ChatUpdate, suggestion: Suggestion | None
) -> tuple[Conversation, list[Action]]:
    """Free text about the request: kept, and what we understood is put to the person."""
    text = f"{conv.text}\n\n{update.text}".strip() if conv.text else update.text.strip()
    conv = dataclasses.replace(
        conv,
        text=text[:MAX_TEXT],
        started_at=conv.started_at or update.at,
        first_message=conv.first_message or update.message_id,
    )
    if suggestion is not None:
        conv = dataclasses.replace(conv, language=suggestion.language)
    kinds = tuple(k for k in KIND_ORDER if suggestion and k in suggestion.kinds)
    if suggestion is None or not suggestion.confident or not kinds or kinds == ("other",):
        return dataclasses.replace(conv, state=ChatState.CHOOSE, suggested=kinds), [_choose()]
    conv = dataclasses.replace(conv, state=ChatState.CONFIRM, kinds=kinds, suggested=kinds)
    return conv, [
        Say(
            "confirm",
            {"kinds": list(kinds)},
            ((Button("yes", YES), Button("no", NO), Button("else", ELSE)),),
        )
    ]


def _choose() -> Say:
    kinds = [k for k in KIND_ORDER if k != "other"]
    rows = tuple(
        tuple(Button(f"kind_{k}", f"{KIND}{k}") for k in kinds[i : i + 2])
        for i in range(0, len(kinds), 2)
    )
    return Say("choose", {}, (*rows, (Button("kind_other", f"{KIND}other"),)))


def _ask_email(
    conv: Conversation, kinds: tuple[str, ...], answered: str
) -> tuple[Conversation, list[Action]]:
    conv = dataclasses.replace(conv, state=ChatState.EMAIL, kinds=kinds)
    return conv, [
        Answered(answered),
        Say("ask_email", {}, ((Button("no_email", NO_EMAIL),),)),
    ]


def _email(conv: Conversation, update: ChatUpdate) -> tuple[Conversation, list[Action]]:
    found = _EMAIL.search(update.text)
    if found is None:
        return conv, [Say("bad_email", {}, ((Button("no_email", NO_EMAIL),),))]
    return _open(conv, found.group(0).strip(".").lower())


def _open(
    conv: Conversation, email: str | None, *before: Action
) -> tuple[Conversation, list[Action]]:
    assert conv.started_at is not None  # noqa: S101 - type narrowing only
    action = OpenCase(
        kinds=conv.kinds,
        suggested=conv.suggested,
        text=conv.text,
        email=email,
        started_at=conv.started_at,
        first_message=conv.first_message,
    )
    # The service fills in the case once it exists.
    return dataclasses.replace(conv, state=ChatState.OPEN, text=""), [*before, action]


def opened(conv: Conversation, case_id: int, reference: str) -> Conversation:
    return dataclasses.replace(conv, case_id=case_id, reference=reference, kinds=(), suggested=())


def closed(conv: Conversation) -> Conversation:
    """The chat's case was closed: a new message starts a new request."""
    return Conversation(language=conv.language)


def _language_of_user(code: str | None, conv: Conversation) -> str:
    if conv.state is not ChatState.NEW:
        return conv.language
    return "en" if (code or "").lower().startswith("en") else "nl"


def parse_command(text: str) -> tuple[str, str] | None:
    """("status", "AVG-2026-0042") for "/status@OurBot AVG-2026-0042"; None if not a command."""
    if not text.startswith("/"):
        return None
    head, _, args = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name.isalnum():
        return None
    return name, args.strip()


# Button labels, by language.
LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "yes": "Ja",
        "no": "Nee",
        "else": "Iets anders",
        "no_email": "Dat weet ik niet",
        "kind_access": "Inzage",
        "kind_rectification": "Verbeteren",
        "kind_erasure": "Verwijderen",
        "kind_restriction": "Beperken",
        "kind_portability": "Meenemen",
        "kind_objection": "Bezwaar / afmelden",
        "kind_complaint": "Klacht",
        "kind_other": "Iets anders",
    },
    "en": {
        "yes": "Yes",
        "no": "No",
        "else": "Something else",
        "no_email": "I don't know",
        "kind_access": "Access",
        "kind_rectification": "Correct",
        "kind_erasure": "Erase",
        "kind_restriction": "Restrict",
        "kind_portability": "Take my data",
        "kind_objection": "Object / unsubscribe",
        "kind_complaint": "Complaint",
        "kind_other": "Something else",
    },
}
