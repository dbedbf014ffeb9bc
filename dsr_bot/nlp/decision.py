"""From label scores to labels, and whether the bot is sure enough to skip staff triage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dsr_bot.nlp.labels import OTHER, PRIVACY_LABELS


@dataclass(frozen=True, slots=True)
class Decision:
    labels: tuple[str, ...]  # never empty; `other` stands alone
    confidence: float  # how clearly the scores support exactly these labels, 0..1
    confident: bool


def decide(
    scores: Mapping[str, float], *, threshold: float = 0.5, confident_at: float = 0.7
) -> Decision:
    """Labels scoring at least `threshold`; `other` only when it outscores every privacy label.

    The confidence is the narrowest margin of the decision: the weakest chosen label, or one minus
    the strongest label left out. Below `confident_at` the case goes to staff triage, with the
    labels kept as the bot's best guess.
    """
    privacy = {label: scores.get(label, 0.0) for label in PRIVACY_LABELS}
    other = scores.get(OTHER, 0.0)
    chosen = [label for label, score in privacy.items() if score >= threshold]
    if not chosen or other > max(privacy[label] for label in chosen):
        # Nothing clears the bar, or `other` beats every privacy label: the single best guess.
        best = max(privacy, key=lambda label: privacy[label])
        chosen = [OTHER] if other >= privacy[best] else [best]
    everything = {**privacy, OTHER: other}
    left_out = [score for label, score in everything.items() if label not in chosen]
    confidence = min(min(everything[label] for label in chosen), 1.0 - max(left_out, default=0.0))
    labels = tuple(sorted(chosen))
    return Decision(labels=labels, confidence=confidence, confident=confidence >= confident_at)
