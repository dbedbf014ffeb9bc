"""Several mailboxes, each answering for its own brand: its organisation profile and its templates.

Two mailboxes: "info" for the default profile (Academie Werkend Leren, built-in templates) and
"ict" for a second brand (ICT Academie) with a template directory of its own that replaces the
Dutch acknowledgement and one chat message.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.cli import cli
from dsr_bot.config import Settings, load_settings
from dsr_bot.domain.cases import RequestKind
from dsr_bot.errors import ConfigError
from dsr_bot.replies import Replies, save_override, template_file
from dsr_bot.reply_check import SAMPLES
from dsr_bot.services import casework
from dsr_bot.services.casework import Actor
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store import queries
from dsr_bot.store.tables import DraftRow, OutboxRow
from tests.conftest import (
    FixedClassifier,
    eventually,
    make_settings,
    outbox_mail,
    request_mail,
    running_bot,
)
from tests.servers.dovecot import DovecotServer

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)

ICT_ACK_BODY = """\
{% if name %}Hoi {{ name }},{% else %}Hoi,{% endif %}

Bedankt! {{ organisation }} heeft je privacyverzoek binnen. Je nummer is {{ reference }}.
Je hoort uiterlijk {{ promise_on | long_date(language) }} van ons.
"""
ICT_GREETING = "Hoi! Dit is de privacychat van {{ organisation }}.\n"


def brand_dir(tmp_path: Path) -> Path:
    """ICT Academie's own templates: only what differs from the built-in ones."""
    folder = tmp_path / "brands" / "ict"
    (folder / "nl" / "chat").mkdir(parents=True, exist_ok=True)
    (folder / "nl" / "acknowledgement.body.j2").write_text(ICT_ACK_BODY)
    (folder / "nl" / "chat" / "greeting.j2").write_text(ICT_GREETING)
    return folder


def two_brands(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        mailboxes=[{"name": "info"}, {"name": "ict", "profile": "ict"}],
        profiles={
            "default": {},
            "ict": {
                "organisation": "ICT Academie",
                "parent_organisation": "",
                "email": "privacy@ictacademie.nl",
                "website": "https://ictacademie.nl",
                "reference_prefix": "ICT",
                "templates": str(brand_dir(tmp_path)),
            },
        },
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return two_brands(database_url, tmp_path)


def pipeline(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    kind: RequestKind = RequestKind.ACCESS,
) -> Pipeline:
    replies = Replies.from_settings(settings)
    return Pipeline(
        sessions=sessions,
        settings=settings,
        classifier=FixedClassifier(kind),
        replies=replies,
        clock=lambda: NOW,
        identity=IdentityDesk.from_settings(settings, replies),
    )


async def ingest(pipe: Pipeline, source: str, sender: str) -> str:
    mail = request_mail(sender=sender)
    item = parse_mail(
        mail.as_bytes(), source=source, external_id=f"1:{next(_ids)}", received_at=NOW
    )
    [outcome] = await pipe.ingest([item])
    assert outcome.reference
    return outcome.reference


async def outbox(sessions: async_sessionmaker[AsyncSession], reference: str) -> list[OutboxRow]:
    async with sessions() as session:
        detail = await queries.case_detail(session, reference)
    return list(detail.outbox)


async def test_each_mailbox_acknowledges_with_its_own_brand_and_template(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    pipe = pipeline(sessions, settings)
    academie = await ingest(pipe, "info", "Jan Jansen <jan@example.nl>")
    ict = await ingest(pipe, "ict", "Ilse de Vries <ilse@example.nl>")
    assert academie.startswith("AVG-") and ict.startswith("ICT-")

    [ack] = [row for row in await outbox(sessions, academie) if row.kind == "acknowledgement"]
    assert ack.sender_name == "Academie Werkend Leren"
    assert ack.body.startswith("Beste Jan Jansen,")  # the built-in text
    assert "Academie Werkend Leren" in ack.body
    assert "ICT Academie" not in ack.body and "Hoi" not in ack.body

    [ack] = [row for row in await outbox(sessions, ict) if row.kind == "acknowledgement"]
    assert ack.sender_name == "ICT Academie"
    assert ack.body.startswith("Hoi Ilse de Vries,")  # the brand's own template
    assert f"ICT Academie heeft je privacyverzoek binnen. Je nummer is {ict}." in ack.body
    assert "Academie Werkend Leren" not in ack.body
    # The subject is not in the brand's directory: the built-in one, with the brand's reference.
    assert ack.subject == f"Wij hebben uw bericht ontvangen [{ict}]"


async def test_two_watched_mailboxes_answer_each_with_its_brand(
    dovecot: DovecotServer, sqlite_url: str, tmp_path: Path
) -> None:
    """The running bot, two IMAP folders: INBOX for the academy, ICT for the other brand."""
    await asyncio.to_thread(_create_folder, dovecot, "ICT")
    settings = two_brands(sqlite_url, tmp_path)
    settings = settings.model_copy(
        update={
            "mailboxes": (
                settings.mailboxes[0].model_copy(
                    update={"imap_url": SecretStr(dovecot.imap_url())}
                ),
                settings.mailboxes[1].model_copy(
                    update={"imap_url": SecretStr(dovecot.imap_url("ICT"))}
                ),
            ),
            "classifier": settings.classifier.model_copy(update={"enabled": False}),
        }
    )
    async with running_bot(settings) as bot:
        await eventually(
            lambda: asyncio.sleep(0, all(w.connected.is_set() for w in bot.watchers)), within=10
        )
        jan = request_mail(sender="Jan Jansen <jan@example.nl>").as_bytes()
        ilse = request_mail(sender="Ilse de Vries <ilse@example.nl>").as_bytes()
        await asyncio.to_thread(dovecot.append, jan)
        await asyncio.to_thread(dovecot.append, ilse, folder="ICT")
        await eventually(lambda: asyncio.sleep(0, len(outbox_mail(tmp_path / "outbox")) == 2))
    acks = {str(m["To"]): m for m in outbox_mail(tmp_path / "outbox")}
    academie, ict = acks["jan@example.nl"], acks["ilse@example.nl"]
    assert str(academie["From"]).startswith("Academie Werkend Leren <")
    assert "[AVG-" in str(academie["Subject"])
    assert _text(academie).startswith("Beste Jan Jansen,")
    assert str(ict["From"]).startswith("ICT Academie <")
    assert "[ICT-" in str(ict["Subject"])
    assert _text(ict).startswith("Hoi Ilse de Vries,")
    assert "ICT Academie heeft je privacyverzoek binnen." in _text(ict)


def _create_folder(server: DovecotServer, folder: str) -> None:
    client = server.client()
    try:
        client.create_folder(folder)
    finally:
        client.logout()


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_every_later_message_of_a_case_uses_its_profile(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Identity requests (the ID copy asked for), complaint acknowledgements and drafted
    notices follow the mailbox the request came in on, not the default profile."""
    ict = await ingest(
        pipeline(sessions, settings, RequestKind.COMPLAINT), "ict", "Ilse <ilse@example.nl>"
    )
    async with sessions() as session:
        [complaint] = list(await session.scalars(select(DraftRow)))
    assert complaint.kind == "complaint_acknowledgement"
    replies = Replies.from_settings(settings)
    desk = IdentityDesk.from_settings(settings, replies)
    async with sessions.begin() as session:
        case = await queries.case_by_reference(session, ict)
        assert case is not None
        request = desk.render(case, "id_request", reason=None)
        draft = await casework.draft_notice(
            session,
            ict,
            "refusal_notice",
            "Uw verzoek gaat over een ander.",
            Actor("anne@example.nl"),
            NOW,
            settings,
            replies,
        )
    for body in (complaint.body, request.body, draft.body):
        assert "ICT Academie" in body and "Academie Werkend Leren" not in body
        assert ict in body


def test_chat_messages_come_from_the_profile_of_the_chat(tmp_path: Path) -> None:
    settings = two_brands("sqlite+aiosqlite:///:memory:", tmp_path)
    replies = Replies.from_settings(settings)
    context = {
        "organisation": "ICT Academie",
        "reference": None,
        "prefix": "ICT",
        "privacy_url": "https://ictacademie.nl/privacy/",
    }
    said = replies.for_profile("ict").text("greeting", "nl", **context)
    assert said == "Hoi! Dit is de privacychat van ICT Academie."
    assert replies.text("greeting", "nl", **context).startswith("Welkom bij ICT Academie.")


def test_lookup_order_console_then_the_profiles_directory_then_built_in(tmp_path: Path) -> None:
    settings = two_brands("sqlite+aiosqlite:///:memory:", tmp_path)
    overrides = settings.console.template_overrides
    replies = Replies.from_settings(settings)
    sample = SAMPLES["acknowledgement"][0]
    body = template_file("nl", "acknowledgement.body.j2")
    subject = template_file("nl", "acknowledgement.subject.j2")
    assert body is not None and subject is not None
    default_before = replies.render("acknowledgement", "nl", **sample)
    assert (
        replies.for_profile("ict").render("acknowledgement", "nl", **sample).body.startswith("Hoi")
    )  # cached now: a console save must still count at once

    save_override(body, "Console-tekst voor ICT {{ reference }}\n", overrides / "ict")
    save_override(subject, "ICT-onderwerp [{{ reference }}]\n", overrides / "ict")
    ict = replies.for_profile("ict").render("acknowledgement", "nl", **sample)
    assert ict.body == "Console-tekst voor ICT AVG-2026-0042\n"
    assert ict.subject == "ICT-onderwerp [AVG-2026-0042]"
    assert replies.render("acknowledgement", "nl", **sample) == default_before

    # The default profile's replacements stay where they always were, directly in the folder.
    save_override(subject, "Standaard-onderwerp [{{ reference }}]\n", overrides)
    assert replies.render("acknowledgement", "nl", **sample).subject == (
        "Standaard-onderwerp [AVG-2026-0042]"
    )
    assert replies.for_profile("ict").render("acknowledgement", "nl", **sample).subject == (
        "ICT-onderwerp [AVG-2026-0042]"
    )


def test_a_missing_profile_directory_stops_the_start(tmp_path: Path) -> None:
    settings = two_brands("sqlite+aiosqlite:///:memory:", tmp_path)
    missing = settings.model_copy(
        update={
            "profiles": {
                **settings.profiles,
                "ict": settings.profiles["ict"].model_copy(
                    update={"templates": tmp_path / "nowhere"}
                ),
            }
        }
    )
    with pytest.raises(ConfigError, match=r"profiles\.ict\.templates"):
        Replies.from_settings(missing)


@pytest.mark.parametrize("name", ["nl", "Merk B", "../x", ""])
def test_a_profile_name_must_do_as_a_folder_name(tmp_path: Path, name: str) -> None:
    config = tmp_path / "dsr-bot.toml"
    config.write_text(f'[profiles.default]\n[profiles."{name}"]\norganisation = "B"\n')
    with pytest.raises(ConfigError, match="profile name"):
        load_settings(config, env={})


def test_the_templates_setting_is_not_given_to_templates(tmp_path: Path) -> None:
    settings = two_brands("sqlite+aiosqlite:///:memory:", tmp_path)
    assert "templates" not in settings.profiles["ict"].facts()
    assert settings.profiles["default"].templates is None


# --- dsr-bot templates check ---------------------------------------------------------------------


def check(tmp_path: Path, *args: str) -> Result:
    """`templates check` for a deployment with two brands; ICT's templates in brands/ict."""
    if not (tmp_path / "brands").exists():
        brand_dir(tmp_path)
    config = tmp_path / "dsr-bot.toml"
    config.write_text(
        f'[console]\ntemplate_overrides = "{tmp_path / "overrides"}"\n'
        "[profiles.default]\n"
        '[profiles.ict]\norganisation = "ICT Academie"\nreference_prefix = "ICT"\n'
        f'templates = "{tmp_path / "brands" / "ict"}"\n'
    )
    return CliRunner().invoke(cli, ["--config", str(config), "templates", "check", *args])


def test_every_profiles_set_passes(tmp_path: Path) -> None:
    result = check(tmp_path)
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output and "profiles default, ict" in result.output


def test_a_broken_template_in_a_profiles_directory_names_the_profile_and_file(
    tmp_path: Path,
) -> None:
    brand_dir(tmp_path)
    broken = tmp_path / "brands" / "ict" / "nl" / "erasure_done.body.j2"
    broken.write_text("Hoi {{ naam }},\n{{ reference }}\n")
    result = check(tmp_path)
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line.startswith(str(broken))]
    assert "in profile ict" in line and "'naam'" in line
    assert "in profile default" not in result.output  # the default profile's set is sound


def test_a_broken_console_replacement_of_one_profile_names_it(tmp_path: Path) -> None:
    broken = tmp_path / "overrides" / "ict" / "nl" / "acknowledgement.subject.j2"
    broken.parent.mkdir(parents=True)
    broken.write_text("Ontvangen\n")  # no reference
    result = check(tmp_path)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith(str(broken))]
    assert lines and all("in profile ict" in line for line in lines), result.output
    assert any("(full" in line and "no reference (ICT-2026-0042)" in line for line in lines)


def test_a_misspelt_file_or_broken_chat_message_in_a_profiles_directory_is_found(
    tmp_path: Path,
) -> None:
    folder = brand_dir(tmp_path)
    stray = folder / "nl" / "acknowledgment.body.j2"
    stray.write_text("Nooit gebruikt\n")
    chat = folder / "nl" / "chat" / "greeting.j2"
    chat.write_text("{{ organsation }} zegt: al beantwoord.\n")
    result = check(tmp_path)
    assert result.exit_code == 1
    assert f"{stray} in profile ict: no built-in template has this name" in result.output
    [line] = [line for line in result.output.splitlines() if line.startswith(str(chat))]
    assert "'organsation'" in line and "in profile ict" in line


def test_one_profile_can_be_checked_alone(tmp_path: Path) -> None:
    brand_dir(tmp_path)
    (tmp_path / "brands" / "ict" / "nl" / "answer.body.j2").write_text("{{ text }}\n")
    assert check(tmp_path, "--profile", "default").exit_code == 0
    assert check(tmp_path, "--profile", "ict").exit_code == 1
    assert check(tmp_path, "--profile", "nope").exit_code == 2
    assert check(tmp_path, "--builtin-only").exit_code == 0
