"""Personal data kept in the database encrypted: collected data and outgoing attachments.

The same scheme as the ID-copy vault (identity/vault.py): Fernet (AES-128-CBC + HMAC-SHA256)
under a key derived from the deployment's secret, with its own label, so a copy of the database
alone shows none of it.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken

from dsr_bot.config import Settings
from dsr_bot.errors import DsrBotError
from dsr_bot.secret_key import derive_key, read_secret, secret_file

SEAL_LABEL = b"dsr-bot stored data v1"


class SealError(DsrBotError):
    """Sealed data cannot be opened: the secret key changed, or the row was tampered with."""


class Sealer:
    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret, SEAL_LABEL)))

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        return cls(read_secret(secret_file(settings)))

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise SealError("stored data cannot be decrypted: did the secret key change?") from None
