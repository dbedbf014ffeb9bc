"""Text and keyboards as the API reads them: user entities, parse modes, inline keyboards."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser
from typing import Any

from tests.servers.bot_api.api import JSONDict, bad_request

_INLINE_ACTIONS = (
    "callback_data url login_url web_app switch_inline_query switch_inline_query_current_chat"
    " switch_inline_query_chosen_chat copy_text callback_game pay".split()
)


def _utf16_len(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units, as in the real API."""
    return len(text.encode("utf-16-le")) // 2


# What Telegram's clients mark up in a user's text (phone numbers, hashtags etc. left out).
_USER_ENTITIES = [
    (
        "bot_command",
        re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])"),
    ),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?![\w-])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?![\w@])")),
    ("url", re.compile(r"\bhttps?://[^\s<>]+[^\s<>.,;:!?)]")),
]


def user_entities(text: str) -> list[JSONDict]:
    """The entities Telegram attaches to a user's text: "/status AVG-2026-0001" gets a
    bot_command, "jan@example.nl" an email, "@name" a mention, "https://..." a url."""
    found = [
        {
            "type": kind,
            "offset": _utf16_len(text[: match.start()]),
            "length": _utf16_len(match.group()),
        }
        for kind, pattern in _USER_ENTITIES
        for match in pattern.finditer(text)
    ]
    return sorted(found, key=lambda e: e["offset"])


class _ParseError(Exception):
    pass


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHtml(HTMLParser):
    """parse_mode=HTML: the plain text and its entities, or the error the API gives."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._line_starts = [0, *(m.end() for m in re.finditer("\n", source))]
        self._parts: list[str] = []
        self._pos = 0
        self._open: list[tuple[str, int, JSONDict]] = []
        self.entities: list[JSONDict] = []

    def parse(self) -> str:
        self.feed(self._source)
        self.close()
        if self._open:
            tag = self._open[-1][0]
            raise _ParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self._parts)

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        return len(self._source[: self._line_starts[line - 1] + column].encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = _HTML_TAGS.get(tag)
        attributes = dict(attrs)
        if kind is None or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise _ParseError(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        entity: JSONDict = {"type": kind}
        if tag == "a":
            entity["url"] = attributes.get("href") or ""
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attributes.get("emoji-id") or ""
        elif tag == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        self._open.append((tag, self._pos, entity))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1][0] != tag:
            expected = f'expected "</{self._open[-1][0]}>", ' if self._open else ""
            raise _ParseError(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'{expected}found "</{tag}>"'
            )
        _, start, entity = self._open.pop()
        if self._pos > start:
            self.entities.append({**entity, "offset": start, "length": self._pos - start})

    def handle_data(self, data: str) -> None:
        self._parts.append(data)
        self._pos += _utf16_len(data)


_MARKDOWN_V2_NAMES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough"}
_MARKDOWN_V2_NAMES["||"] = "Spoiler"
_MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")


def _find_unescaped(source: str, needle: str, start: int) -> int:
    i = start
    while i < len(source):
        if source[i] == "\\":
            i += 2
            continue
        if source.startswith(needle, i):
            return i
        i += 1
    return -1


def _markdown_text(source: str, *, v2: bool) -> str:
    """The plain text of a Markdown or MarkdownV2 text; _ParseError where the API refuses it.

    Only the mistakes the API certainly refuses: unescaped reserved characters (MarkdownV2) and
    unclosed entities. The entities themselves are not reported.
    """
    out: list[str] = []
    open_: list[tuple[str, int]] = []
    names = _MARKDOWN_V2_NAMES if v2 else {"*": "Bold", "_": "Italic"}
    i = 0
    while i < len(source):
        c = source[i]
        if c == "\\" and i + 1 < len(source) and (v2 or source[i + 1] in "_*`["):
            out.append(source[i + 1])
            i += 2
            continue
        if c == "`":
            fence = "```" if source.startswith("```", i) else "`"
            end = _find_unescaped(source, fence, i + len(fence))
            if end < 0:
                name = "Pre" if len(fence) == 3 else "Code"
                offset = len(source[:i].encode())
                raise _ParseError(f"Can't find end of {name} entity at byte offset {offset}")
            body = source[i + len(fence) : end]
            if len(fence) == 3 and "\n" in body:
                body = body.split("\n", 1)[1]  # the first line names the language
            out.append(re.sub(r"\\(.)", r"\1", body) if v2 else body)
            i = end + len(fence)
            continue
        token = next((t for t in ("__", "||") if v2 and source.startswith(t, i)), c)
        if token in names:
            if open_ and open_[-1][0] == token:
                open_.pop()
            else:
                open_.append((token, i))
            i += len(token)
            continue
        if c == "[":
            open_.append(("[", i))
            i += 1
            continue
        if c == "]" and open_ and open_[-1][0] == "[":
            open_.pop()
            i += 1
            if source.startswith("(", i):
                end = _find_unescaped(source, ")", i + 1)
                if end < 0:
                    offset = len(source[:i].encode())
                    raise _ParseError(f"Can't find end of a URL at byte offset {offset}")
                i = end + 1
            continue
        if v2 and c == ">" and (i == 0 or source[i - 1] == "\n"):
            i += 1  # a blockquote line
            continue
        if v2 and c in _MARKDOWN_V2_RESERVED:
            raise _ParseError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(c)
        i += 1
    if open_:
        token, at = open_[-1]
        offset = len(source[:at].encode())
        if not v2:
            raise _ParseError(f"Can't find end of the entity starting at byte offset {offset}")
        name = "TextUrl" if token == "[" else names[token]
        raise _ParseError(f"Can't find end of {name} entity at byte offset {offset}")
    return "".join(out)


def render(text: str, parse_mode: Any, entities: Any) -> tuple[str, list[JSONDict]]:
    """The text a user sees and its entities, as the API derives them from a bot's text."""
    mode = str(parse_mode or "").lower()
    try:
        if mode == "html":
            parser = _TelegramHtml(text)
            return parser.parse(), parser.entities
        if mode in ("markdown", "markdownv2"):
            return _markdown_text(text, v2=mode == "markdownv2"), []
    except _ParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    if mode:
        raise bad_request("unsupported parse_mode")
    return text, list(entities) if isinstance(entities, list) else []


def check_markup(markup: Any) -> JSONDict | None:
    """Validates reply_markup; returns the inline keyboard a message keeps, if any."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return None  # reply keyboards, ForceReply, ReplyKeyboardRemove: not part of the message
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be an Array of Array')
    for button in itertools.chain.from_iterable(rows):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise bad_request(
                'can\'t parse inline keyboard button: Field "text" must be of type String'
            )
        if not any(action in button for action in _INLINE_ACTIONS):
            raise bad_request(
                "can't parse inline keyboard button: "
                "Text buttons are unallowed in the inline keyboard"
            )
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
        url = button.get("url")
        if url is not None and not re.fullmatch(r"(https?|tg)://\S+", str(url)):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return {"inline_keyboard": rows}


def inline_buttons(message: JSONDict) -> list[tuple[str, Any, bool]]:
    markup = message.get("reply_markup") or {}
    return [
        (str(b.get("text")), b.get("callback_data", b.get("url")), "callback_data" in b)
        for b in itertools.chain.from_iterable(markup.get("inline_keyboard") or [])
        if isinstance(b, dict)
    ]


def buttons(message: JSONDict) -> list[tuple[str, str | None]]:
    """(text, callback_data or url) of each button, row by row.

    Takes a Message dict or a sent()/edits() record (it reads the record's reply_markup as the
    bot sent it). Reply-keyboard buttons give (text, None).
    """
    markup = message.get("reply_markup")
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    result: list[tuple[str, str | None]] = []
    for button in itertools.chain.from_iterable(rows):
        if isinstance(button, str):
            result.append((button, None))
        else:
            value = button.get("callback_data", button.get("url"))
            result.append((str(button.get("text", "")), None if value is None else str(value)))
    return result
