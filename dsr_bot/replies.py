"""Rendering messages to data subjects from Jinja2 templates in templates/<language>/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from dsr_bot.errors import ConfigError

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("nl", "en")

_MONTHS = {
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "en": "January February March April May June July August September October November December",
}
_WEEKDAYS = {
    "nl": "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
}


def long_date(day: date, language: str) -> str:
    """'vrijdag 23 december 2026': written out, so nobody misreads 03-12 as March."""
    month = _MONTHS[language].split()[day.month - 1]
    weekday = _WEEKDAYS[language].split()[day.weekday()]
    return f"{weekday} {day.day} {month} {day.year}"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


class Replies:
    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        if not templates_dir.is_dir():
            raise ConfigError(f"templates directory not found: {templates_dir}")
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # noqa: S701 - plain-text mail, never rendered as HTML
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # no stat() per render: templates change with a restart
        )
        self._env.filters["long_date"] = long_date

    def render(self, template: str, language: str, **context: Any) -> Rendered:
        if language not in LANGUAGES:
            language = "nl"
        context = {"language": language, **context}
        subject = self._env.get_template(f"{language}/{template}.subject.j2").render(context)
        body = self._env.get_template(f"{language}/{template}.body.j2").render(context)
        return Rendered(subject=" ".join(subject.split()), body=body.strip() + "\n")
