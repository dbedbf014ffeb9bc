"""`dsr-bot corrections export`: label corrections out as training data, to a file or stdout."""

from __future__ import annotations

import asyncio
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from dsr_bot.channels.mime import parse_mail
from dsr_bot.cli import cli
from dsr_bot.domain.cases import RequestKind
from dsr_bot.nlp.corpus import load_raw
from dsr_bot.replies import Replies
from dsr_bot.services import casework, labels
from dsr_bot.services.identity import IdentityDesk
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine
from dsr_bot.store.tables import AuditRow
from tests.conftest import FixedClassifier, make_settings, request_mail

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BODY = "Haal mij uit jullie bestanden. U kunt mij bellen op 06-12345678.\n\nGroet, Jan"


def _url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/dsr-bot.db"


def _populate(tmp_path: Path) -> str:
    """A request the classifier was unsure of, corrected by staff to erasure."""

    async def go() -> str:
        engine = create_engine(_url(tmp_path))
        await migrate.upgrade(engine)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        settings = make_settings(_url(tmp_path), tmp_path)
        desk = IdentityDesk.from_settings(settings, Replies())
        pipeline = Pipeline(
            sessions=sessions,
            settings=settings,
            classifier=FixedClassifier(RequestKind.OBJECTION, confident=False),
            replies=Replies(),
            identity=desk,
            clock=lambda: NOW,
        )
        raw = request_mail(subject="Weg ermee", body=BODY).as_bytes()
        [outcome] = await pipeline.ingest(
            [parse_mail(raw, source="info", external_id="1:1", received_at=NOW)]
        )
        assert outcome.reference
        async with sessions.begin() as db:
            case = await casework.case_by_reference(db, outcome.reference)
            await labels.correct_labels(
                db, case, ["erasure"], "sam@example.nl", NOW, settings, desk
            )
        await engine.dispose()
        return outcome.reference

    return asyncio.run(go())


def _export(tmp_path: Path, *args: str) -> Result:
    config = tmp_path / "dsr-bot.toml"
    config.write_text(
        f'[database]\nurl = "{_url(tmp_path)}"\n[identity]\nstorage_dir = "{tmp_path}/id"\n'
    )
    return CliRunner().invoke(cli, ["--config", str(config), "corrections", "export", *args])


def _audit(tmp_path: Path) -> list[AuditRow]:
    async def go() -> list[AuditRow]:
        engine = create_engine(_url(tmp_path))
        async with async_sessionmaker(engine, expire_on_commit=False)() as db:
            rows = list(await db.scalars(select(AuditRow).order_by(AuditRow.id)))
        await engine.dispose()
        return rows

    return asyncio.run(go())


def test_export_to_a_file_is_corpus_ready_private_and_audited(tmp_path: Path) -> None:
    reference = _populate(tmp_path)
    out = tmp_path / "corrections" / "new.jsonl"
    out.parent.mkdir()
    result = _export(tmp_path, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"1 correction written to {out}\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    [example] = [json.loads(line) for line in out.read_text().splitlines()]
    assert example["id"].startswith(f"correction-{reference}-")
    assert example["labels"] == ["erasure"]
    assert "06-12345678" not in example["text"] and "[telefoonnummer]" in example["text"]
    # The training code reads it as one of its own raw files.
    [loaded] = load_raw(out.parent)
    assert (loaded.labels, loaded.lang, loaded.style) == (("erasure",), "nl", "mail")
    [entry] = [a for a in _audit(tmp_path) if a.action == "corrections_exported"]
    assert entry.actor == "cli" and entry.detail["count"] == 1


def test_since_filters_and_a_bad_date_is_a_clear_error(tmp_path: Path) -> None:
    _populate(tmp_path)
    today = NOW.date().isoformat()
    included = _export(tmp_path, "--since", today)
    assert included.exit_code == 0 and len(included.stdout.splitlines()) == 1
    later = (NOW + timedelta(days=1)).date().isoformat()
    excluded = _export(tmp_path, "--since", later)
    assert excluded.exit_code == 0 and excluded.stdout == ""
    assert "0 corrections written to standard output" in excluded.stderr
    bad = _export(tmp_path, "--since", "20-11-2026")
    assert bad.exit_code == 2
    assert "'20-11-2026' is not a date: write it as YYYY-MM-DD" in bad.stderr
    assert "Traceback" not in bad.output
