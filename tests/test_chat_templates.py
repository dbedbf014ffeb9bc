"""The chat's own texts (templates/<lang>/chat/): every one renders in both languages."""

from __future__ import annotations

from datetime import date

import pytest

from dsr_bot.replies import TEMPLATES_DIR, Replies

CONTEXT = {
    "organisation": "Academie Werkend Leren",
    "privacy_url": "https://academiewerkendleren.nl/privacyverklaring/",
    "prefix": "AVG",
    "email": "info@academiewerkendleren.nl",
    "reference": "AVG-2026-0042",
    "kinds": ["access", "erasure"],
    "state": "open",
    "waiting": None,
    "due": date(2026, 12, 23),
}
PROMPTS = sorted(
    p.stem for p in (TEMPLATES_DIR / "nl" / "chat").glob("*.j2") if not p.name.startswith("_")
)
PERSON_PROMPTS = [p for p in PROMPTS if not p.startswith("staff_")]


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("prompt", PERSON_PROMPTS)
def test_every_chat_prompt_renders_in_both_languages(prompt: str, language: str) -> None:
    assert (TEMPLATES_DIR / language / "chat" / f"{prompt}.j2").is_file()
    text = Replies().text(prompt, language, **CONTEXT)
    assert text and "{{" not in text and "{%" not in text


def test_a_request_for_two_things_is_asked_as_one_question() -> None:
    replies = Replies()
    nl = replies.text("confirm", "nl", kinds=["access", "erasure"])
    assert nl == (
        "Wilt u weten welke gegevens wij van u hebben (inzage) en uw gegevens laten verwijderen?"
    )
    en = replies.text("confirm", "en", kinds=["objection"])
    assert en == "Would you like to object or unsubscribe, for example from our newsletter?"


@pytest.mark.parametrize(
    ("waiting", "state", "expected"),
    [
        ("copy", "open", "Wij wachten op een afgeschermde kopie"),
        (None, "open", "uiterlijk op woensdag 23 december 2026"),
        (None, "closed", "Dit verzoek is afgerond."),
    ],
)
def test_status_says_what_the_case_waits_for(
    waiting: str | None, state: str, expected: str
) -> None:
    text = Replies().text("status", "nl", **{**CONTEXT, "waiting": waiting, "state": state})
    assert text.startswith("Uw verzoek AVG-2026-0042 (inzage, verwijderen):")
    assert expected in text


def test_staff_lists_are_cut_short_with_a_count() -> None:
    cases = [
        {"reference": f"AVG-2026-{n:04d}", "kinds": ["access"], "channel": "email", "due": None}
        for n in range(1, 26)
    ]
    text = Replies().text("staff_new_cases", "nl", cases=cases, limit=20)
    assert text.startswith("25 nieuwe verzoeken:")
    assert "AVG-2026-0020" in text and "AVG-2026-0021" not in text
    assert "en nog 5 meer" in text
