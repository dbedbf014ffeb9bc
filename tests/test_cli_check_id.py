"""`dsr-bot check-id`: exact JSON, exit statuses, and the file left as it was."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytesseract
import pytest
from click.testing import CliRunner

from dsr_bot.cli import cli
from tests.identity import cards

ROOT = Path(__file__).resolve().parent.parent


def _card(tmp_path: Path, hidden: tuple[cards.Field, ...], name: str) -> Path:
    path = tmp_path / name
    cards.draw_card(cards.random_person(random.Random(7), "TD1"), hidden).save(path)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dsr_bot", "check-id", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )


def test_a_copy_showing_fields_is_refused_with_exit_1(tmp_path: Path) -> None:
    path = _card(tmp_path, ("photo",), "copy.png")
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    result = CliRunner().invoke(cli, ["check-id", str(path), "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"acceptable", "findings"}
    assert data["acceptable"] is False
    assert all(set(f) == {"kind", "detail"} for f in data["findings"])
    assert {f["kind"] for f in data["findings"]} == {"mrz", "bsn", "document_number"}
    # Nothing written, nothing changed.
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before
    assert [p.name for p in tmp_path.iterdir()] == ["copy.png"]


def test_a_shielded_copy_is_accepted_with_exit_0(tmp_path: Path) -> None:
    path = _card(tmp_path, cards.FIELDS, "copy.jpg")
    result = CliRunner().invoke(cli, ["check-id", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout == '{"acceptable": true, "findings": []}\n'
    human = CliRunner().invoke(cli, ["check-id", str(path)])
    assert human.exit_code == 0
    assert human.stdout.startswith("acceptable")


def test_the_human_summary_names_the_fields(tmp_path: Path) -> None:
    path = _card(tmp_path, ("mrz",), "copy.png")
    result = CliRunner().invoke(cli, ["check-id", str(path)])
    assert result.exit_code == 1
    assert result.stdout.startswith("NOT acceptable\n")
    assert "  photo: " in result.stdout and "  bsn: " in result.stdout


def test_the_help_states_the_exit_statuses() -> None:
    result = CliRunner().invoke(cli, ["check-id", "--help"])
    assert "0 acceptable, 1 not acceptable" in result.stdout


def test_the_real_command_exits_1_when_not_acceptable(tmp_path: Path) -> None:
    done = _run(str(_card(tmp_path, ("bsn",), "copy.png")), "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["acceptable"] is False


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"just some text", "not a JPEG, PNG or PDF file")],
)
def test_an_unreadable_file_is_one_line_and_exit_2(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "copy.png"
    if content is not None:
        path.write_bytes(content)
    done = _run(str(path), "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("dsr-bot: error: ") and message in done.stderr


def test_missing_tesseract_warns_and_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    path = _card(tmp_path, cards.FIELDS, "copy.png")
    result = CliRunner().invoke(cli, ["check-id", str(path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"acceptable": False, "findings": []}
    assert "warning" in result.stderr and "tesseract" in result.stderr
