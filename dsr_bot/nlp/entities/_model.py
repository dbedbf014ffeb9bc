"""The Entity record every finder returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entity:
    """One piece of personal data; `text` is input[start:end], `value` its normalised form.

    Normalised: e-mail lowercased, phone E.164, date ISO, IBAN compact uppercase, Dutch postcode
    "1234 AB" (Belgian: the four digits), BSN the nine digits. `field` is set for new_value only.
    """

    kind: str
    text: str
    start: int
    end: int
    field: str | None = None
    value: str | None = None
