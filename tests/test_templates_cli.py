"""`dsr-bot templates check`: the built-in set passes; a broken override is named and fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dsr_bot.cli import cli


def _check(tmp_path: Path, *args: str, profile: str = "") -> Result:
    """The command with a configuration whose override directory is tmp_path/overrides."""
    overrides = tmp_path / "overrides"
    overrides.mkdir(exist_ok=True)
    config = tmp_path / "dsr-bot.toml"
    config.write_text(
        f'[console]\ntemplate_overrides = "{overrides}"\n'
        + (f"[profiles.default]\n{profile}\n" if profile else "")
    )
    return CliRunner().invoke(cli, ["--config", str(config), "templates", "check", *args])


def _override(tmp_path: Path, path: str, text: str) -> Path:
    file = tmp_path / "overrides" / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return file


def test_the_built_in_templates_pass_with_a_summary(tmp_path: Path) -> None:
    result = _check(tmp_path)
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert line.startswith("templates check: ") and "no problems" in line
    assert "nl, en" in line


@pytest.mark.parametrize(
    ("path", "text", "says"),
    [
        ("nl/erasure_done.body.j2", "Beste {{ naam }},\n{{ reference }}\n", "'naam'"),
        ("en/access_reply.body.j2", "Dear [name],\n{{ reference }}\n", "'[name]'"),
        ("nl/clarification.body.j2", "TODO: vraag {{ reference }}\n", "'TODO'"),
        ("nl/answer.body.j2", "{{ text }}\n", "no reference (AVG-2026-0042)"),
        ("en/identity_verified.subject.j2", "Identity checked\n", "no reference"),
        ("nl/restriction_lifting.subject.j2", "  \n", "the subject is empty"),
        ("nl/_reply.j2", "{% macro greeting(name) %}{{ x }}{% endmacro %}\n", "'x'"),
        ("en/portability_reply.body.j2", "{% if text %}\n{{ reference }}\n", "syntax"),
        ("nl/access_reply.body.j2", "{{ name.__class__ }} {{ reference }}\n", "sandbox"),
    ],
)
def test_a_broken_override_fails_and_names_its_file(
    tmp_path: Path, path: str, text: str, says: str
) -> None:
    file = _override(tmp_path, path, text)
    result = _check(tmp_path)
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith(str(file))]
    assert problems, result.output
    assert any(says in line for line in problems), result.output
    assert "problem(s)" in result.output


def test_the_minimal_sample_finds_what_the_full_one_hides(tmp_path: Path) -> None:
    # Fine while a name is given; the minimal context (no name) shows the slip.
    file = _override(
        tmp_path, "nl/clarification.body.j2", "Beste {{ name.upper() }},\n{{ reference }}\n"
    )
    result = _check(tmp_path)
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line.startswith(str(file))]
    assert "(minimal)" in line and "full" not in line


def test_builtin_only_ignores_the_overrides(tmp_path: Path) -> None:
    _override(tmp_path, "nl/erasure_done.body.j2", "{{ naam }}\n")
    assert _check(tmp_path, "--builtin-only").exit_code == 0


def test_the_deployments_profile_is_checked_too(tmp_path: Path) -> None:
    result = _check(tmp_path, profile='data_sources = ["TODO", "TODO"]')
    assert result.exit_code == 1
    assert "templates/nl/access_reply.body.j2" in result.output and "'TODO'" in result.output
