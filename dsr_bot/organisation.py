"""The facts about the organisation that replies state: what it processes, why, for whom, how long.

Each `[profiles.*]` table of the settings carries these (config.ProfileSettings); the defaults
are the privacy and cookie statement of Academie Werkend Leren (28 May 2021). A deployment for
another organisation changes the profile and the templates, not the code. Text a data subject
reads is given in Dutch and English (`Text`): a plain string serves both languages, a pair
["Dutch", "English"] gives each its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator


@dataclass(frozen=True, slots=True)
class LocalText:
    nl: str
    en: str


def _text(value: Any) -> Any:
    if isinstance(value, str):
        return LocalText(value, value)
    if isinstance(value, list | tuple):
        if len(value) != 2 or not all(isinstance(v, str) for v in value):
            raise ValueError('a text is "both languages" or ["Dutch", "English"]')
        return LocalText(value[0], value[1])
    return value  # a table {nl = "...", en = "..."}, or a LocalText already


Text = Annotated[LocalText, BeforeValidator(_text)]
CookieType = Literal["functional", "analytical", "marketing"]


class _Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrivacyContact(_Fact):
    # Where people exercise their rights and complain first.
    email: str = "info@academiewerkendleren.nl"
    phone: str = ""  # empty: not given

    @field_validator("email")
    @classmethod
    def _address(cls, v: str) -> str:
        if "@" not in v or any(c.isspace() for c in v):
            raise ValueError(f"not an e-mail address: {v!r}")
        return v.strip().lower()


class Purpose(_Fact):
    what: Text
    # Stated only where the privacy statement gives or implies one (Art. 13 asks for it; Art. 15
    # only for the purpose); None: the reply names the purpose alone.
    basis: Text | None = None


class Recipient(_Fact):
    name: Text
    why: Text


class RetentionRule(_Fact):
    """Data kept longer than the standard period because a law says so."""

    what: Text
    years: int = Field(ge=1, le=100)
    basis: Text


class Retention(_Fact):
    standard_years: int = Field(2, ge=1, le=100)
    longer: tuple[RetentionRule, ...] = (
        RetentionRule(
            what=LocalText(
                "Facturen, betalingen en andere gegevens die nodig zijn voor de belastingaangifte",
                "Invoices, payments and other records needed for tax returns",
            ),
            years=7,
            basis=LocalText(
                "de fiscale bewaarplicht (artikel 52 van de Algemene wet inzake rijksbelastingen)",
                "the Dutch fiscal retention duty (Article 52 of the General Tax Act, AWR)",
            ),
        ),
    )
    # After a backup is restored, earlier erasures are applied again (the statement promises it).
    erasure_survives_restore: bool = True


class Cookie(_Fact):
    provider: str
    types: tuple[CookieType, ...] = Field(min_length=1)
    names: tuple[str, ...] = Field(min_length=1)
    retention: Text


class System(_Fact):
    """Where the organisation keeps personal data: what staff search, export and erase."""

    name: str
    holds: Text


def _t(nl: str, en: str) -> LocalText:
    return LocalText(nl, en)


DATA_CATEGORIES = (
    _t("Naam", "Name"),
    _t("Geslacht", "Gender"),
    _t("Bedrijfsnaam", "Company name"),
    _t("Geboortedatum", "Date of birth"),
    _t("Geboorteplaats", "Place of birth"),
    _t("Adres", "Address"),
    _t("Telefoonnummer", "Phone number"),
    _t("E-mailadres", "E-mail address"),
    _t("IP-adres", "IP address"),
    _t("Uw activiteit op onze website", "Your activity on our website"),
    _t("Bankrekeningnummer (IBAN)", "Bank account number (IBAN)"),
    _t("Opleidingsniveau", "Level of education"),
    _t("Vragen en meldingen die u ons stuurt", "Questions and reports you send us"),
    _t(
        "Wat u invult in formulieren, zoals het contactformulier",
        "What you fill in on forms, such as the contact form",
    ),
)
SPECIAL_CATEGORIES = (
    _t("Burgerlijke staat", "Marital status"),
    _t("Burgerservicenummer (BSN)", "Citizen service number (BSN)"),
    _t("Nationaliteit", "Nationality"),
    _t("Werkgever", "Employer"),
)
_CONTRACT = _t(
    "nodig om de overeenkomst met u uit te voeren", "needed to perform our contract with you"
)
PURPOSES = (
    Purpose(what=_t("Uw betalingen afhandelen", "Handling your payments"), basis=_CONTRACT),
    Purpose(
        what=_t("U laten deelnemen aan onze opleidingen", "Letting you take part in our courses"),
        basis=_CONTRACT,
    ),
    Purpose(
        what=_t(
            "U bellen of e-mailen als dat nodig is voor onze dienstverlening",
            "Calling or e-mailing you where our service needs it",
        ),
        basis=_CONTRACT,
    ),
    Purpose(
        what=_t(
            "Wettelijke plichten nakomen, zoals de belastingaangifte",
            "Meeting legal obligations, such as tax returns",
        ),
        basis=_t("een wettelijke plicht", "a legal obligation"),
    ),
    Purpose(
        what=_t("Onze website verbeteren", "Improving our website"),
        basis=_t("uw toestemming voor analytische cookies", "your consent to analytical cookies"),
    ),
    Purpose(what=_t("Met u communiceren per e-mail", "Communicating with you by e-mail")),
    Purpose(what=_t("Digitale nieuwsbrieven sturen", "Sending digital newsletters")),
    Purpose(
        what=_t(
            "U informeren over veranderingen in onze diensten en producten",
            "Informing you about changes to our services and products",
        )
    ),
    Purpose(
        what=_t(
            "Vragen en klachten beantwoorden, via social media, e-mail, post of telefoon",
            "Answering questions and complaints, by social media, e-mail, post or phone",
        )
    ),
)
RECIPIENTS = (
    Recipient(
        name=_t("Een betaalprovider", "A payment provider"),
        why=_t("om uw betalingen met iDEAL af te handelen", "to handle your iDEAL payments"),
    ),
    Recipient(
        name=_t("Een onafhankelijk toetsingsbureau", "An independent assessment bureau"),
        why=_t(
            'voor de toetsing van de "Gepersonaliseerde Leerroute"',
            'to assess the "Gepersonaliseerde Leerroute" (personalised learning route)',
        ),
    ),
    Recipient(
        name=_t("Google", "Google"),
        why=_t(
            "voor Google Analytics (bezoekersstatistieken van onze website), met een "
            "verwerkersovereenkomst. Google deelt deze gegevens ook met andere diensten van "
            "Google, zoals Google Ads",
            "for Google Analytics (visitor statistics of our website), under a data processing "
            "agreement. Google also shares this data with other Google services, such as "
            "Google Ads",
        ),
    ),
    Recipient(
        name=_t("Facebook", "Facebook"),
        why=_t(
            "via marketingcookies op onze website, alleen met uw toestemming",
            "through marketing cookies on our website, only with your consent",
        ),
    ),
    Recipient(
        name=_t("Hotjar", "Hotjar"),
        why=_t(
            "via cookies die laten zien hoe bezoekers onze website gebruiken",
            "through cookies that show how visitors use our website",
        ),
    ),
)
_SESSION = _t("tot u de browser sluit", "until you close your browser")
_YEAR = _t("1 jaar", "1 year")
_ALL_TYPES: tuple[CookieType, ...] = ("functional", "analytical", "marketing")
COOKIES = (
    Cookie(
        provider="Facebook",
        types=("marketing",),
        names=("_fbp", "fr"),
        retention=_t("3 maanden", "3 months"),
    ),
    Cookie(
        provider="Hotjar",
        types=_ALL_TYPES,
        names=(
            "_hjAbsoluteSessionInProgress",
            "_hjFirstSeen",
            "_hjIncludedInPageviewSample",
            "_hjIncludedInSample",
        ),
        retention=_SESSION,
    ),
    Cookie(provider="Hotjar", types=_ALL_TYPES, names=("_hjid",), retention=_YEAR),
    Cookie(
        provider="Complianz",
        types=("functional",),
        names=(
            "_cmplz_event_0",
            "_cmplz_marketing",
            "_complianz_consent_status",
            "_complianz_policy_id",
        ),
        retention=_YEAR,
    ),
    Cookie(
        provider="Google",
        types=_ALL_TYPES,
        names=("__Secure-3PSIDC", "__Secure-3PSID", "_GRECAPTCHA", "SID"),
        retention=_SESSION,
    ),
    Cookie(
        provider="Google Analytics",
        types=("analytical",),
        names=("_ga", "_gcl_au"),
        retention=_t("2 jaar", "2 years"),
    ),
    Cookie(
        provider="Google Analytics",
        types=("analytical",),
        names=("_gat_gtag_UA_179507213_1",),
        retention=_SESSION,
    ),
    Cookie(
        provider="Google Analytics",
        types=("analytical",),
        names=("_gid",),
        retention=_t("22 uur", "22 hours"),
    ),
)
DATA_SOURCES = (
    _t("uzelf: wat u ons geeft of stuurt", "you: what you give or send us"),
    _t(
        "uw activiteit op onze website (via cookies, als u daarvoor toestemming gaf)",
        "your activity on our website (through cookies, where you consented to them)",
    ),
)
SYSTEMS = (
    System(
        name="CRM",
        holds=_t(
            "contactgegevens, inschrijvingen en contact met u",
            "contact details, enrolments and contacts with you",
        ),
    ),
    System(
        name="Leeromgeving",
        holds=_t(
            "uw opleidingen, opdrachten en voortgang", "your courses, assignments and progress"
        ),
    ),
    System(
        name="Mailbox",
        holds=_t("e-mails van en over u", "e-mails from and about you"),
    ),
    System(
        name="Boekhouding",
        holds=_t("facturen en betalingen", "invoices and payments"),
    ),
    System(
        name="Betaalprovider",
        holds=_t("uw iDEAL-betalingen", "your iDEAL payments"),
    ),
)
