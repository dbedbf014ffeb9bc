"""The deployment's secret: DSR_BOT_SECRET_KEY, or a generated file next to the database.

Keys for separate purposes (the erasure ledger's HMAC, the ID-copy encryption, confirmation
codes) are derived from it with distinct labels, so one secret is backed up, not several.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from dsr_bot.config import Settings
from dsr_bot.errors import ConfigError

log = logging.getLogger(__name__)

SECRET_ENV = "DSR_BOT_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret


def secret_file(settings: Settings) -> Path:
    """Where the secret lives when the variable is not set: next to the SQLite database, else
    under ./var."""
    url = make_url(settings.database.url.get_secret_value())
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        return Path(database).parent / "secret.key"
    return Path("var") / "secret.key"


def read_secret(path: Path) -> str:
    """DSR_BOT_SECRET_KEY when set; otherwise the text of `path`, which is created (32 random
    bytes as hex, mode 0600, parent folders too) when missing. The same secret gives the same
    keys either way, so the file's content can be moved into the variable."""
    from_env = os.environ.get(SECRET_ENV)
    if from_env is not None:
        secret = from_env.strip()
        if not secret:
            raise ConfigError(f"{SECRET_ENV} is set but empty")
        return secret
    return _read_or_create(path)


def derive_key(secret: str, label: bytes) -> bytes:
    """32 bytes for one purpose: HMAC-SHA256(secret, label)."""
    return hmac.new(secret.encode("utf-8"), label, hashlib.sha256).digest()


def _read_or_create(path: Path) -> str:
    if not path.exists():
        _create(path)
    try:
        mode = path.stat().st_mode
        secret = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the secret key: {exc}") from None
    if not secret:
        raise ConfigError(f"{path}: the secret key file is empty")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s can be read by other users: chmod 600 it", path)
    return secret


def _create(path: Path) -> None:
    """Write the file whole, then link it into place: a concurrent reader sees all or nothing,
    and of two processes creating it at once, one wins and both use its secret."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another process was first: use theirs
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the secret key: {exc}") from None
    log.info("created the secret key file %s", path)
