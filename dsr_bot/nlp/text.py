"""The text the classifier sees: subject and new text, without quoted history, bounded in size.

The same preparation runs in training and in the bot, so the model never learns from, or is
misled by, an earlier message quoted below a reply.
"""

from __future__ import annotations

import re

MAX_CHARS = 3000  # requests are stated early; this bounds the cost of a 30-page letter

# A line that starts the quoted earlier message; everything from it on is history.
_HISTORY = re.compile(
    r"^(?:"
    r"-{2,}\s*(?:original message|oorspronkelijk bericht|origineel bericht|forwarded message|"
    r"doorgestuurd bericht)\s*-{2,}"
    r"|_{10,}"
    r"|(?:on|op)\s.{4,120}\s(?:wrote|schreef)(?:\s.{0,80})?:"
    r"|(?:from|van):\s.+\n(?:.*\n){0,2}(?:sent|verzonden|date|datum):"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED = re.compile(r"^[ \t]*>.*$\n?", re.MULTILINE)
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|fw|fwd|antw|doorst)\s*:\s*)+", re.IGNORECASE)


def strip_history(body: str) -> str:
    """The body without quoted lines and without the earlier message below a reply header."""
    match = _HISTORY.search(body)
    if match is not None and match.start() > 0:
        body = body[: match.start()]
    return _QUOTED.sub("", body)


def prepare(subject: str, body: str) -> str:
    subject = _REPLY_PREFIX.sub("", subject).strip()
    text = strip_history(body.replace("\r\n", "\n"))
    text = _BLANK_LINES.sub("\n\n", _SPACES.sub(" ", text)).strip()
    if subject and not text.startswith(subject):
        text = f"{subject}\n{text}"
    return text[:MAX_CHARS]
