"""The classifier interface.

Until the trained classifier lands (issue 3), `Unclassified` answers for every message and each new
case goes to staff triage. It is deliberately not a keyword guesser dressed up as a classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dsr_bot.domain.cases import RequestKind


@dataclass(frozen=True, slots=True)
class Classification:
    kinds: frozenset[RequestKind]  # empty: not classified, staff triage decides
    confidence: float | None = None
    model: str = "unclassified"


class Classifier(Protocol):
    def classify(self, subject: str, text: str) -> Classification: ...


class Unclassified:
    """Sends every case to staff triage."""

    def classify(self, subject: str, text: str) -> Classification:
        return Classification(kinds=frozenset())
