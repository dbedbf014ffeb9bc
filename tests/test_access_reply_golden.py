"""The access reply (Art. 15): all eight items (a) to (h), each with the facts of the profile.

The whole text is compared with a golden file per language, so any change to what a person
reads is seen in review; each item is also checked on its own, so a regenerated golden file
cannot hide a missing item. Regenerate after a deliberate change with
`UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_access_reply_golden.py`.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from dsr_bot.config import ProfileSettings
from dsr_bot.organisation import LocalText, PrivacyContact, Recipient, Retention, RetentionRule
from dsr_bot.replies import Rendered, Replies

GOLDEN = Path(__file__).parent / "golden"
REF = "AVG-2026-0042"

# The headings of the reply, in order, and what each item must say (from the default profile).
ITEMS = {
    "nl": [
        (
            "a",
            "Waarom gebruiken wij uw gegevens?",
            [
                "- Uw betalingen afhandelen (nodig om de overeenkomst met u uit te voeren)",
                "- Wettelijke plichten nakomen, zoals de belastingaangifte (een wettelijke plicht)",
                "- Digitale nieuwsbrieven sturen\n",
            ],
        ),
        (
            "b",
            "Welke gegevens gebruiken wij?",
            ["- IP-adres", "- Bankrekeningnummer (IBAN)", "- Burgerservicenummer (BSN)"],
        ),
        (
            "c",
            "Wie krijgt uw gegevens?",
            [
                "- Een betaalprovider: om uw betalingen met iDEAL af te handelen",
                "- Google: voor Google Analytics",
                "- Hotjar:",
            ],
        ),
        (
            "d",
            "Hoe lang bewaren wij uw gegevens?",
            [
                "Meestal is dat 2 jaar.",
                "7 jaar, vanwege de fiscale bewaarplicht (artikel 52 van de Algemene wet inzake "
                "rijksbelastingen)",
            ],
        ),
        (
            "g",
            "Waar komen uw gegevens vandaan?",
            ["- uzelf", "- uw activiteit op onze website", "_ga, _gcl_au. Bewaard: 2 jaar."],
        ),
        ("h", "Nemen wij automatisch besluiten over u?", ["Nee. Wij nemen geen besluiten"]),
        (
            "e",
            "Wat zijn uw rechten?",
            ["verbeteren", "te wissen", "te beperken", "bezwaar", "info@academiewerkendleren.nl"],
        ),
        (
            "f",
            "Wilt u een klacht indienen?",
            [
                "Autoriteit Persoonsgegevens",
                "https://autoriteitpersoonsgegevens.nl/een-tip-of-klacht-indienen-bij-de-ap",
                "Postbus 93374, 2509 AJ Den Haag",
            ],
        ),
    ],
    "en": [
        (
            "a",
            "Why do we use your data?",
            [
                "- Handling your payments (needed to perform our contract with you)",
                "- Meeting legal obligations, such as tax returns (a legal obligation)",
                "- Sending digital newsletters\n",
            ],
        ),
        (
            "b",
            "Which data do we use?",
            ["- IP address", "- Bank account number (IBAN)", "- Citizen service number (BSN)"],
        ),
        (
            "c",
            "Who receives your data?",
            [
                "- A payment provider: to handle your iDEAL payments",
                "- Google: for Google Analytics",
                "- Hotjar:",
            ],
        ),
        (
            "d",
            "How long do we keep your data?",
            [
                "Usually that is 2 years.",
                "7 years, because of the Dutch fiscal retention duty (Article 52 of the General "
                "Tax Act, AWR)",
            ],
        ),
        (
            "g",
            "Where does your data come from?",
            ["- you:", "- your activity on our website", "_ga, _gcl_au. Kept: 2 years."],
        ),
        ("h", "Do we make automated decisions about you?", ["No. We make no decisions"]),
        (
            "e",
            "What are your rights?",
            ["correct", "erase", "restrict", "object", "info@academiewerkendleren.nl"],
        ),
        (
            "f",
            "Would you like to complain?",
            [
                "Dutch Data Protection Authority (Autoriteit Persoonsgegevens)",
                "https://autoriteitpersoonsgegevens.nl/en/submitting-a-tip-off-or-a-complaint-to-the-dutch-dpa",
                "Postbus 93374, 2509 AJ Den Haag",
            ],
        ),
    ],
}
CONFIRMS = {
    "nl": [
        "Ja, wij verwerken persoonsgegevens van u.",
        "een kopie van die gegevens (een export), in een zip-bestand",
        "- data.csv:",
    ],
    "en": [
        "Yes, we process personal data about you.",
        "a copy of that data (an export), in a zip file",
        "- data.csv:",
    ],
}


def render(language: str, profile: ProfileSettings | None = None) -> Rendered:
    profile = profile or ProfileSettings()
    return Replies().render(
        "access_reply",
        language,
        name="Fatima el Amrani",
        reference=REF,
        received_on=date(2026, 3, 2),
        reasons="",
        channel="email",
        text="",
        **profile.reply_context(),
    )


def sections(body: str, language: str) -> dict[str, str]:
    """Each item's text: from its heading to the next item's heading."""
    headings = [(item, heading) for item, heading, _ in ITEMS[language]]
    starts = []
    for item, heading in headings:
        assert f"\n{heading}\n" in body, f"item ({item}) has no heading {heading!r}"
        starts.append(body.index(f"\n{heading}\n"))
    assert starts == sorted(starts), "the items are out of order"
    ends = [*starts[1:], len(body)]
    return {item: body[s:e] for (item, _), s, e in zip(headings, starts, ends, strict=True)}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_access_reply_matches_its_golden_text(language: str) -> None:
    rendered = render(language)
    text = f"Subject: {rendered.subject}\n\n{rendered.body}"
    golden = GOLDEN / f"access_reply.{language}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_access_reply_has_all_eight_items_from_the_profile(language: str) -> None:
    rendered = render(language)
    assert f"[{REF}]" in rendered.subject
    found = sections(rendered.body, language)
    assert sorted(found) == list("abcdefgh")
    for item, _, facts in ITEMS[language]:
        for fact in facts:
            assert fact in found[item], f"item ({item}) lacks {fact!r}"
    for words in CONFIRMS[language]:
        assert words in rendered.body


@pytest.mark.parametrize("language", ["nl", "en"])
def test_another_organisation_changes_the_profile_not_the_code(language: str) -> None:
    profile = ProfileSettings(
        organisation="Voorbeeld Opleidingen",
        parent_organisation="",
        email="privacy@voorbeeld.nl",
        website="https://voorbeeld.nl",
        privacy_contact=PrivacyContact(email="privacy@voorbeeld.nl", phone="030 123 45 67"),
        recipients=(
            Recipient(
                name=LocalText("Mailchimp", "Mailchimp"),
                why=LocalText("voor de nieuwsbrief", "for the newsletter"),
            ),
        ),
        retention=Retention(
            standard_years=3,
            longer=(
                RetentionRule(
                    what=LocalText("Diploma's", "Diplomas"),
                    years=50,
                    basis=LocalText("de onderwijswet", "education law"),
                ),
            ),
        ),
        cookies=(),
        automated_decisions=True,
    )
    body = render(language, profile).body
    found = sections(body, language)
    assert "Mailchimp" in found["c"] and "Google" not in body
    assert ("3 jaar" if language == "nl" else "3 years") in found["d"]
    assert ("50 jaar" if language == "nl" else "50 years") in found["d"]
    assert "7 " not in found["d"]  # the default's tax records are not this organisation's
    assert found["h"].split("\n")[2].startswith("Ja." if language == "nl" else "Yes.")
    assert "privacy@voorbeeld.nl" in found["e"] and "030 123 45 67" in found["e"]
    assert "Voorbeeld Opleidingen" in body and "academiewerkendleren" not in body.lower()
