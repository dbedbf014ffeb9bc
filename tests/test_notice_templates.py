"""The notice templates: extension, refusal and complaint mails to people; reminders to staff.

Each is rendered through `Replies().render` with realistic values, and checked for what a reader
would notice: the reference, the written-out dates, the reasons, the ways to complain.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import jinja2
import pytest

from dsr_bot.replies import Rendered, Replies

REF = "AVG-2026-0042"
RECEIVED = date(2026, 3, 2)  # a Monday
PROMISE = date(2026, 3, 30)  # four weeks later
LEGAL = date(2026, 4, 2)  # one month later (the 2nd is a Thursday)
EXTENDED = date(2026, 6, 2)  # two further months
TODAY = date(2026, 3, 27)

ORGANISATION = "Academie Werkend Leren"
PARENT = "Onderwijs.pro Opleidingen"
EMAIL = "info@academiewerkendleren.nl"
WEBSITE = "academiewerkendleren.nl"

AP_FORM = {
    "nl": "https://autoriteitpersoonsgegevens.nl/een-tip-of-klacht-indienen-bij-de-ap",
    "en": "https://autoriteitpersoonsgegevens.nl/en/submitting-a-tip-off-or-a-complaint-to-the-dutch-dpa",
}
AP_POST = "Postbus 93374, 2509 AJ Den Haag"
AP_PHONE = "088 - 1805 250"
REASONS = {
    "nl": "U vraagt om alle e-mails sinds 2019. Die staan in drie verschillende systemen.",
    "en": "You asked for all e-mails since 2019. They are kept in three different systems.",
}
DISCLAIMER = (
    "Datums zijn door dsr-bot berekend om het werk te plannen; dit is geen juridisch advies."
)

SUBJECT_NOTICES = ("extension_notice", "refusal_notice", "complaint_acknowledgement", "answer")
STAFF_NOTICES = ("staff_reminder", "staff_escalation", "staff_digest", "staff_task_assigned")
ANSWER_TEXT = {
    "nl": "Wij hebben uw gegevens in het CRM en de leeromgeving opgezocht.\n\n"
    "Het overzicht staat hieronder.",
    "en": "We looked up your data in the CRM and the learning platform.\n\nThe overview is below.",
}


def context(template: str, language: str = "nl", **overrides: Any) -> dict[str, Any]:
    """Complete, realistic variables for `template`; `overrides` replace or add some."""
    person: dict[str, Any] = {
        "name": "Fatima el Amrani",
        "reference": REF,
        "received_on": RECEIVED,
        "organisation": ORGANISATION,
        "parent_organisation": PARENT,
        "email": EMAIL,
        "website": WEBSITE,
    }
    contexts: dict[str, dict[str, Any]] = {
        "extension_notice": {**person, "reasons": REASONS[language], "new_due": EXTENDED},
        "refusal_notice": {**person, "reasons": REASONS[language]},
        "complaint_acknowledgement": {**person, "promise_on": PROMISE},
        "answer": {**person, "reasons": "", "text": ANSWER_TEXT[language]},
        "staff_reminder": {
            "reference": REF,
            "kinds": ["access", "erasure"],
            "kind": "promise_near",
            "deadline": PROMISE,
            "working_days_left": 3,
        },
        "staff_escalation": {
            "reference": REF,
            "kinds": ["portability"],
            "kind": "extension_prompt",
            "deadline": LEGAL,
            "working_days_left": 5,
            "extension_possible": True,
            "extended_due": EXTENDED,
        },
        "staff_task_assigned": {
            "reference": REF,
            "kinds": ["access"],
            "title": "Zoek de persoon op in het CRM",
            "assigned_by": "sam@academiewerkendleren.nl",
            "promise_due": PROMISE,
            "legal_due": LEGAL,
            "extended": False,
            "paused": False,
            "url": f"https://console.example.nl/cases/{REF}",
        },
        "staff_digest": {
            "today": TODAY,
            "open_count": 12,
            "triage_count": 3,
            "due_soon": [],
            "overdue": [],
        },
    }
    return {**contexts[template], **overrides}


@pytest.fixture(scope="module")
def replies() -> Replies:
    return Replies()


def render(replies: Replies, template: str, language: str, **overrides: Any) -> Rendered:
    return replies.render(template, language, **context(template, language, **overrides))


# --- mails to the person who made the request ------------------------------------------------


@pytest.mark.parametrize(
    ("template", "language", "subject", "dates"),
    [
        (
            "extension_notice",
            "nl",
            f"Wij hebben meer tijd nodig voor uw verzoek [{REF}]",
            ("maandag 2 maart 2026", "dinsdag 2 juni 2026"),
        ),
        (
            "extension_notice",
            "en",
            f"We need more time for your request [{REF}]",
            ("Monday 2 March 2026", "Tuesday 2 June 2026"),
        ),
        (
            "refusal_notice",
            "nl",
            f"Wij kunnen uw verzoek niet (helemaal) uitvoeren [{REF}]",
            ("maandag 2 maart 2026",),
        ),
        (
            "refusal_notice",
            "en",
            f"We cannot (fully) carry out your request [{REF}]",
            ("Monday 2 March 2026",),
        ),
        (
            "complaint_acknowledgement",
            "nl",
            f"Wij hebben uw klacht ontvangen [{REF}]",
            ("maandag 2 maart 2026", "maandag 30 maart 2026"),
        ),
        (
            "complaint_acknowledgement",
            "en",
            f"We have received your complaint [{REF}]",
            ("Monday 2 March 2026", "Monday 30 March 2026"),
        ),
        ("answer", "nl", f"Antwoord op uw verzoek [{REF}]", ("maandag 2 maart 2026",)),
        ("answer", "en", f"Our answer to your request [{REF}]", ("Monday 2 March 2026",)),
    ],
)
def test_a_notice_names_the_reference_and_writes_dates_out(
    replies: Replies, template: str, language: str, subject: str, dates: tuple[str, ...]
) -> None:
    rendered = render(replies, template, language)
    assert rendered.subject == subject
    assert REF in rendered.body
    for day in dates:
        assert day in rendered.body


@pytest.mark.parametrize(
    ("template", "language", "present", "absent"),
    [
        (
            "extension_notice",
            "nl",
            (REASONS["nl"], AP_FORM["nl"], "ten hoogste twee maanden", "artikel 12 lid 3"),
            (AP_FORM["en"],),
        ),
        (
            "extension_notice",
            "en",
            (REASONS["en"], AP_FORM["en"], "two more months at most", "Article 12(3)"),
            (AP_FORM["nl"],),
        ),
        (
            "refusal_notice",
            "nl",
            (REASONS["nl"], AP_FORM["nl"], AP_POST, AP_PHONE, "rechter", "artikel 12 lid 4"),
            (AP_FORM["en"],),
        ),
        (
            "refusal_notice",
            "en",
            (REASONS["en"], AP_FORM["en"], AP_POST, AP_PHONE, "court", "Article 12(4)"),
            (AP_FORM["nl"],),
        ),
        (
            "complaint_acknowledgement",
            "nl",
            (AP_FORM["nl"], AP_POST, AP_PHONE, "privacyfunctionaris", "eerst contact"),
            (AP_FORM["en"],),
        ),
        (
            "complaint_acknowledgement",
            "en",
            (AP_FORM["en"], AP_POST, AP_PHONE, "privacy officer", "contact the organisation first"),
            (AP_FORM["nl"],),
        ),
    ],
)
def test_a_notice_says_why_and_where_to_complain(
    replies: Replies,
    template: str,
    language: str,
    present: tuple[str, ...],
    absent: tuple[str, ...],
) -> None:
    body = render(replies, template, language).body
    for text in present:
        assert text in body
    for text in absent:
        assert text not in body


@pytest.mark.parametrize("template", SUBJECT_NOTICES)
@pytest.mark.parametrize(
    ("language", "name", "parent", "greeting", "sign_off"),
    [
        (
            "nl",
            "Fatima el Amrani",
            PARENT,
            "Beste Fatima el Amrani,",
            f"{ORGANISATION}\nonderdeel van {PARENT}\n{EMAIL} | {WEBSITE}\n",
        ),
        ("nl", None, None, "Beste heer, mevrouw,", f"{ORGANISATION}\n{EMAIL} | {WEBSITE}\n"),
        (
            "en",
            "Fatima el Amrani",
            PARENT,
            "Dear Fatima el Amrani,",
            f"{ORGANISATION}\npart of {PARENT}\n{EMAIL} | {WEBSITE}\n",
        ),
        ("en", None, None, "Dear Sir or Madam,", f"{ORGANISATION}\n{EMAIL} | {WEBSITE}\n"),
    ],
)
def test_a_notice_greets_and_signs_off_like_the_acknowledgement(
    replies: Replies,
    template: str,
    language: str,
    name: str | None,
    parent: str | None,
    greeting: str,
    sign_off: str,
) -> None:
    body = render(replies, template, language, name=name, parent_organisation=parent).body
    assert body.startswith(f"{greeting}\n\n")
    assert body.endswith(sign_off)


# --- mails to staff -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "kinds", "days", "subject", "present", "absent"),
    [
        (
            "promise_near",
            ["access", "erasure"],
            3,
            f"Herinnering: {REF} moet over 3 werkdagen beantwoord zijn",
            ("onze eigen belofte van vier weken", "3 werkdagen", "inzage, verwijdering"),
            ("wettelijke termijn",),
        ),
        (
            "legal_near",
            ["objection"],
            1,
            f"Herinnering: {REF} moet over 1 werkdag beantwoord zijn",
            ("de wettelijke termijn", "1 werkdag\n", "(bezwaar)"),
            ("belofte", "1 werkdagen"),
        ),
        (
            "legal_near",
            [],
            0,
            f"Herinnering: {REF} moet vandaag beantwoord zijn",
            ("de wettelijke termijn", "vandaag is de laatste dag", "nog niet bepaald"),
            ("belofte", "0 werkdagen"),
        ),
    ],
)
def test_a_reminder_names_the_deadline_and_the_days_left(
    replies: Replies,
    kind: str,
    kinds: list[str],
    days: int,
    subject: str,
    present: tuple[str, ...],
    absent: tuple[str, ...],
) -> None:
    rendered = render(
        replies, "staff_reminder", "nl", kind=kind, kinds=kinds, working_days_left=days
    )
    assert rendered.subject == subject
    assert "maandag 30 maart 2026" in rendered.body
    assert f"dsr-bot cases show {REF}" in rendered.body
    for text in present:
        assert text in rendered.body
    for text in absent:
        assert text not in rendered.body


@pytest.mark.parametrize(
    ("kind", "days", "possible", "subject_start", "present", "absent"),
    [
        (
            "promise_overdue",
            -2,
            False,
            "Belofte verlopen:",
            ("donderdag 2 april 2026, 2 werkdagen geleden", "privacyfunctionaris moet nu"),
            ("cases extend", "cases refuse"),
        ),
        (
            "legal_overdue",
            -1,
            False,
            "Dringend:",
            (
                "donderdag 2 april 2026 beantwoord zijn, 1 werkdag geleden",
                "klacht indienen bij de Autoriteit Persoonsgegevens",
                f'dsr-bot cases refuse {REF} --reason "..." --by EMAIL',
                "Verlengen kan nu niet meer",
            ),
            ("cases extend",),
        ),
        (
            "extension_prompt",
            5,
            True,
            "Actie nodig:",
            (
                "Over 5 werkdagen verloopt de wettelijke termijn",
                f'dsr-bot cases extend {REF} --reason "..." --by EMAIL',
                "De nieuwe uiterste datum wordt dan dinsdag 2 juni 2026",
                f'dsr-bot cases refuse {REF} --reason "..." --by EMAIL',
            ),
            ("niet (meer)",),
        ),
        (
            "extension_prompt",
            2,
            False,
            "Actie nodig:",
            (
                "Over 2 werkdagen verloopt de wettelijke termijn",
                "Verlengen kan voor deze zaak niet (meer)",
                f"dsr-bot cases refuse {REF}",
            ),
            ("cases extend", "dinsdag 2 juni 2026"),
        ),
    ],
)
def test_an_escalation_says_what_to_do_for_its_kind(
    replies: Replies,
    kind: str,
    days: int,
    possible: bool,
    subject_start: str,
    present: tuple[str, ...],
    absent: tuple[str, ...],
) -> None:
    rendered = render(
        replies,
        "staff_escalation",
        "nl",
        kind=kind,
        working_days_left=days,
        extension_possible=possible,
    )
    assert rendered.subject.startswith(subject_start)
    assert REF in rendered.subject
    assert "donderdag 2 april 2026" in rendered.body
    for text in present:
        assert text in rendered.body
    for text in absent:
        assert text not in rendered.body


SOON = {
    "reference": "AVG-2026-0040",
    "kinds": ["access"],
    "deadline": date(2026, 3, 30),
    "which": "belofte",
    "working_days_left": 1,
}
LATE = {
    "reference": "AVG-2026-0031",
    "kinds": ["erasure", "objection"],
    "deadline": date(2026, 3, 24),
    "which": "wettelijk",
    "working_days_left": -3,
}


@pytest.mark.parametrize(
    ("due_soon", "overdue", "subject_end", "nothing", "present"),
    [
        ([], [], "0 te laat, 0 binnenkort", 2, ()),
        (
            [],
            [LATE],
            "1 te laat, 0 binnenkort",
            1,
            (
                "- AVG-2026-0031 (verwijdering, bezwaar): wettelijke termijn verliep op "
                "dinsdag 24 maart 2026, 3 werkdagen te laat",
            ),
        ),
        (
            [SOON],
            [LATE],
            "1 te laat, 1 binnenkort",
            0,
            (
                "AVG-2026-0031",
                "- AVG-2026-0040 (inzage): onze belofte van vier weken verloopt op "
                "maandag 30 maart 2026, nog 1 werkdag",
            ),
        ),
    ],
)
def test_the_digest_lists_cases_or_says_there_is_nothing(
    replies: Replies,
    due_soon: list[dict[str, Any]],
    overdue: list[dict[str, Any]],
    subject_end: str,
    nothing: int,
    present: tuple[str, ...],
) -> None:
    rendered = render(replies, "staff_digest", "nl", due_soon=due_soon, overdue=overdue)
    assert rendered.subject == f"Dagoverzicht AVG-verzoeken vrijdag 27 maart 2026: {subject_end}"
    assert "Open zaken: 12" in rendered.body
    assert "(soort verzoek nog niet bepaald): 3" in rendered.body
    assert rendered.body.count("Niets te melden") == nothing
    for text in present:
        assert text in rendered.body


@pytest.mark.parametrize("template", STAFF_NOTICES)
def test_staff_mail_says_the_dates_are_no_legal_advice(replies: Replies, template: str) -> None:
    assert DISCLAIMER in render(replies, template, "nl").body


# --- every template -------------------------------------------------------------------------

EVERY = [(t, lang) for t in SUBJECT_NOTICES for lang in ("nl", "en")] + [
    (t, "nl") for t in STAFF_NOTICES
]


@pytest.mark.parametrize(("template", "language"), EVERY)
def test_no_template_leaves_stray_whitespace_or_syntax(
    replies: Replies, template: str, language: str
) -> None:
    body = render(replies, template, language).body
    assert "\n\n\n" not in body
    assert not [line for line in body.splitlines() if line != line.rstrip()]
    assert "{{" not in body
    assert "{%" not in body


@pytest.mark.parametrize(
    ("template", "language", "missing"),
    [
        ("extension_notice", "nl", "new_due"),
        ("extension_notice", "en", "reasons"),
        ("refusal_notice", "nl", "reasons"),
        ("refusal_notice", "en", "email"),
        ("complaint_acknowledgement", "nl", "promise_on"),
        ("complaint_acknowledgement", "en", "website"),
        ("staff_reminder", "nl", "deadline"),
        ("staff_escalation", "nl", "extended_due"),
        ("staff_digest", "nl", "overdue"),
        ("answer", "nl", "text"),
        ("answer", "en", "organisation"),
        ("staff_task_assigned", "nl", "url"),
    ],
)
def test_a_missing_variable_is_an_error_not_a_blank(
    replies: Replies, template: str, language: str, missing: str
) -> None:
    variables = context(template, language)
    del variables[missing]
    with pytest.raises(jinja2.UndefinedError, match=f"'{missing}' is undefined"):
        replies.render(template, language, **variables)


# --- the answer and the task mail -------------------------------------------------------------


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_answer_puts_staffs_text_between_greeting_and_closing(
    replies: Replies, language: str
) -> None:
    body = render(replies, "answer", language).body
    greeting, _, rest = body.partition("\n\n")
    assert greeting == ("Beste Fatima el Amrani," if language == "nl" else "Dear Fatima el Amrani,")
    assert ANSWER_TEXT[language] in rest
    assert rest.index(REF) < rest.index(ANSWER_TEXT[language]) < rest.index(ORGANISATION)
    assert AP_FORM[language] in body


@pytest.mark.parametrize(
    ("extended", "paused", "present", "absent"),
    [
        (False, False, ("De wettelijke termijn: donderdag 2 april 2026",), ("verlengd", "stil")),
        (True, True, ("De wettelijke termijn (verlengd): donderdag 2 april 2026", "stil"), ()),
    ],
)
def test_the_task_mail_names_the_step_the_dates_and_the_link(
    replies: Replies,
    extended: bool,
    paused: bool,
    present: tuple[str, ...],
    absent: tuple[str, ...],
) -> None:
    rendered = render(replies, "staff_task_assigned", "nl", extended=extended, paused=paused)
    assert rendered.subject == f"Nieuwe taak voor u in zaak {REF}"
    assert "Taak: Zoek de persoon op in het CRM" in rendered.body
    assert f"https://console.example.nl/cases/{REF}" in rendered.body
    assert "maandag 30 maart 2026" in rendered.body and "(inzage)" in rendered.body
    for text in present:
        assert text in rendered.body
    for text in absent:
        assert text not in rendered.body
