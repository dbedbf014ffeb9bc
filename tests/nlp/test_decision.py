import pytest

from dsr_bot.nlp.decision import decide


def scores(**given: float) -> dict[str, float]:
    base = dict.fromkeys(
        (
            "access",
            "rectification",
            "erasure",
            "restriction",
            "portability",
            "objection",
            "complaint",
            "other",
        ),
        0.01,
    )
    return {**base, **given}


@pytest.mark.parametrize(
    ("given", "labels"),
    [
        ({"access": 0.97}, ("access",)),
        ({"access": 0.9, "erasure": 0.8}, ("access", "erasure")),
        ({"other": 0.95}, ("other",)),
        # `other` never stands beside a privacy label: the stronger side wins.
        ({"other": 0.9, "complaint": 0.6}, ("other",)),
        ({"other": 0.6, "complaint": 0.9}, ("complaint",)),
        # Nothing clears the bar: the best guess, never an empty answer.
        ({"objection": 0.4, "other": 0.2}, ("objection",)),
        ({"objection": 0.2, "other": 0.3}, ("other",)),
    ],
)
def test_labels(given: dict[str, float], labels: tuple[str, ...]) -> None:
    assert decide(scores(**given)).labels == labels


def test_clear_scores_are_confident() -> None:
    decision = decide(scores(access=0.97, erasure=0.93))
    assert decision.confident
    assert decision.confidence == pytest.approx(0.93)


@pytest.mark.parametrize(
    "given",
    [
        {"access": 0.55},  # chosen, but only just
        {"access": 0.95, "erasure": 0.45},  # a label left out that nearly made it
        {"objection": 0.4},  # nothing clears the bar
        {"other": 0.8, "complaint": 0.7},  # two sides both strong
    ],
)
def test_doubtful_scores_go_to_triage(given: dict[str, float]) -> None:
    assert not decide(scores(**given)).confident


def test_the_triage_threshold_is_a_setting() -> None:
    given = scores(access=0.75)
    assert decide(given, confident_at=0.7).confident
    assert not decide(given, confident_at=0.8).confident
