"""The workflow's decisions for an incoming message: pure, explicit inputs, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Route(enum.StrEnum):
    """What became of an incoming message; stored with it."""

    NEW_CASE = "new_case"
    ADDED_TO_CASE = "added_to_case"
    IGNORED = "ignored"  # automatic mail that matches no case: kept, never answered
    QUARANTINED = "quarantined"  # could not be read as a request: kept with its reason


@dataclass(frozen=True, slots=True)
class AckDecision:
    send: bool
    reason: str | None = None


def route_message(*, matched_case: bool, automatic: str | None) -> Route:
    if matched_case:
        return Route.ADDED_TO_CASE
    if automatic is not None:
        return Route.IGNORED
    return Route.NEW_CASE


def decide_acknowledgement(*, recent_acks_to_sender: int, limit_per_hour: int) -> AckDecision:
    """Rate-limit acknowledgements per sender: a loop or a flood must not turn us into a spammer."""
    if recent_acks_to_sender >= limit_per_hour:
        return AckDecision(
            send=False,
            reason=f"{recent_acks_to_sender} acknowledgements to this sender in the last hour",
        )
    return AckDecision(send=True)
