"""Realistic Dutch GDPR requests, each from its own sender.

Distinct senders matter: the bot sends at most 3 acknowledgements per sender per hour, so a
corpus from one address would measure the rate limit, not the bot.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email import policy
from email.utils import format_datetime

from tests.conftest import request_mail

# IMAP APPEND wants CRLF, as real mail has; long header lines stay unfolded.
_WIRE = policy.default.clone(linesep="\r\n", max_line_length=998)

_FIRST = (
    "Jan Sanne Pieter Fatima Daan Emma Mohamed Lotte Bram Noor Kees Sophie Ahmed Anouk Thijs "
    "Ilse Rik Yara Joost Femke Sem Lieke Bas Naima Ruud Maud Hamza Eva Wouter Iris"
).split()
_LAST = (
    "Jansen|de Vries|van den Berg|Bakker|Visser|Smit|Meijer|de Boer|Mulder|de Groot|Bos|"
    "Vos|Peters|Hendriks|van Leeuwen|Dekker|Brouwer|de Wit|Dijkstra|Yilmaz|El Amrani|Kok"
).split("|")

# (subject, opening paragraph) per kind of request.
_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "inzage": (
        (
            "Verzoek om inzage",
            "Op grond van artikel 15 AVG verzoek ik u om inzage in alle persoonsgegevens "
            "die u van mij verwerkt.",
        ),
        (
            "Inzage in mijn gegevens",
            "Ik wil graag weten welke gegevens u van mij heeft, waarvoor u ze gebruikt en "
            "met wie u ze deelt.",
        ),
    ),
    "verwijderen": (
        (
            "Verzoek tot verwijdering persoonsgegevens",
            "Hierbij verzoek ik u op grond van artikel 17 AVG al mijn persoonsgegevens te "
            "verwijderen.",
        ),
        (
            "Graag mijn gegevens wissen",
            "Ik heb de opleiding afgerond en wil niet langer in uw systemen staan. Wilt u "
            "mijn gegevens verwijderen?",
        ),
    ),
    "bezwaar": (
        (
            "Bezwaar tegen verwerking",
            "Ik maak op grond van artikel 21 AVG bezwaar tegen de verwerking van mijn "
            "gegevens voor marketingdoeleinden.",
        ),
        (
            "Bezwaar nieuwsbrief en telefonische benadering",
            "Ik word steeds gebeld en gemaild over nieuwe cursussen. Daar maak ik bezwaar tegen.",
        ),
    ),
}
_DETAILS = (
    "Ik heb in 2023 de opleiding Praktijkopleider gevolgd.",
    "Mijn studentnummer was destijds 40{n:05d}.",
    "Ik ben bereikbaar op 06-{n:08d}.",
    "Mijn oude adres was Kerkstraat {k}, Utrecht; inmiddels woon ik in Amersfoort.",
    "Het gaat ook om de gegevens die via mijn werkgever bij u terecht zijn gekomen.",
    "Graag ontvang ik een kopie van de gegevens in een gangbaar elektronisch formaat.",
    "Wilt u ook aangeven hoe lang u de gegevens bewaart?",
    "Ik verneem graag binnen de wettelijke termijn van een maand van u.",
    "Als u meer informatie nodig hebt om mij te identificeren, laat het mij dan weten.",
    "Eerdere e-mails aan de administratie zijn niet beantwoord.",
)


def request(index: int, *, tag: str, rng: random.Random) -> bytes:
    """One request mail; `tag` keeps Message-IDs and senders apart between phases."""
    kind = _TEMPLATES[rng.choice(sorted(_TEMPLATES))]
    subject, opening = rng.choice(kind)
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    details = rng.sample(_DETAILS, k=rng.randint(0, len(_DETAILS)))  # varied length
    lines = [d.format(n=rng.randrange(10**5), k=rng.randint(1, 200)) for d in details]
    body = "\n\n".join(
        ["Geachte heer/mevrouw,", opening, " ".join(lines), "Met vriendelijke groet,\n" + name]
    )
    msg = request_mail(
        sender=f"{name} <{tag}{index}@example.nl>",
        subject=subject,
        body=body,
        message_id=f"<{tag}-{index}-{rng.getrandbits(48):012x}@example.nl>",
        headers={"Date": format_datetime(datetime.now(UTC))},
    )
    return msg.as_bytes(policy=_WIRE)


def requests(count: int, *, tag: str, seed: int = 2026) -> list[bytes]:
    rng = random.Random(seed)
    return [request(i, tag=tag, rng=rng) for i in range(count)]
