"""The reply templates as a set: every mail renders in Dutch and English with full and minimal
values in Jinja's sandbox, and each new reply says what its step needs to say."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import jinja2
import pytest

from dsr_bot.replies import Rendered, Replies, template_files
from dsr_bot.reply_check import check_all, is_staff_mail
from dsr_bot.reply_samples import MINIMAL, SAMPLES, named_samples

REF = "AVG-2026-0042"
MAILS = sorted({f.template for f in template_files() if not f.is_macros})
TO_PEOPLE = [m for m in MAILS if not is_staff_mail(m)]
NEW = [
    "access_reply",
    "rectification_done",
    "erasure_done",
    "restriction_applied",
    "restriction_lifting",
    "portability_reply",
    "objection_confirmed",
    "clarification",
    "identity_verified",
]
GREETING = {"nl": ("Beste ", "Beste heer, mevrouw,"), "en": ("Dear ", "Dear Sir or Madam,")}
SIGN_OFF = {"nl": "Met vriendelijke groet,", "en": "Kind regards,"}


@pytest.fixture(scope="module")
def replies() -> Replies:
    return Replies()


def render(replies: Replies, template: str, language: str, **overrides: Any) -> Rendered:
    return replies.render(template, language, **{**SAMPLES[template][0], **overrides})


def test_the_set_is_complete_for_every_step() -> None:
    assert set(NEW) <= set(TO_PEOPLE)
    for template in TO_PEOPLE:
        assert {f.language for f in template_files() if f.template == template} == {"nl", "en"}


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("template", TO_PEOPLE)
def test_every_mail_renders_with_full_and_minimal_values(
    replies: Replies, template: str, language: str
) -> None:
    for label, context in named_samples(template):
        out = replies.render(template, language, **context)
        assert REF in out.subject and REF in out.body, label
        assert not re.search(r"\{\{|\{%|\{#", out.subject + out.body), label
        assert "\n\n\n" not in out.body, label
        assert all(line == line.rstrip() for line in out.body.splitlines()), label
        greeting, anonymous = GREETING[language]
        assert out.body.startswith(anonymous if context.get("name") is None else greeting)
        assert SIGN_OFF[language] in out.body


def test_the_whole_set_checks_clean() -> None:
    report = check_all(override_dir=None)
    assert report.problems == []
    assert report.mails == len(MAILS) and report.renders >= 2 * len(TO_PEOPLE) * 2


@pytest.mark.parametrize(
    ("template", "missing"),
    [
        ("access_reply", "profile"),
        ("rectification_done", "changes"),
        ("erasure_done", "kept"),
        ("restriction_lifting", "lift_on"),
        ("objection_confirmed", "unsubscribed"),
        ("clarification", "question"),
        ("identity_verified", "channel"),
        ("portability_reply", "received_on"),
    ],
)
@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_missing_variable_is_an_error_not_a_blank(
    replies: Replies, template: str, missing: str, language: str
) -> None:
    context = dict(MINIMAL[template])
    del context[missing]
    with pytest.raises(jinja2.UndefinedError, match=f"'{missing}' is undefined"):
        replies.render(template, language, **context)


# --- the acknowledgement per kind ----------------------------------------------------------------

SECTIONS = {
    "nl": {
        "access": "Inzage in uw gegevens",
        "rectification": "Uw gegevens verbeteren",
        "erasure": "Uw gegevens wissen",
        "restriction": "Het gebruik van uw gegevens beperken",
        "portability": "Uw gegevens in een bestand",
        "objection": "Uw bezwaar",
        "complaint": "Uw klacht",
    },
    "en": {
        "access": "Access to your data",
        "rectification": "Correcting your data",
        "erasure": "Erasing your data",
        "restriction": "Restricting the use of your data",
        "portability": "Your data in a file",
        "objection": "Your objection",
        "complaint": "Your complaint",
    },
}


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("kinds", [["access"], ["erasure", "objection"], ["portability", "other"]])
def test_the_acknowledgement_says_what_happens_for_each_kind_asked(
    replies: Replies, language: str, kinds: list[str]
) -> None:
    body = render(replies, "acknowledgement", language, kinds=kinds).body
    for kind, heading in SECTIONS[language].items():
        assert (f"\n{heading}\n" in body) == (kind in kinds), kind


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_acknowledgement_without_known_kinds_has_no_sections(
    replies: Replies, language: str
) -> None:
    context = {k: v for k, v in SAMPLES["acknowledgement"][0].items() if k != "kinds"}
    without = replies.render("acknowledgement", language, **context).body
    assert without == render(replies, "acknowledgement", language, kinds=[]).body
    assert not any(f"\n{h}\n" in without for h in SECTIONS[language].values())


# --- what each reply says -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "kept_heading", "all_gone", "article19", "payments"),
    [
        (
            "nl",
            "Wat bewaren wij nog, en waarom?",
            "Wij hebben al uw persoonsgegevens gewist.",
            "(AVG, artikel 19)",
            "- Een betaalprovider",
        ),
        (
            "en",
            "What do we still keep, and why?",
            "We have erased all your personal data.",
            "(GDPR, Article 19)",
            "- A payment provider",
        ),
    ],
)
def test_erasure_done_says_what_was_kept_and_that_recipients_were_told(
    replies: Replies, language: str, kept_heading: str, all_gone: str, article19: str, payments: str
) -> None:
    kept = "Uw facturen: 7 jaar (fiscale bewaarplicht)."
    body = render(replies, "erasure_done", language, kept=kept).body
    assert f"{kept_heading}\n{kept}\n" in body and all_gone not in body
    assert article19 in body and "- Google" in body and payments in body
    nothing = render(replies, "erasure_done", language, kept="").body
    assert all_gone in nothing and kept_heading not in nothing


@pytest.mark.parametrize(
    ("language", "date_words", "article"),
    [("nl", "maandag 20 april 2026", "artikel 18 lid 3"), ("en", "Monday 20 April 2026", "18(3)")],
)
def test_restriction_lifting_names_the_day_before_it_comes(
    replies: Replies, language: str, date_words: str, article: str
) -> None:
    out = render(
        replies, "restriction_lifting", language, lift_on=date(2026, 4, 20), reasons="Het klopt."
    )
    assert date_words in out.subject and date_words in out.body
    assert article in out.body and "Het klopt." in out.body


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_portability_reply_describes_the_package(replies: Replies, language: str) -> None:
    body = render(replies, "portability_reply", language).body
    for word in ("zip", "JSON", "CSV", "schema"):
        assert word in body


@pytest.mark.parametrize(
    ("language", "unsubscribed_words", "consent_words"),
    [
        ("nl", "Wij hebben u daarvoor afgemeld.", "artikel 7 lid 3"),
        ("en", "We have unsubscribed you.", "Article 7(3)"),
    ],
)
def test_an_objection_reply_says_what_stopped(
    replies: Replies, language: str, unsubscribed_words: str, consent_words: str
) -> None:
    flags = {"text": "", "unsubscribed": True, "consent_withdrawn": False}
    only = render(replies, "objection_confirmed", language, **flags).body
    assert unsubscribed_words in only and consent_words not in only
    both = render(replies, "objection_confirmed", language).body
    assert unsubscribed_words in both and consent_words in both


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_clarification_asks_the_question(replies: Replies, language: str) -> None:
    out = render(replies, "clarification", language, question="Welke opleiding bedoelt u?")
    assert "\n\nWelke opleiding bedoelt u?\n\n" in out.body


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_name_with_template_syntax_is_printed_as_written(replies: Replies, language: str) -> None:
    out = render(replies, "erasure_done", language, name="{{ 7 * 7 }} {% if 1 %}x{% endif %}")
    assert "{{ 7 * 7 }} {% if 1 %}x{% endif %}," in out.body and "49" not in out.body
