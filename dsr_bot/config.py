"""Settings: one TOML file plus DSR_BOT_* environment overrides, validated once at start.

The names of the environment variables are fixed (deployment scripts use them); see ENV_OVERRIDES.
Every field here is documented in dsr-bot.example.toml, and tests/test_config.py keeps it so.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from dsr_bot import organisation as org
from dsr_bot.errors import ConfigError
from dsr_bot.nlp.classifier import MODEL_DIR
from dsr_bot.organisation import (
    Cookie,
    PrivacyContact,
    Purpose,
    Recipient,
    Retention,
    System,
    Text,
)

DEFAULT_CONFIG_PATH = Path("dsr-bot.toml")
PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: SecretStr = SecretStr("sqlite+aiosqlite:///var/dsr-bot.db")

    @field_validator("url")
    @classmethod
    def _known_driver(cls, v: SecretStr) -> SecretStr:
        scheme = v.get_secret_value().split("://", 1)[0]
        if scheme not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError(
                f"must start with sqlite+aiosqlite:// or postgresql+asyncpg://, not {scheme}://"
            )
        return v


class MailSettings(_Section):
    from_address: str = Field("info@academiewerkendleren.nl", alias="from")
    smtp_url: SecretStr = SecretStr("")
    outbox_maildir: Path = Path("var/outbox")
    max_message_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    ack_limit_per_hour: int = Field(3, ge=0)
    retry_initial_seconds: float = Field(5.0, gt=0)
    retry_max_seconds: float = Field(900.0, gt=0)
    max_attempts: int = Field(50, ge=1)
    delivery_lease_seconds: float = Field(120.0, gt=0)

    @field_validator("from_address")
    @classmethod
    def _address(cls, v: str) -> str:
        if "@" not in v or any(c.isspace() for c in v):
            raise ValueError(f"not an e-mail address: {v!r}")
        return v.strip().lower()

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, v: SecretStr) -> SecretStr:
        if v.get_secret_value():
            parse_server_url(v.get_secret_value(), ("smtp", "smtps"))
        return v


class SmtpIntakeSettings(_Section):
    enabled: Literal["auto", "on", "off"] = "auto"
    host: str = "127.0.0.1"
    port: int = Field(2525, ge=0, le=65535)


class MailboxSettings(_Section):
    name: str = Field("info", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    profile: str = "default"
    imap_url: SecretStr = SecretStr("")
    auth: Literal["password", "xoauth2"] = "password"
    oauth2_token: SecretStr = SecretStr("")
    oauth2_token_command: str = ""
    idle: bool = True
    idle_renew_seconds: float = Field(25 * 60, gt=0, lt=29 * 60)
    poll_seconds: float = Field(60.0, gt=0)
    batch_size: int = Field(100, ge=1, le=1000)
    reconnect_max_seconds: float = Field(60.0, gt=0)
    processed_folder: str = ""

    @field_validator("imap_url")
    @classmethod
    def _imap_url(cls, v: SecretStr) -> SecretStr:
        if v.get_secret_value():
            parse_server_url(v.get_secret_value(), ("imap", "imaps"))
        return v


class ProfileSettings(_Section):
    organisation: str = "Academie Werkend Leren"
    parent_organisation: str = "Onderwijs.pro Opleidingen"
    email: str = "info@academiewerkendleren.nl"
    website: str = "https://academiewerkendleren.nl"
    promise_weeks: int = Field(4, ge=1, le=4)
    default_language: Literal["nl", "en"] = "nl"
    reference_prefix: str = Field("AVG", pattern=r"^[A-Z]{2,8}$")
    # Linked from the chat's /start greeting.
    privacy_url: str = "https://academiewerkendleren.nl/privacyverklaring/"
    # What replies state about the organisation (dsr_bot/organisation.py; Art. 15(1)(a)-(h)).
    privacy_contact: PrivacyContact = PrivacyContact()
    data_categories: tuple[Text, ...] = org.DATA_CATEGORIES
    special_categories: tuple[Text, ...] = org.SPECIAL_CATEGORIES
    purposes: tuple[Purpose, ...] = org.PURPOSES
    recipients: tuple[Recipient, ...] = org.RECIPIENTS
    retention: Retention = Retention()
    cookies: tuple[Cookie, ...] = org.COOKIES
    automated_decisions: bool = False
    data_sources: tuple[Text, ...] = org.DATA_SOURCES
    systems: tuple[System, ...] = org.SYSTEMS
    # A directory with this profile's own reply templates, in the layout of templates/ (nl/...,
    # en/..., nl/chat/...): any of the built-in files, each used in place of the built-in one.
    # Relative to the directory dsr-bot runs in; empty: the built-in templates.
    templates: Path | None = None

    @field_validator("templates", mode="before")
    @classmethod
    def _no_templates(cls, v: Any) -> Any:
        return None if v == "" else v

    def facts(self) -> dict[str, Any]:
        """The profile as plain data for a reply template (`profile`): no methods to reach (nor
        a Path, whose methods would read files)."""
        return self.model_dump(mode="python", exclude={"templates"})

    def reply_context(self) -> dict[str, Any]:
        """What every reply to a data subject gets from the profile."""
        return {
            "organisation": self.organisation,
            "parent_organisation": self.parent_organisation,
            "email": self.email,
            "website": self.website,
            "profile": self.facts(),
        }


class DeadlineSettings(_Section):
    extra_holidays: tuple[str, ...] = ()

    @field_validator("extra_holidays")
    @classmethod
    def _iso_dates(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            try:
                date.fromisoformat(item)
            except ValueError:
                raise ValueError(f"not a date (YYYY-MM-DD): {item!r}") from None
        return v

    @property
    def holiday_dates(self) -> tuple[date, ...]:
        return tuple(date.fromisoformat(d) for d in self.extra_holidays)


class StaffSettings(_Section):
    # Reminders, escalations and the daily digest go here until staff accounts exist (issue 6).
    privacy_officer: str = "privacy@academiewerkendleren.nl"
    reminder_offsets: tuple[int, ...] = (7, 3, 1)
    sweep_minutes: float = Field(15.0, gt=0)
    digest_time: str = Field("08:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    daily_digest: bool = True

    @field_validator("privacy_officer")
    @classmethod
    def _address(cls, v: str) -> str:
        if "@" not in v or any(c.isspace() for c in v):
            raise ValueError(f"not an e-mail address: {v!r}")
        return v.strip().lower()

    @field_validator("reminder_offsets")
    @classmethod
    def _offsets(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(n < 1 or n > 30 for n in v):
            raise ValueError("working days between 1 and 30, at least one")
        return tuple(sorted(set(v), reverse=True))


class RetentionSettings(_Section):
    closed_case_days: int = Field(730, ge=1)  # two years after closing, then purged
    purge_time: str = Field("03:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class ClassifierSettings(_Section):
    enabled: bool = True
    model_path: Path = MODEL_DIR
    # "model": the threshold saved with the model, chosen by cross-validation when it was trained.
    threshold: Annotated[float, Field(gt=0, lt=1)] | Literal["model"] = "model"
    confident_at: float = Field(0.7, ge=0, le=1)
    workers: int = Field(1, ge=0, le=16)

    @property
    def fixed_threshold(self) -> float | None:
        """The threshold set here, or None for the model's own."""
        return None if self.threshold == "model" else self.threshold

    @field_validator("model_path")
    @classmethod
    def _from_checkout(cls, v: Path) -> Path:
        # Relative to the checkout that holds nlp_models/, wherever dsr-bot is started from.
        return v if v.is_absolute() else MODEL_DIR.parents[1] / v


PolicyName = Literal["always", "on_doubt", "never"]


class IdentityPolicySettings(_Section):
    """Per request kind: "always" a shielded ID copy, "on_doubt" a one-time code to the
    requester's address (staff may still ask for a copy), "never" nothing."""

    access: PolicyName = "always"
    rectification: PolicyName = "always"
    erasure: PolicyName = "always"
    restriction: PolicyName = "on_doubt"
    portability: PolicyName = "on_doubt"
    objection: PolicyName = "never"
    complaint: PolicyName = "never"
    other: PolicyName = "never"


class IdentitySettings(_Section):
    policy: IdentityPolicySettings = IdentityPolicySettings()
    # Encrypted ID copies live here (mode 0700, files 0600) only until staff have checked them.
    storage_dir: Path = Path("var/id-copies")
    max_copy_days: int = Field(7, ge=1, le=30)
    reminder_days: tuple[int, ...] = (7, 14)
    lapse_days: int = Field(28, ge=2, le=90)
    # A new request from someone verified this many days ago needs no new proof; 0: always anew.
    reuse_verified_days: int = Field(0, ge=0, le=365)

    @field_validator("reminder_days")
    @classmethod
    def _days(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(n < 1 for n in v):
            raise ValueError("days after the request, each at least 1")
        return tuple(sorted(set(v)))

    def model_post_init(self, context: Any, /) -> None:
        if self.reminder_days and max(self.reminder_days) >= self.lapse_days:
            raise ConfigError("identity: every reminder day must come before lapse_days")


class ConsoleSettings(_Section):
    enabled: bool = True
    # host:port to listen on. Env: DSR_BOT_CONSOLE_ADDR.
    addr: str = "127.0.0.1:8000"
    # "auto": session cookies are Secure when the browser came over HTTPS (directly, or as a
    # trusted proxy says in X-Forwarded-Proto); "always" for deployments behind TLS.
    secure_cookies: Literal["auto", "always"] = "auto"
    # Proxies whose X-Forwarded-For/-Proto headers are believed (comma-separated addresses).
    forwarded_allow_ips: str = "127.0.0.1"
    session_idle_minutes: int = Field(60, ge=5, le=24 * 60)
    session_max_hours: int = Field(12, ge=1, le=7 * 24)
    login_max_failures: int = Field(5, ge=1, le=100)
    login_lock_minutes: int = Field(15, ge=1, le=24 * 60)
    # Four eyes: someone other than its writer approves a draft. Always on for refusals.
    four_eyes: bool = True
    page_size: int = Field(50, ge=10, le=500)
    # How staff reach the console, for links in mail to staff; empty: http://<addr>.
    public_url: str = ""
    # Reply templates changed by an admin in the console are kept here, over the built-in ones.
    template_overrides: Path = Path("var/templates")
    # /metrics answers loopback clients, and others that send this as a bearer token (empty:
    # loopback only). Env: DSR_BOT_METRICS_TOKEN.
    metrics_token: SecretStr = SecretStr("")

    @field_validator("addr")
    @classmethod
    def _addr(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"must be host:port, such as 127.0.0.1:8000, not {v!r}")
        return v

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, not {v!r}")
        return v.rstrip("/")

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.addr}"

    @property
    def host(self) -> str:
        return self.addr.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.addr.rpartition(":")[2])


class TaskSettings(_Section):
    """The checklist a case gets for each kind it is about, in the order shown (Dutch: the
    console is in Dutch). An empty list: no checklist for that kind. A step with `{system}`
    becomes one step per system of the case's profile (`profiles.*.systems`)."""

    access: tuple[str, ...] = (
        "{system}: zoek de persoon op en zet wat u vindt bij Verzamelde gegevens",
        "Controleer de export op gegevens van anderen",
    )
    rectification: tuple[str, ...] = (
        "{system}: pas de gegevens aan",
        "Informeer de ontvangers van de gegevens (art. 19 AVG)",
    )
    erasure: tuple[str, ...] = (
        "Ga na of een bewaarplicht geldt (bijv. fiscale administratie)",
        "{system}: wis de gegevens, of noteer waarom ze blijven",
        "Informeer de ontvangers van de gegevens (art. 19 AVG)",
    )
    restriction: tuple[str, ...] = (
        "{system}: markeer de gegevens als beperkt",
        "Informeer de ontvangers van de gegevens (art. 19 AVG)",
    )
    portability: tuple[str, ...] = (
        "{system}: zet wat de persoon zelf gaf bij Verzamelde gegevens",
        "Controleer de export op gegevens van anderen",
    )
    objection: tuple[str, ...] = (
        "Zet de persoon op de lijst voor geen nieuwsbrief, marketing of bellen",
        "Beoordeel of het verwerken toch door moet gaan (dwingende gronden)",
    )
    complaint: tuple[str, ...] = (
        "Zoek uit wat er is gebeurd",
        "Bespreek de klacht met de privacy officer",
    )
    other: tuple[str, ...] = ()

    def for_kind(self, kind: str, systems: Sequence[str] = ()) -> tuple[str, ...]:
        """The steps for `kind`, each `{system}` step once per system, in the profile's order."""
        titles: tuple[str, ...] = getattr(self, kind, ())
        return tuple(
            step
            for title in titles
            for step in (
                [title.replace("{system}", system) for system in systems]
                if "{system}" in title
                else [title]
            )
        )


class TelegramSettings(_Section):
    """The chat channel. Off without a token (DSR_BOT_TELEGRAM_TOKEN)."""

    token: SecretStr = SecretStr("")
    # The Bot API's base URL; a local stand-in in tests. Env: DSR_BOT_TELEGRAM_API_URL.
    api_url: str = "https://api.telegram.org"
    # Requests made in the chat answer for this profile (its name, reference prefix, links).
    profile: str = "default"
    # The staff group chat (a negative id); 0: none. New cases, drafts, tasks, reminders go there.
    staff_chat_id: int = 0
    # Telegram user id -> staff account (e-mail). Only these may act in the staff chat, each
    # with the role of their account.
    staff_accounts: dict[str, str] = Field(default_factory=dict)
    poll_timeout_seconds: int = Field(30, ge=1, le=50)
    # A 429 asking to wait longer than this is handed back to the outbox's backoff.
    max_retry_after_seconds: float = Field(60.0, gt=0)
    # Conversations that never became a case are forgotten after this many days.
    conversation_days: int = Field(14, ge=1, le=365)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, not {v!r}")
        return v.rstrip("/")

    @field_validator("staff_accounts")
    @classmethod
    def _accounts(cls, v: dict[str, str]) -> dict[str, str]:
        for user, email in v.items():
            if not user.isdigit():
                raise ValueError(f"keys are Telegram user ids (digits), not {user!r}")
            if "@" not in email:
                raise ValueError(f"values are staff e-mail addresses, not {email!r}")
        return {user: email.strip().lower() for user, email in v.items()}

    @property
    def enabled(self) -> bool:
        return bool(self.token.get_secret_value())


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "json": one JSON object per line, for log collectors. Env: DSR_BOT_LOG_FORMAT.
    format: Literal["text", "json"] = "text"


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    mail: MailSettings = MailSettings()
    smtp_intake: SmtpIntakeSettings = SmtpIntakeSettings()
    mailboxes: tuple[MailboxSettings, ...] = ()
    profiles: dict[str, ProfileSettings] = Field(
        default_factory=lambda: {"default": ProfileSettings()}
    )
    deadlines: DeadlineSettings = DeadlineSettings()
    classifier: ClassifierSettings = ClassifierSettings()
    staff: StaffSettings = StaffSettings()
    retention: RetentionSettings = RetentionSettings()
    identity: IdentitySettings = IdentitySettings()
    console: ConsoleSettings = ConsoleSettings()
    tasks: TaskSettings = TaskSettings()
    telegram: TelegramSettings = TelegramSettings()
    logging: LoggingSettings = LoggingSettings()

    @field_validator("profiles")
    @classmethod
    def _profile_names(cls, v: dict[str, ProfileSettings]) -> dict[str, ProfileSettings]:
        # A profile's name names its folder of console overrides (replies.profile_override_dir).
        for name in v:
            if not PROFILE_NAME.fullmatch(name) or name in ("nl", "en"):
                raise ValueError(
                    f"a profile name is lowercase letters, digits, - and _ (not nl or en): {name!r}"
                )
        return v

    @field_validator("mailboxes")
    @classmethod
    def _unique_names(cls, v: tuple[MailboxSettings, ...]) -> tuple[MailboxSettings, ...]:
        names = [m.name for m in v]
        if len(names) != len(set(names)):
            raise ValueError("mailbox names must be unique")
        reserved = {"smtp", "telegram", "staff"} & set(names)
        if reserved:
            raise ValueError(f"{sorted(reserved)[0]!r} is reserved for another channel")
        return v

    def model_post_init(self, context: Any, /) -> None:
        for box in self.mailboxes:
            if box.profile not in self.profiles:
                raise ConfigError(f"mailboxes: {box.name!r} names unknown profile {box.profile!r}")
        if "default" not in self.profiles:
            raise ConfigError("profiles: a profile named 'default' is required")
        if self.telegram.profile not in self.profiles:
            raise ConfigError(f"telegram: names unknown profile {self.telegram.profile!r}")

    @property
    def imap_mailboxes(self) -> tuple[MailboxSettings, ...]:
        return tuple(m for m in self.mailboxes if m.imap_url.get_secret_value())

    @property
    def smtp_intake_enabled(self) -> bool:
        if self.smtp_intake.enabled == "auto":
            return not self.imap_mailboxes
        return self.smtp_intake.enabled == "on"

    def profile_name_for(self, source: str) -> str:
        """The profile a source (mailbox name, "smtp" or "telegram") answers for."""
        if source == "telegram":
            return self.telegram.profile
        for box in self.mailboxes:  # a loop, not next(genexpr): asked several times per mail
            if box.name == source:
                return box.profile
        return "default"

    def profile_for(self, source: str) -> ProfileSettings:
        return self.profiles[self.profile_name_for(source)]

    def profile_template_dirs(self) -> dict[str, Path]:
        """Profile name -> its own template directory, for the profiles that have one."""
        return {name: p.templates for name, p in self.profiles.items() if p.templates is not None}


@dataclass(frozen=True, slots=True)
class ServerUrl:
    scheme: str
    host: str
    port: int
    username: str
    password: str
    path: str

    @property
    def tls(self) -> bool:
        return self.scheme.endswith("s")

    def __repr__(self) -> str:  # never show the password
        return (
            f"ServerUrl({self.scheme}://{self.username or ''}@{self.host}:{self.port}{self.path})"
        )


_DEFAULT_PORTS = {"imap": 143, "imaps": 993, "smtp": 25, "smtps": 465}


def parse_server_url(url: str, schemes: tuple[str, ...]) -> ServerUrl:
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise ValueError(
            f"scheme must be {' or '.join(schemes)}, not {parts.scheme or 'missing'!r}"
        )
    if not parts.hostname:
        raise ValueError("has no host")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError("has a bad port") from None
    return ServerUrl(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        path=unquote(parts.path.lstrip("/")),
    )


# Fixed names: deployment scripts and checks rely on them.
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "DSR_BOT_DATABASE_URL": ("database", "url"),
    "DSR_BOT_IMAP_URL": ("mailboxes", "0", "imap_url"),
    "DSR_BOT_SMTP_URL": ("mail", "smtp_url"),
    "DSR_BOT_MAIL_FROM": ("mail", "from"),
    "DSR_BOT_CONSOLE_ADDR": ("console", "addr"),
    "DSR_BOT_TELEGRAM_TOKEN": ("telegram", "token"),
    "DSR_BOT_TELEGRAM_API_URL": ("telegram", "api_url"),
    "DSR_BOT_METRICS_TOKEN": ("console", "metrics_token"),
    "DSR_BOT_LOG_FORMAT": ("logging", "format"),
}


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, path in ENV_OVERRIDES.items():
        if name not in env:
            continue
        if path[0] == "mailboxes":
            boxes = data.setdefault("mailboxes", [])
            if not isinstance(boxes, list):
                raise ConfigError("mailboxes: must be a list of [[mailboxes]] tables")
            if not boxes:
                boxes.append({})
            boxes[0][path[2]] = env[name]
            continue
        section = data.setdefault(path[0], {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path[0]}: must be a table")
        section[path[1]] = env[name]


def _describe(error: ValidationError, origin: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{origin}: {where}: {message}{more}"


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (optional unless named explicitly) and apply environment overrides."""
    env = os.environ if env is None else env
    explicit = path is not None or "DSR_BOT_CONFIG" in env
    path = path or Path(env.get("DSR_BOT_CONFIG", DEFAULT_CONFIG_PATH))
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    elif explicit:
        raise ConfigError(f"{path}: configuration file not found")
    _apply_env(data, env)
    origin = str(path) if path.exists() else "settings"
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from None
