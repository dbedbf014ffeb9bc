"""Template injection is harmless, through the code that really runs.

An admin's template that reaches for Python's internals is refused by the console's check, and
one that got past it (a file written by hand) fails to render instead of printing them. A
person's name with Jinja syntax or HTML in it is shown as the text it is: in the text part of
the acknowledgement, and escaped in its HTML part.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formataddr
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mail_out import SmtpTransport
from dsr_bot.channels.mime import parse_mail
from dsr_bot.config import parse_server_url
from dsr_bot.nlp.classifier import Unclassified
from dsr_bot.replies import Replies, TemplateFile, save_override, template_file
from dsr_bot.reply_check import check_template
from dsr_bot.reply_samples import SAMPLES
from dsr_bot.services.outbox import OutboxSender
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store.tables import CaseEventRow, OutboxRow
from tests.conftest import make_settings, request_mail
from tests.servers.smtp_relay import SmtpRelay

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

# What an admin could type to get at Python: attributes with underscores, the sandbox's own
# escape routes (attr filter, str.format), and objects whose printed form is Python's.
INTERNALS = [
    "{{ self.__init__ }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ ''|attr('__class__') }}",
    "{{ '{0.__class__.__mro__}'.format(reference) }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum }}",
    "{{ self }}",
    "{{ reference.upper }}",
]
# What would show in a mail if any of them worked.
LEAKS = ("<function", "<class", "<built-in", "<bound", "__globals__", "TemplateReference", "0x")


def _ack_body() -> TemplateFile:
    file = template_file("nl", "acknowledgement.body.j2")
    assert file is not None
    return file


def _with(payload: str) -> str:
    return f"Beste lezer,\n\n{payload}\n\nUw nummer is {{{{ reference }}}}.\n"


@pytest.mark.parametrize("payload", INTERNALS)
def test_the_console_check_refuses_a_template_that_reaches_for_internals(
    payload: str, tmp_path: Path
) -> None:
    problem = check_template(_ack_body(), _with(payload), override_dir=tmp_path)
    assert problem is not None
    assert problem.startswith("De tekst probeert iets wat niet mag (regel 3)")
    assert not any(leak in problem for leak in LEAKS[:4])


@pytest.mark.parametrize("payload", INTERNALS)
def test_a_template_that_got_past_the_check_still_renders_no_internals(
    payload: str, tmp_path: Path
) -> None:
    """Written into the override folder by hand: the bot refuses to render it at all."""
    replies = Replies(override_dir=tmp_path)
    save_override(_ack_body(), _with(payload), tmp_path)
    with pytest.raises(SecurityError):
        replies.render("acknowledgement", "nl", **SAMPLES["acknowledgement"][0])


async def test_a_case_opened_under_such_a_template_gets_no_mail_with_internals(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    overrides = tmp_path / "overrides"
    save_override(_ack_body(), _with("{{ cycler.__init__.__globals__ }}"), overrides)
    pipeline = Pipeline(
        sessions=sessions,
        settings=make_settings(database_url, tmp_path),
        classifier=Unclassified(),
        replies=Replies(override_dir=overrides),
        clock=lambda: NOW,
    )
    raw = request_mail().as_bytes()
    [outcome] = await pipeline.ingest(
        [parse_mail(raw, source="info", external_id="1:1", received_at=NOW)]
    )
    assert outcome.reference is not None  # the request is not lost
    async with sessions() as session:
        outbox = list(await session.scalars(select(OutboxRow)))
        details = [e.detail for e in await session.scalars(select(CaseEventRow))]
    assert outbox == []
    assert not any(leak in str(details) for leak in LEAKS)


HOSTILE_NAME = "{{ 7*7 }} {% raw %} {{ config }} <script>alert(1)</script>"


async def test_a_name_with_template_syntax_and_html_reaches_the_mail_as_plain_text(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    pipeline = Pipeline(
        sessions=sessions,
        settings=settings,
        classifier=Unclassified(),
        replies=Replies(),
        clock=lambda: NOW,
    )
    raw = request_mail(sender=formataddr((HOSTILE_NAME, "jan@example.nl"))).as_bytes()
    await pipeline.ingest([parse_mail(raw, source="info", external_id="1:1", received_at=NOW)])
    async with sessions() as session:
        [row] = list(await session.scalars(select(OutboxRow)))
    assert f"Beste {HOSTILE_NAME}," in row.body  # literally: not rendered, not escaped
    assert "Beste 49" not in row.body

    with SmtpRelay() as relay:
        sender = OutboxSender(
            sessions=sessions,
            transport=SmtpTransport(parse_server_url(f"smtp://127.0.0.1:{relay.port}", ("smtp",))),
            settings=settings.mail,
            clock=lambda: NOW,
        )
        assert await sender.deliver_due() == 1
        [mail] = relay.received
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and html is not None
    assert f"Beste {HOSTILE_NAME}," in text.get_content()
    shown = html.get_content()
    assert "Beste {{ 7*7 }} {% raw %} {{ config }} &lt;script&gt;alert(1)&lt;/script&gt;," in shown
    assert "<script" not in shown and "Beste 49" not in shown
