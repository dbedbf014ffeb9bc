"""Checking a reply template an admin wrote, before it is saved.

The text is parsed, its variables are compared with what the code passes to that template, and
it is rendered with sample values in variants that reach every branch (SAMPLES, kept in step
with the callers of Replies.render by tests/test_reply_overrides.py). A macro file is tried
through every mail of its language. What is wrong is said in Dutch, for the admin; a typo must
not stop the bot from writing mail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.exceptions import SecurityError

from dsr_bot.replies import (
    TEMPLATES_DIR,
    TemplateFile,
    builtin_text,
    environment,
    render_with,
    template_files,
    template_loader,
)

MAX_TEMPLATE_CHARS = 50_000

_DAY = date(2026, 3, 2)  # a Monday
_PERSON: dict[str, Any] = {
    "name": "Fatima el Amrani",
    "reference": "AVG-2026-0042",
    "received_on": _DAY,
    "organisation": "Academie Werkend Leren",
    "parent_organisation": "Onderwijs.pro Opleidingen",
    "email": "info@academiewerkendleren.nl",
    "website": "academiewerkendleren.nl",
}
_CASE_ROW = {
    "reference": "AVG-2026-0041",
    "kinds": ["access"],
    "deadline": date(2026, 3, 30),
    "which": "belofte",
    "working_days_left": 2,
}

# What the code passes to each template (see the callers of Replies.render and
# IdentityDesk.render), in variants that reach every branch, so a replacement is tried the way
# the bot will use it.
SAMPLES: dict[str, tuple[dict[str, Any], ...]] = {
    "acknowledgement": tuple(
        {
            **_PERSON,
            "name": name,
            "promise_on": date(2026, 3, 30),
            "identity": check,
            "code": code,
            "channel": channel,
        }
        for name, check, code, channel in (
            (_PERSON["name"], None, None, "email"),
            (_PERSON["name"], "copy", None, "email"),
            (None, "code", "483 921", "email"),
            (_PERSON["name"], "copy", None, "telegram"),
        )
    ),
    "complaint_acknowledgement": tuple(
        {**_PERSON, "promise_on": date(2026, 3, 30), "channel": channel}
        for channel in ("email", "telegram")
    ),
    "extension_notice": tuple(
        {
            **_PERSON,
            "reasons": "Uw verzoek gaat over drie systemen.",
            "new_due": date(2026, 6, 2),
            "channel": channel,
        }
        for channel in ("email", "telegram")
    ),
    "refusal_notice": tuple(
        {**_PERSON, "reasons": "Uw verzoek gaat over een ander.", "channel": channel}
        for channel in ("email", "telegram")
    ),
    "answer": tuple(
        {
            **_PERSON,
            "name": name,
            "reasons": "",
            "text": "Hierbij sturen wij u uw gegevens.",
            "channel": channel,
        }
        for name, channel in ((_PERSON["name"], "email"), (None, "telegram"))
    ),
    "id_request": tuple(
        {**_PERSON, "channel": channel, "reason": reason}
        for channel, reason in (("email", None), ("telegram", "Een ander e-mailadres."))
    ),
    "id_reminder": tuple(
        {
            **_PERSON,
            "channel": channel,
            "identity": identity,
            "code": "483 921" if identity == "code" else None,
            "requested_on": date(2026, 3, 3),
            "close_on": date(2026, 3, 31),
            "step": step,
            "last": step == 2,
        }
        for identity, channel, step in (
            ("copy", "email", 1),
            ("copy", "telegram", 2),
            ("code", "email", 2),
            ("code", "telegram", 1),
        )
    ),
    "id_copy_unshielded": tuple(
        {**_PERSON, "channel": channel, "fields": fields, "unreadable": not fields}
        for channel, fields in (("email", ["photo", "bsn"]), ("telegram", []))
    ),
    "identity_not_verified": tuple(
        {**_PERSON, "channel": channel, "identity": identity, "requested_on": date(2026, 3, 3)}
        for identity, channel in (("copy", "email"), ("code", "telegram"))
    ),
    "staff_reminder": tuple(
        {
            "reference": "AVG-2026-0042",
            "kinds": kinds,
            "kind": kind,
            "deadline": date(2026, 3, 30),
            "working_days_left": left,
        }
        for kind, kinds, left in (("promise_near", ["access"], 3), ("legal_near", [], 0))
    ),
    "staff_escalation": tuple(
        {
            "reference": "AVG-2026-0042",
            "kinds": ["portability"],
            "kind": kind,
            "deadline": date(2026, 4, 2),
            "working_days_left": left,
            "extension_possible": possible,
            "extended_due": date(2026, 6, 2),
        }
        for kind, left, possible in (
            ("promise_overdue", -1, False),
            ("legal_overdue", -3, False),
            ("extension_prompt", 5, True),
            ("extension_prompt", 0, False),
        )
    ),
    "staff_task_assigned": tuple(
        {
            "reference": "AVG-2026-0042",
            "kinds": kinds,
            "title": "Zoek in het CRM",
            "assigned_by": "petra@academiewerkendleren.nl",
            "promise_due": date(2026, 3, 30) if dated else None,
            "legal_due": date(2026, 4, 2) if dated else None,
            "extended": extended,
            "paused": paused,
            "url": "https://console.example/cases/AVG-2026-0042",
        }
        for kinds, dated, extended, paused in (
            (["access", "erasure"], True, False, False),
            ([], True, True, True),
            (["other"], False, False, False),
        )
    ),
    "staff_digest": (
        {
            "today": date(2026, 3, 27),
            "open_count": 12,
            "triage_count": 3,
            "due_soon": [_CASE_ROW],
            "overdue": [{**_CASE_ROW, "which": "wettelijk", "working_days_left": -2}],
            "due_soon_total": 4,
            "overdue_total": 1,
        },
        {
            "today": date(2026, 3, 27),
            "open_count": 0,
            "triage_count": 0,
            "due_soon": [],
            "overdue": [],
            "due_soon_total": 0,
            "overdue_total": 0,
        },
    ),
}


def sample_variables(template: str) -> list[str]:
    """The names a template may use, for the help text next to the editor."""
    names = {"language"}
    for variant in SAMPLES.get(template, ()):
        names |= variant.keys()
    return sorted(names)


def check_template(
    file: TemplateFile,
    text: str,
    *,
    override_dir: Path | None,
    templates_dir: Path = TEMPLATES_DIR,
) -> str | None:
    """What is wrong with `text` as a replacement for `file`, in Dutch for the admin who wrote
    it; None when it parses and renders with every sample it will meet."""
    if len(text) > MAX_TEMPLATE_CHARS:
        return f"De tekst is te lang (meer dan {MAX_TEMPLATE_CHARS} tekens)."
    if not file.is_macros and not text.strip():
        return "De tekst is leeg. Een bericht heeft tekst nodig."
    trial_name = f"{file.path} (nieuwe tekst)"
    loader = jinja2.ChoiceLoader(
        [_Candidate(file.path, text, trial_name), template_loader(templates_dir, override_dir)]
    )
    env = environment(loader, auto_reload=False)
    try:
        tree = env.parse(text, name=file.path, filename=trial_name)
    except jinja2.TemplateSyntaxError as exc:
        return f"Fout in de opmaak op regel {exc.lineno}: {_sentence(exc.message)}"
    allowed = set(env.globals) | _variables(env, builtin_text(file, templates_dir))
    allowed |= set(sample_variables(file.template))
    unknown = sorted(meta.find_undeclared_variables(tree) - allowed)
    if unknown:
        return _unknown(unknown, file)
    for template, context in _trials(file, templates_dir):
        try:
            render_with(env, template, file.language, context)
        except Exception as exc:
            return _explain(exc, trial_name, file)
    return None


class _Candidate(jinja2.BaseLoader):
    """The text under trial, in place of the file it would replace."""

    def __init__(self, path: str, text: str, filename: str) -> None:
        self._path, self._text, self._filename = path, text, filename

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template != self._path:
            raise jinja2.TemplateNotFound(template)
        return self._text, self._filename, lambda: True


def _variables(env: jinja2.Environment, source: str) -> set[str]:
    return set(meta.find_undeclared_variables(env.parse(source)))


def _trials(file: TemplateFile, templates_dir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The renders that would use the file: its own mail, or for a macro file every mail of
    that language (any of them may import it)."""
    if file.is_macros:
        mails = {f.template for f in template_files(templates_dir) if f.language == file.language}
        mails = {m for m in mails if not m.startswith("_")}
    else:
        mails = {file.template}
    for template in sorted(mails):
        for context in SAMPLES.get(template, ()):
            yield template, context


_UNDEFINED = re.compile(r"^'([^']+)' is undefined$")


def _unknown(names: list[str], file: TemplateFile) -> str:
    known = ", ".join(sample_variables(file.template))
    listed = ", ".join(names)
    word = "deze variabele" if len(names) == 1 else "deze variabelen"
    help_text = f" Dit sjabloon kent: {known}." if SAMPLES.get(file.template) else ""
    return f"De tekst gebruikt {word}, die het sjabloon niet krijgt: {listed}.{help_text}"


def _explain(exc: Exception, trial_name: str, file: TemplateFile) -> str:
    line = _line_of(exc.__traceback__, trial_name)
    where = f" (regel {line})" if line else ""
    if isinstance(exc, jinja2.UndefinedError):
        found = _UNDEFINED.match(exc.message or "")
        if found:
            return _unknown([found[1]], file).removesuffix(".") + where + "."
        return f"De proefweergave mislukte{where}: iets bestaat niet ({exc.message})."
    if isinstance(exc, SecurityError):
        return f"De tekst probeert iets wat niet mag{where}: {_sentence(str(exc))}"
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"De tekst gebruikt een sjabloon dat niet bestaat: {exc.name}."
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"Fout in de opmaak van {exc.name} op regel {exc.lineno}: {_sentence(exc.message)}"
    return f"De proefweergave mislukte{where}: {type(exc).__name__}: {_sentence(str(exc))}"


def _sentence(text: str | None) -> str:
    text = (text or "").strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _line_of(tb: TracebackType | None, filename: str) -> int | None:
    """The line of the text under trial where rendering stopped (Jinja puts template lines in
    the traceback)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
