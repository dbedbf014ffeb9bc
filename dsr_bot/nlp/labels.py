"""The classifier's labels: fixed strings that evaluation scripts outside this repository use."""

from __future__ import annotations

from typing import Final

from dsr_bot.domain.cases import RequestKind

LABELS: Final = tuple(kind.value for kind in RequestKind)
OTHER: Final = RequestKind.OTHER.value
PRIVACY_LABELS: Final = tuple(label for label in LABELS if label != OTHER)
