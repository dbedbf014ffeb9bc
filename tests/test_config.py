"""Settings: documented, overridable from the environment, and clear about mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from dsr_bot.config import ENV_OVERRIDES, Settings, load_settings
from dsr_bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "dsr-bot.example.toml"


def _fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    names = set()
    for name, info in model.model_fields.items():
        key = info.alias or name
        names.add(prefix + key)
        annotation = info.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        for arg in inner:
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _fields(arg, f"{prefix}{key}.")
    return names


def _documented(data: object, prefix: str = "") -> set[str]:
    names: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            names.add(path)
            if isinstance(value, dict) and key != "profiles":
                names |= _documented(value, path + ".")
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                names |= _documented(value[0], path + ".")
        if prefix == "" and "profiles" in data:
            for profile in data["profiles"].values():
                names |= _documented(profile, "profiles.")
    return names


def test_every_setting_is_documented_in_the_example_file() -> None:
    from dsr_bot.config import ProfileSettings

    expected = _fields(Settings) | {f"profiles.{n}" for n in _fields(ProfileSettings)}
    documented = _documented(tomllib.loads(EXAMPLE.read_text()))
    assert expected - documented == set(), "undocumented settings"
    assert documented - expected == set(), "example documents settings that do not exist"


def test_every_documented_setting_has_a_comment_above_it() -> None:
    lines = EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            assert lines[number - 1].lstrip().startswith("#"), f"no comment above: {line}"


def test_example_file_loads_and_equals_the_defaults() -> None:
    from_file = load_settings(EXAMPLE, env={})
    # The example lists one (unwatched) mailbox; otherwise it is the embedded default.
    assert from_file.model_copy(update={"mailboxes": ()}) == Settings()
    assert from_file.imap_mailboxes == ()


def test_every_fixed_environment_variable_is_documented() -> None:
    text = EXAMPLE.read_text()
    for name in ENV_OVERRIDES:
        assert name in text


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "dsr-bot.toml"
    config.write_text('[mail]\nfrom = "privacy@example.nl"\n')
    settings = load_settings(
        config,
        env={
            "DSR_BOT_MAIL_FROM": "Other@Example.NL",
            "DSR_BOT_IMAP_URL": "imaps://bot:p%40ss@mail.example.nl/INBOX",
            "DSR_BOT_DATABASE_URL": "postgresql+asyncpg://dsr@db/dsr",
        },
    )
    assert settings.mail.from_address == "other@example.nl"
    assert settings.imap_mailboxes[0].name == "info"
    assert settings.database.url.get_secret_value() == "postgresql+asyncpg://dsr@db/dsr"
    assert not settings.smtp_intake_enabled  # an IMAP mailbox replaces the embedded intake


def test_secrets_never_show_in_reprs() -> None:
    settings = load_settings(
        env={"DSR_BOT_IMAP_URL": "imap://bot:hunter2@h/INBOX", "DSR_BOT_SMTP_URL": "smtp://u:pw9@h"}
    )
    assert "hunter2" not in repr(settings) and "pw9" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        ("[mail]\nack_limit_per_hour = 'many'\n", {}, "mail.ack_limit_per_hour"),
        ("[mail]\nfrom = 'not an address'\n", {}, "mail.from"),
        ("[smtp_intake]\nport = 70000\n", {}, "smtp_intake.port"),
        ("[database]\nurl = 'mysql://x'\n", {}, "database.url"),
        ("[mail]\nunknown = 1\n", {}, "mail.unknown"),
        ("[mail\n", {}, "not valid TOML"),
        ("", {"DSR_BOT_IMAP_URL": "http://example.nl"}, "scheme must be imap or imaps"),
        ("", {"DSR_BOT_SMTP_URL": "smtp://:99999999"}, "mail.smtp_url"),
        ("[[mailboxes]]\nprofile = 'nope'\n", {}, "unknown profile"),
        ("[deadlines]\nextra_holidays = ['31-12-2026']\n", {}, "YYYY-MM-DD"),
        ("[classifier]\nthreshold = 1.5\n", {}, "classifier.threshold"),
        ("[classifier]\nthreshold = 'auto'\n", {}, "classifier.threshold"),
    ],
)
def test_bad_values_get_a_clear_error(
    tmp_path: Path, content: str, env: dict[str, str], message: str
) -> None:
    config = tmp_path / "dsr-bot.toml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as caught:
        load_settings(config, env=env)
    assert "\n" not in str(caught.value)


def test_missing_named_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml", env={})


def test_cli_shows_one_line_and_no_traceback_for_a_bad_setting(tmp_path: Path) -> None:
    config = tmp_path / "dsr-bot.toml"
    config.write_text("[mail]\nack_limit_per_hour = -1\n")
    done = subprocess.run(
        [sys.executable, "-m", "dsr_bot", "--config", str(config), "cases", "list"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"dsr-bot: error: {config}: mail.ack_limit_per_hour: "
        "Input should be greater than or equal to 0"
    ]


def test_the_classifier_threshold_is_the_models_own_unless_set(tmp_path: Path) -> None:
    assert Settings().classifier.fixed_threshold is None
    config = tmp_path / "dsr-bot.toml"
    config.write_text("[classifier]\nthreshold = 0.4\n")
    assert load_settings(config, env={}).classifier.fixed_threshold == 0.4
