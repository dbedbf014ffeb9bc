"""Encrypted ID copies on disk, kept only until staff have checked them.

Each copy is one file, named by a random token (nothing about the person in the name),
encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the deployment's
secret, written with mode 0600 in a directory of mode 0700. Deleting a file overwrites it first,
so a plain undelete on the same disk finds only noise.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from dsr_bot.errors import ConfigError, DsrBotError
from dsr_bot.secret_key import derive_key

VAULT_LABEL = b"dsr-bot id copies v1"
SUFFIX = ".idcopy"


class VaultError(DsrBotError):
    """A stored ID copy cannot be read back (gone, or the secret key changed)."""


class Vault:
    def __init__(self, directory: Path, secret: str) -> None:
        self.directory = directory
        key = derive_key(secret, VAULT_LABEL)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def ensure(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.directory, 0o700)
        except OSError as exc:
            raise ConfigError(f"identity.storage_dir {self.directory}: {exc.strerror}") from None

    def put(self, data: bytes) -> str:
        """Encrypt and store; returns the token that names the file."""
        self.ensure()
        token = secrets.token_hex(16)
        path = self._path(token)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(self._fernet.encrypt(data))
            out.flush()
            os.fsync(out.fileno())
        return token

    def get(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(self._path(token).read_bytes())
        except FileNotFoundError:
            raise VaultError("the ID copy is no longer stored") from None
        except InvalidToken:
            raise VaultError(
                "the ID copy cannot be decrypted: did the secret key change?"
            ) from None

    def delete(self, token: str) -> bool:
        """Overwrite, then remove; False when it was gone already."""
        path = self._path(token)
        try:
            size = path.stat().st_size
            with path.open("r+b") as out:
                out.write(secrets.token_bytes(size))
                out.flush()
                os.fsync(out.fileno())
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def tokens(self) -> Iterator[tuple[str, datetime]]:
        """Every stored copy's token and when its file was written (UTC)."""
        if not self.directory.is_dir():
            return
        for path in self.directory.glob(f"*{SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                yield path.name.removesuffix(SUFFIX), written

    def _path(self, token: str) -> Path:
        if not token.isalnum():
            raise VaultError("not an ID-copy token")
        return self.directory / f"{token}{SUFFIX}"
