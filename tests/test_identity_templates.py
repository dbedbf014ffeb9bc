"""The identity mails: the acknowledgement that asks for a copy or a code, the later request for a
copy, the reminders, the mail about a copy that was not shielded, and the closing notice.

Each is rendered through `Replies().render` with realistic values, and checked for what a reader
would notice: the reference, the written-out dates, the four parts to black out, the KopieID tip,
the promise to delete the copy, the code, how to send the copy on their channel, and the ways to
complain when we close the request.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import jinja2
import pytest

from dsr_bot.replies import Rendered, Replies

REF = "AVG-2026-0042"
RECEIVED = date(2026, 3, 2)  # a Monday
PROMISE = date(2026, 3, 30)  # four weeks later
REQUESTED = date(2026, 3, 3)  # a Tuesday: the day we asked for the copy or the code
CLOSE = date(2026, 3, 31)  # when the request is closed if nothing arrives
CODE = "483 921"

ORGANISATION = "Academie Werkend Leren"
PARENT = "Onderwijs.pro Opleidingen"
EMAIL = "info@academiewerkendleren.nl"
WEBSITE = "academiewerkendleren.nl"

DAYS = {
    "nl": {
        RECEIVED: "maandag 2 maart 2026",
        PROMISE: "maandag 30 maart 2026",
        REQUESTED: "dinsdag 3 maart 2026",
        CLOSE: "dinsdag 31 maart 2026",
    },
    "en": {
        RECEIVED: "Monday 2 March 2026",
        PROMISE: "Monday 30 March 2026",
        REQUESTED: "Tuesday 3 March 2026",
        CLOSE: "Tuesday 31 March 2026",
    },
}
FIELDS = ("photo", "mrz", "document_number", "bsn")
FIELD_WORDS = {
    "nl": {
        "photo": "uw pasfoto",
        "mrz": "de MRZ (de strook met letters, cijfers en <-tekens onderaan)",
        "document_number": "het documentnummer",
        "bsn": "uw burgerservicenummer (BSN)",
    },
    "en": {
        "photo": "your passport photo",
        "mrz": "the MRZ (the strip of letters, numbers and < signs at the bottom)",
        "document_number": "the document number",
        "bsn": "your citizen service number (BSN, burgerservicenummer)",
    },
}
WATERMARK = {
    "nl": f'"verzoek {REF} aan {ORGANISATION}"',
    "en": f'"request {REF} to {ORGANISATION}"',
}
SEND_BY = {
    ("nl", "email"): "Antwoord op deze e-mail en stuur de kopie mee als bijlage.",
    ("nl", "telegram"): "Stuur een foto van de afgeschermde kopie hier in deze chat.",
    ("en", "email"): "Reply to this e-mail and add the copy as an attachment.",
    ("en", "telegram"): "Send a photo of the shielded copy here in this chat.",
}
THIS_MAIL = {"nl": "deze e-mail", "en": "this e-mail"}
NOT_ME = {"nl": '"dit verzoek komt niet van mij"', "en": '"this request did not come from me"'}
NO_COPY_NEEDED = {
    "nl": "U hoeft geen kopie van uw identiteitsbewijs te sturen.",
    "en": "You do not need to send a copy of your ID.",
}
CLOCK = {
    "nl": "telt niet mee voor de tijd die wij hebben om te antwoorden",
    "en": "does not count towards the time we have to answer",
}
AP_LINES = {
    "nl": (
        "- Online, met het formulier op: "
        "https://autoriteitpersoonsgegevens.nl/een-tip-of-klacht-indienen-bij-de-ap\n"
        "- Per post: Autoriteit Persoonsgegevens, Postbus 93374, 2509 AJ Den Haag\n"
        "- Per telefoon: 088 - 1805 250\n"
    ),
    "en": (
        "- Online, with the form on: https://autoriteitpersoonsgegevens.nl/en/"
        "submitting-a-tip-off-or-a-complaint-to-the-dutch-dpa\n"
        "- By post: Autoriteit Persoonsgegevens, Postbus 93374, 2509 AJ Den Haag, the Netherlands\n"
        "- By phone: 088 - 1805 250 (from abroad: +31 88 1805 250)\n"
    ),
}
REASON = {
    "nl": "Uw verzoek kwam van een ander e-mailadres dan het adres dat wij van u kennen.",
    "en": "Your request came from a different e-mail address than the one we know.",
}

TEMPLATES = (
    "acknowledgement",
    "id_request",
    "id_reminder",
    "id_copy_unshielded",
    "identity_not_verified",
)


def context(template: str, **overrides: Any) -> dict[str, Any]:
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
        # Acknowledgements are e-mail only: no channel.
        "acknowledgement": {**person, "promise_on": PROMISE, "identity": "copy", "code": None},
        "id_request": {**person, "channel": "email", "reason": None},
        "id_reminder": {
            **person,
            "channel": "email",
            "identity": "copy",
            "code": None,
            "requested_on": REQUESTED,
            "close_on": CLOSE,
            "step": 1,
        },
        "id_copy_unshielded": {
            **person,
            "channel": "email",
            "fields": ["photo", "bsn"],
            "unreadable": False,
        },
        "identity_not_verified": {
            **person,
            "channel": "email",
            "identity": "copy",
            "requested_on": REQUESTED,
        },
    }
    return {**contexts[template], **overrides}


@pytest.fixture(scope="module")
def replies() -> Replies:
    return Replies()


def render(replies: Replies, template: str, language: str, **overrides: Any) -> Rendered:
    return replies.render(template, language, **context(template, **overrides))


# --- subjects, references and dates -------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "language", "overrides", "subject", "dates"),
    [
        (
            "acknowledgement",
            "nl",
            {},
            f"Wij hebben uw bericht ontvangen [{REF}]",
            (RECEIVED,),
        ),
        (
            "acknowledgement",
            "en",
            {"identity": "code", "code": CODE},
            f"We have received your message [{REF}]",
            (RECEIVED, PROMISE),
        ),
        (
            "id_request",
            "nl",
            {},
            f"Uw verzoek {REF}: kopie identiteitsbewijs nodig",
            (RECEIVED,),
        ),
        (
            "id_request",
            "en",
            {},
            f"Your request {REF}: copy of your ID needed",
            (RECEIVED,),
        ),
        (
            "id_reminder",
            "nl",
            {},
            f"Herinnering over uw verzoek {REF}: kopie identiteitsbewijs nodig",
            (REQUESTED, CLOSE),
        ),
        (
            "id_reminder",
            "nl",
            {"identity": "code", "code": CODE, "step": 2},
            f"Laatste herinnering over uw verzoek {REF}: wij wachten op uw code",
            (REQUESTED, CLOSE),
        ),
        (
            "id_reminder",
            "en",
            {"step": 2},
            f"Last reminder about your request {REF}: copy of your ID needed",
            (REQUESTED, CLOSE),
        ),
        (
            "id_reminder",
            "en",
            {"identity": "code", "code": CODE},
            f"Reminder about your request {REF}: we are waiting for your code",
            (REQUESTED, CLOSE),
        ),
        (
            "id_copy_unshielded",
            "nl",
            {},
            f"Uw verzoek {REF}: kopie identiteitsbewijs nog niet afgeschermd",
            (),
        ),
        (
            "id_copy_unshielded",
            "nl",
            {"fields": [], "unreadable": True},
            f"Uw verzoek {REF}: wij konden uw kopie niet openen",
            (),
        ),
        (
            "id_copy_unshielded",
            "en",
            {},
            f"Your request {REF}: copy of your ID not yet shielded",
            (),
        ),
        (
            "id_copy_unshielded",
            "en",
            {"fields": [], "unreadable": True},
            f"Your request {REF}: we could not open your copy",
            (),
        ),
        (
            "identity_not_verified",
            "nl",
            {},
            f"Uw verzoek {REF} is gesloten",
            (RECEIVED, REQUESTED),
        ),
        (
            "identity_not_verified",
            "en",
            {"identity": "code"},
            f"Your request {REF} has been closed",
            (RECEIVED, REQUESTED),
        ),
    ],
)
def test_a_mail_names_the_reference_and_writes_dates_out(
    replies: Replies,
    template: str,
    language: str,
    overrides: dict[str, Any],
    subject: str,
    dates: tuple[date, ...],
) -> None:
    rendered = render(replies, template, language, **overrides)
    assert rendered.subject == subject
    assert REF in rendered.body
    for day in dates:
        assert DAYS[language][day] in rendered.body
        assert day.isoformat() not in rendered.body


# --- asking for a shielded copy -----------------------------------------------------------------

COPY_ASKS = [
    ("acknowledgement", {}),
    ("id_request", {}),
    ("id_request", {"channel": "telegram"}),
    ("id_reminder", {}),
    ("id_reminder", {"channel": "telegram", "step": 2}),
    ("id_copy_unshielded", {"fields": [], "unreadable": True}),
]


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize(("template", "overrides"), COPY_ASKS)
def test_asking_for_a_copy_names_all_four_parts_to_black_out_and_kopieid(
    replies: Replies, template: str, overrides: dict[str, Any], language: str
) -> None:
    body = render(replies, template, language, **overrides).body
    for field in FIELDS:
        assert FIELD_WORDS[language][field] in body
    assert "KopieID" in body
    assert no_long_numbers(body)


@pytest.mark.parametrize(
    ("template", "language", "deletion"),
    [
        ("acknowledgement", "nl", "Direct daarna verwijderen wij de kopie."),
        ("acknowledgement", "en", "Right after that, we delete the copy."),
        ("id_request", "nl", "Direct daarna verwijderen wij de kopie."),
        ("id_request", "en", "Right after that, we delete the copy."),
        ("id_reminder", "nl", "Wij verwijderen uw kopie direct nadat"),
        ("id_reminder", "en", "We delete your copy right after"),
        ("id_copy_unshielded", "nl", "Wij verwijderen uw kopie direct nadat"),
        ("id_copy_unshielded", "en", "We delete your copy right after"),
    ],
)
def test_asking_for_a_copy_promises_to_delete_it(
    replies: Replies, template: str, language: str, deletion: str
) -> None:
    assert deletion in render(replies, template, language).body


@pytest.mark.parametrize(
    ("template", "language", "present"),
    [
        (
            "acknowledgement",
            "nl",
            (
                WATERMARK["nl"],
                CLOCK["nl"],
                "JPEG of PNG) of een PDF",
                "Wij schrijven alleen op dat wij uw identiteit hebben gecontroleerd.",
                "alleen aan de juiste persoon",
                "paspoort, uw identiteitskaart of uw rijbewijs",
            ),
        ),
        (
            "acknowledgement",
            "en",
            (
                WATERMARK["en"],
                CLOCK["en"],
                "JPEG or PNG) or a PDF",
                "We only write down that we have checked your identity.",
                "only to the right person",
                "passport, identity card or driving licence",
            ),
        ),
        (
            "id_request",
            "nl",
            (WATERMARK["nl"], CLOCK["nl"], "Wij schrijven alleen op dat wij uw identiteit"),
        ),
        (
            "id_request",
            "en",
            (WATERMARK["en"], CLOCK["en"], "We only write down that we have checked"),
        ),
    ],
)
def test_a_copy_request_explains_why_how_and_what_happens_to_it(
    replies: Replies, template: str, language: str, present: tuple[str, ...]
) -> None:
    body = render(replies, template, language).body
    for text in present:
        assert text in body


@pytest.mark.parametrize(
    ("language", "instead"),
    [
        ("nl", "U krijgt binnen vier weken nadat wij uw kopie hebben ontvangen een antwoord"),
        ("en", "You will hear from us within four weeks after we have received your copy."),
    ],
)
def test_an_acknowledgement_asking_for_a_copy_promises_four_weeks_from_the_copy(
    replies: Replies, language: str, instead: str
) -> None:
    body = render(replies, "acknowledgement", language).body
    assert instead in body
    assert DAYS[language][PROMISE] not in body


@pytest.mark.parametrize(
    ("language", "heading", "general"),
    [
        ("nl", "Waarom vragen wij dit?", "Wij willen zeker weten dat wij gegevens alleen aan"),
        ("en", "Why do we ask for this?", "We want to be sure that we give information only"),
    ],
)
def test_an_id_request_prints_the_reason_under_its_heading_when_given(
    replies: Replies, language: str, heading: str, general: str
) -> None:
    given = render(replies, "id_request", language, reason=REASON[language]).body
    assert f"{heading}\n{REASON[language]}\n{general}" in given

    for without in (
        render(replies, "id_request", language).body,
        replies.render(
            "id_request",
            language,
            **{k: v for k, v in context("id_request").items() if k != "reason"},
        ).body,
    ):
        assert f"{heading}\n{general}" in without
        assert REASON[language] not in without


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize(
    ("template", "overrides"),
    [
        ("id_request", {}),
        ("id_reminder", {}),
        ("id_copy_unshielded", {}),
        ("id_copy_unshielded", {"fields": [], "unreadable": True}),
    ],
)
def test_how_to_send_the_copy_depends_on_the_channel(
    replies: Replies, template: str, overrides: dict[str, Any], language: str
) -> None:
    by_mail = render(replies, template, language, channel="email", **overrides).body
    by_chat = render(replies, template, language, channel="telegram", **overrides).body
    assert SEND_BY[language, "email"] in by_mail
    assert SEND_BY[language, "telegram"] not in by_mail
    assert SEND_BY[language, "telegram"] in by_chat
    assert SEND_BY[language, "email"] not in by_chat
    assert THIS_MAIL[language] not in by_chat
    assert by_mail != by_chat


# --- asking for a code --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "language", "top"),
    [
        ("acknowledgement", "nl", f"Zet alleen de code {CODE} bovenaan uw antwoord."),
        ("acknowledgement", "en", f"Put only the code {CODE} at the top of your reply."),
        ("id_reminder", "nl", f"Zet alleen de code {CODE} bovenaan uw antwoord."),
        ("id_reminder", "en", f"Put only the code {CODE} at the top of your reply."),
    ],
)
def test_asking_for_a_code_shows_it_and_needs_no_id_copy(
    replies: Replies, template: str, language: str, top: str
) -> None:
    body = render(replies, template, language, identity="code", code=CODE).body
    assert top in body
    assert f": {CODE}\n" in body  # also on a line of its own
    assert NOT_ME[language] in body
    assert NO_COPY_NEEDED[language] in body
    assert "KopieID" not in body
    for words in FIELD_WORDS[language].values():
        assert words not in body


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_acknowledgement_asking_for_a_code_keeps_the_promised_date(
    replies: Replies, language: str
) -> None:
    body = render(replies, "acknowledgement", language, identity="code", code=CODE).body
    assert DAYS[language][PROMISE] in body
    assert CLOCK[language] not in body


# --- the acknowledgement without identity check -------------------------------------------------


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_acknowledgement_without_identity_check_is_as_before(
    replies: Replies, language: str
) -> None:
    plain = render(replies, "acknowledgement", language, identity=None, code=None)
    variables = context("acknowledgement")
    del variables["identity"], variables["code"]
    assert replies.render("acknowledgement", language, **variables) == plain
    assert DAYS[language][RECEIVED] in plain.body
    assert DAYS[language][PROMISE] in plain.body
    for absent in ("KopieID", CODE, NOT_ME[language], CLOCK[language]):
        assert absent not in plain.body


# --- reminders ----------------------------------------------------------------------------------


@pytest.mark.parametrize("identity", ["copy", "code"])
@pytest.mark.parametrize(
    ("language", "last", "closing", "again"),
    [
        (
            "nl",
            "Dit is onze laatste herinnering.",
            "Dan sluiten wij uw verzoek op dinsdag 31 maart 2026.",
            "U kunt daarna altijd een nieuw verzoek doen.",
        ),
        (
            "en",
            "This is our last reminder.",
            "Then we will close your request on Tuesday 31 March 2026.",
            "You can always make a new request after that.",
        ),
    ],
)
def test_a_reminder_says_when_the_request_closes_and_which_one_is_the_last(
    replies: Replies, language: str, last: str, closing: str, again: str, identity: str
) -> None:
    first = render(replies, "id_reminder", language, identity=identity, code=CODE, step=1)
    final = render(replies, "id_reminder", language, identity=identity, code=CODE, step=2)
    for rendered in (first, final):
        assert closing in rendered.body
        assert again in rendered.body
    assert last not in first.body
    assert last in final.body
    assert final.subject.lower().startswith(("laatste herinnering", "last reminder"))
    assert not first.subject.lower().startswith(("laatste", "last"))


@pytest.mark.parametrize(
    ("language", "nothing_yet"),
    [
        ("nl", "Wij hebben nog geen kopie van u ontvangen."),
        ("en", "We have not received a copy from you yet."),
    ],
)
def test_a_copy_reminder_says_nothing_arrived_yet(
    replies: Replies, language: str, nothing_yet: str
) -> None:
    body = render(replies, "id_reminder", language).body
    assert nothing_yet in body
    assert CODE not in body


# --- a copy that was not shielded ---------------------------------------------------------------


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize(
    "fields",
    [["photo"], ["mrz", "bsn"], ["photo", "document_number"], list(FIELDS)],
)
def test_an_unshielded_copy_mail_names_exactly_what_was_still_visible(
    replies: Replies, language: str, fields: list[str]
) -> None:
    body = render(replies, "id_copy_unshielded", language, fields=fields).body
    seen = "\n".join(f"- {FIELD_WORDS[language][field]}" for field in fields)
    assert f"\n{seen}\n\n" in body  # one bullet each, in the order given
    for field in FIELDS:
        if field not in fields:
            assert FIELD_WORDS[language][field] not in body
    assert "KopieID" in body


@pytest.mark.parametrize(
    ("language", "unreadable", "present", "absent"),
    [
        (
            "nl",
            False,
            ("Op de kopie konden wij nog dit zien:", "Wij hebben er niets van bewaard."),
            ("niet openen",),
        ),
        (
            "nl",
            True,
            (
                "Wij konden het bestand helaas niet openen.",
                "Stuur de kopie als JPEG, PNG of PDF.",
                "Wij hebben er niets van bewaard.",
            ),
            ("konden wij nog dit zien",),
        ),
        (
            "en",
            False,
            ("On the copy, we could still see:", "We have not kept anything of it."),
            ("could not open",),
        ),
        (
            "en",
            True,
            (
                "we could not open the file.",
                "send the copy as a JPEG, PNG or PDF file.",
                "We have not kept anything of it.",
            ),
            ("could still see",),
        ),
    ],
)
def test_an_unshielded_or_unreadable_copy_was_not_kept(
    replies: Replies,
    language: str,
    unreadable: bool,
    present: tuple[str, ...],
    absent: tuple[str, ...],
) -> None:
    fields = [] if unreadable else ["mrz"]
    body = render(
        replies, "id_copy_unshielded", language, fields=fields, unreadable=unreadable
    ).body
    for text in present:
        assert text in body
    for text in absent:
        assert text not in body


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_unshielded_copy_without_named_fields_asks_for_all_four(
    replies: Replies, language: str
) -> None:
    body = render(replies, "id_copy_unshielded", language, fields=[]).body
    for field in FIELDS:
        assert FIELD_WORDS[language][field] in body


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_unknown_field_is_an_error_not_a_blank(replies: Replies, language: str) -> None:
    with pytest.raises(jinja2.UndefinedError):
        render(replies, "id_copy_unshielded", language, fields=["photo", "selfie"])


# --- closing the request ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "identity", "asked", "present"),
    [
        (
            "nl",
            "copy",
            "hebben wij u gevraagd om een afgeschermde kopie van uw identiteitsbewijs",
            ("Wij hebben uw verzoek gesloten.", "nieuw verzoek", "rechter", "artikel 12 lid 4"),
        ),
        (
            "nl",
            "code",
            "hebben wij u een e-mail gestuurd met een code",
            ("Wij hebben uw verzoek gesloten.", "nieuw verzoek", "rechter", "artikel 12 lid 4"),
        ),
        (
            "en",
            "copy",
            "we asked you for a shielded copy of your ID",
            ("We have closed your request.", "new request", "go to court", "Article 12(4)"),
        ),
        (
            "en",
            "code",
            "we sent you an e-mail with a code",
            ("We have closed your request.", "new request", "go to court", "Article 12(4)"),
        ),
    ],
)
def test_closing_the_request_says_why_and_where_to_complain(
    replies: Replies, language: str, identity: str, asked: str, present: tuple[str, ...]
) -> None:
    body = render(replies, "identity_not_verified", language, identity=identity).body
    assert f"{DAYS[language][REQUESTED]} {asked}" in body
    assert AP_LINES[language] in body
    for text in present:
        assert text in body


@pytest.mark.parametrize("language", ["nl", "en"])
def test_closing_the_request_uses_the_same_ap_lines_as_a_refusal(
    replies: Replies, language: str
) -> None:
    refusal = replies.render(
        "refusal_notice", language, **context("identity_not_verified"), reasons="..."
    ).body
    assert AP_LINES[language] in refusal


# --- every template -----------------------------------------------------------------------------

VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("acknowledgement", {"identity": None}),
    ("acknowledgement", {"identity": "copy"}),
    ("acknowledgement", {"identity": "code", "code": CODE}),
    ("id_request", {"reason": REASON["nl"]}),
    ("id_request", {"channel": "telegram"}),
    ("id_reminder", {"step": 2}),
    ("id_reminder", {"identity": "code", "code": CODE, "channel": "telegram"}),
    ("id_copy_unshielded", {"fields": list(FIELDS)}),
    ("id_copy_unshielded", {"fields": [], "unreadable": True, "channel": "telegram"}),
    ("id_copy_unshielded", {"fields": []}),
    ("identity_not_verified", {"identity": "code", "channel": "telegram"}),
    ("identity_not_verified", {}),
]


def no_long_numbers(body: str) -> bool:
    """No run of eight or more digits: no personal number (a BSN, say) ever goes into a mail."""
    return re.search(r"\d{8,}", body) is None


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize(("template", "overrides"), VARIANTS)
def test_no_template_leaves_stray_whitespace_syntax_or_numbers(
    replies: Replies, template: str, overrides: dict[str, Any], language: str
) -> None:
    rendered = render(replies, template, language, **overrides)
    body = rendered.body
    assert "\n\n\n" not in body
    assert not [line for line in body.splitlines() if line != line.rstrip()]
    assert "{{" not in body
    assert "{%" not in body
    assert "{#" not in body
    assert "<html" not in body.lower()
    assert no_long_numbers(body)
    assert REF in rendered.subject


@pytest.mark.parametrize("template", TEMPLATES)
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
def test_a_mail_greets_and_signs_off_like_the_others(
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
    assert sign_off in body
    if template != "acknowledgement":  # which ends with "automatic confirmation of receipt"
        assert body.endswith(sign_off)


@pytest.mark.parametrize(
    ("template", "language", "overrides", "missing"),
    [
        ("acknowledgement", "nl", {"identity": None}, "promise_on"),
        ("acknowledgement", "en", {"identity": "code", "code": CODE}, "promise_on"),
        ("acknowledgement", "en", {"identity": "code", "code": CODE}, "code"),
        ("acknowledgement", "nl", {}, "organisation"),
        ("id_request", "nl", {}, "channel"),
        ("id_request", "en", {}, "received_on"),
        ("id_reminder", "nl", {}, "close_on"),
        ("id_reminder", "en", {}, "requested_on"),
        ("id_reminder", "nl", {"identity": "code", "code": CODE}, "code"),
        ("id_reminder", "en", {}, "step"),
        ("id_copy_unshielded", "nl", {}, "fields"),
        ("id_copy_unshielded", "en", {}, "unreadable"),
        ("id_copy_unshielded", "nl", {}, "channel"),
        ("identity_not_verified", "nl", {}, "requested_on"),
        ("identity_not_verified", "en", {}, "identity"),
        ("identity_not_verified", "nl", {}, "channel"),
    ],
)
def test_a_missing_variable_is_an_error_not_a_blank(
    replies: Replies, template: str, language: str, overrides: dict[str, Any], missing: str
) -> None:
    variables = context(template, **overrides)
    del variables[missing]
    with pytest.raises(jinja2.UndefinedError, match=f"'{missing}' is undefined"):
        replies.render(template, language, **variables)
