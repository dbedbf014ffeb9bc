from __future__ import annotations

from collections import Counter

import pytest

from dsr_bot.nlp.entities import KINDS, Entity, extract_entities


def found(text: str, kind: str) -> list[tuple[str, str | None]]:
    """(text, value) of every entity of `kind` in `text`."""
    return [(e.text, e.value) for e in extract_entities(text) if e.kind == kind]


def kinds(text: str) -> list[str]:
    return [e.kind for e in extract_entities(text)]


def check_offsets(text: str, entities: list[Entity]) -> None:
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text


# --- each kind, with its normalised value ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "expected_text", "expected_value"),
    [
        # e-mail
        ("Mijn e-mailadres is Jan.de.Vries@Example.NL, graag daarheen.", "email",
         "Jan.de.Vries@Example.NL", "jan.de.vries@example.nl"),
        ("Please write to sarah.o-neill+avg@mail.example.co.uk.", "email",
         "sarah.o-neill+avg@mail.example.co.uk", "sarah.o-neill+avg@mail.example.co.uk"),
        ("Je kan me mailen op Pieter.Peeters@telenet.be of bellen.", "email",
         "Pieter.Peeters@telenet.be", "pieter.peeters@telenet.be"),
        # Dutch phones
        ("Bel me op 06-12345678.", "phone", "06-12345678", "+31612345678"),
        ("Mijn mobiel: 06 1234 5678", "phone", "06 1234 5678", "+31612345678"),
        ("Mijn telefoonnummer is 0612345678", "phone", "0612345678", "+31612345678"),
        ("You can reach me at +31 6 12345678.", "phone", "+31 6 12345678", "+31612345678"),
        ("Telefoon: 0031 6 12345678", "phone", "0031 6 12345678", "+31612345678"),
        ("Overdag op 020-1234567 bereikbaar", "phone", "020-1234567", "+31201234567"),
        ("Vast nummer 030 123 4567.", "phone", "030 123 4567", "+31301234567"),
        ("Tel. (020) 123 4567", "phone", "(020) 123 4567", "+31201234567"),
        ("Office: +31 (0)20 123 4567", "phone", "+31 (0)20 123 4567", "+31201234567"),
        ("Bel 06 1234 5678 12 keer", "phone", "06 1234 5678", "+31612345678"),
        # Belgian phones
        ("Mijn gsm is +32 475 12 34 56.", "phone", "+32 475 12 34 56", "+32475123456"),
        ("Bel gerust naar 0475/12.34.56 na vijf uur", "phone", "0475/12.34.56", "+32475123456"),
        ("of naar 0475 12 34 56", "phone", "0475 12 34 56", "+32475123456"),
        ("Vaste lijn: 02 123 45 67", "phone", "02 123 45 67", "+3221234567"),
        ("Kantoor 09/123.45.67", "phone", "09/123.45.67", "+3291234567"),
        # dates
        ("Het gesprek was op 12-03-2024.", "date", "12-03-2024", "2024-03-12"),
        ("Ingeschreven op 12/03/2023 bij jullie", "date", "12/03/2023", "2023-03-12"),
        ("Sinds 2023-09-01 volg ik de opleiding", "date", "2023-09-01", "2023-09-01"),
        ("Op 12 maart 2024 heb ik gebeld", "date", "12 maart 2024", "2024-03-12"),
        ("Op 3 mrt. 2024 kreeg ik een mail", "date", "3 mrt. 2024", "2024-03-03"),
        ("I called on March 12, 2024.", "date", "March 12, 2024", "2024-03-12"),
        ("Since the 12th of March 2024 nothing happened", "date", "12th of March 2024",
         "2024-03-12"),
        ("Uitgeschreven per 29-02-2024", "date", "29-02-2024", "2024-02-29"),
        # birth dates: the context just before says so
        ("Mijn geboortedatum is 12-03-1990.", "birth_date", "12-03-1990", "1990-03-12"),
        ("Ik ben geboren op 12 maart 1990 in Gent.", "birth_date", "12 maart 1990", "1990-03-12"),
        ("Date of birth: 12/03/1990", "birth_date", "12/03/1990", "1990-03-12"),
        ("I was born on the 12th of March 1990.", "birth_date", "12th of March 1990",
         "1990-03-12"),
        ("DOB: 1990-03-12", "birth_date", "1990-03-12", "1990-03-12"),
        ("Jan de Vries (geb. 3 mrt. 1990)", "birth_date", "3 mrt. 1990", "1990-03-03"),
        ("Date of birth:\nMarch 12, 1990", "birth_date", "March 12, 1990", "1990-03-12"),
        # postcodes
        ("Postcode: 3521 AB", "postcode", "3521 AB", "3521 AB"),
        ("1071AB Amsterdam", "postcode", "1071AB", "1071 AB"),
        ("Ik woon in B-1000 Brussel.", "postcode", "B-1000", "1000"),
        ("Kerkstraat 12 bus 3, 9000 Gent", "postcode", "9000", "9000"),
        # addresses
        ("Mijn adres is Kerkstraat 12, 3511 AB Utrecht.", "address",
         "Kerkstraat 12, 3511 AB Utrecht", "Kerkstraat 12, 3511 AB Utrecht"),
        ("Ik woon aan de Van Goghstraat 12a in Amsterdam.", "address", "Van Goghstraat 12a",
         "Van Goghstraat 12a"),
        ("Burgemeester de Withstraat 3 hs\n1234 AB Amsterdam", "address",
         "Burgemeester de Withstraat 3 hs\n1234 AB Amsterdam",
         "Burgemeester de Withstraat 3 hs, 1234 AB Amsterdam"),
        ("Adres: Oudegracht 12-2, 3511 AB Utrecht", "address", "Oudegracht 12-2, 3511 AB Utrecht",
         "Oudegracht 12-2, 3511 AB Utrecht"),
        ("Stuur het naar Frankrijklei 5 bus 3, 2000 Antwerpen.", "address",
         "Frankrijklei 5 bus 3, 2000 Antwerpen", "Frankrijklei 5 bus 3, 2000 Antwerpen"),
        ("Prins Hendrikkade 12 bis, 1012 TM Amsterdam", "address",
         "Prins Hendrikkade 12 bis, 1012 TM Amsterdam",
         "Prins Hendrikkade 12 bis, 1012 TM Amsterdam"),
        ("Woonachtig Capelseweg 8, 2900 AA Capelle aan den IJssel", "address",
         "Capelseweg 8, 2900 AA Capelle aan den IJssel",
         "Capelseweg 8, 2900 AA Capelle aan den IJssel"),
        # IBAN
        ("Mijn IBAN is NL91 ABNA 0417 1643 00.", "iban", "NL91 ABNA 0417 1643 00",
         "NL91ABNA0417164300"),
        ("rekeningnummer NL91ABNA0417164300", "iban", "NL91ABNA0417164300", "NL91ABNA0417164300"),
        ("Mijn rekening: BE68 5390 0754 7034", "iban", "BE68 5390 0754 7034", "BE68539007547034"),
        ("iban: nl20ingb0001234567", "iban", "nl20ingb0001234567", "NL20INGB0001234567"),
        ("Konto DE89 3704 0044 0532 0130 00", "iban", "DE89 3704 0044 0532 0130 00",
         "DE89370400440532013000"),
        # student numbers
        ("Mijn studentnummer is 1234567.", "student_number", "1234567", "1234567"),
        ("Studentnr: S1234567", "student_number", "S1234567", "S1234567"),
        ("My student number #20231234 is on the card", "student_number", "20231234", "20231234"),
        ("Leerlingnummer: 123456", "student_number", "123456", "123456"),
        ("cursistnummer 98765", "student_number", "98765", "98765"),
        ("Deelnemersnummer: AB12345", "student_number", "AB12345", "AB12345"),
        # BSN
        ("Mijn BSN is 111222333.", "bsn", "111222333", "111222333"),
        ("burgerservicenummer 1234.56.782", "bsn", "1234.56.782", "123456782"),
        ("BSN: 123 456 782", "bsn", "123 456 782", "123456782"),
    ],
)  # fmt: skip
def test_kind_found_with_value(
    text: str, kind: str, expected_text: str, expected_value: str
) -> None:
    assert found(text, kind) == [(expected_text, expected_value)]


def test_every_kind_is_covered() -> None:
    # The table above and the name / new_value tables below name every kind.
    assert set(KINDS) == {
        "email", "phone", "date", "birth_date", "postcode", "address", "iban",
        "student_number", "name", "bsn", "new_value",
    }  # fmt: skip


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Met vriendelijke groet,\nJan de Vries", "Jan de Vries"),
        ("Hoogachtend, A. Jansen", "A. Jansen"),
        ("Kind regards,\nSarah O'Neill", "Sarah O'Neill"),
        ("Hallo, mijn naam is Piet van der Berg en ik wil inzage.", "Piet van der Berg"),
        ("My name is Emily Clarke-Smith and I study with you.", "Emily Clarke-Smith"),
        ("Goedemiddag, ik ben Fatima El Amrani, student bij jullie.", "Fatima El Amrani"),
        ("Naam: Kees ter Horst\nWoonplaats: Zeist", "Kees ter Horst"),
        ("Met vriendelijke groeten,\n\nJ.P. van den Heuvel\nStudent", "J.P. van den Heuvel"),
        ("Alvast bedankt. Groetjes, Sanne", "Sanne"),
        ("Beste Lotte,\n\nik heb een vraag.", "Lotte"),
        ("Geachte heer De Backer,", "De Backer"),
        ("Achternaam: van der Linden", "van der Linden"),
        # The organisation after the name on the same line is not part of it.
        ("Met vriendelijke groet, Jan Jansen Academie Werkend Leren", "Jan Jansen"),
    ],
)
def test_names(text: str, name: str) -> None:
    assert found(text, "name") == [(name, name)]


@pytest.mark.parametrize(
    "text",
    [
        "Met vriendelijke groet,\nAcademie Werkend Leren",
        "Met vriendelijke groet,\nOnderwijs.pro",
        "Beste Academie Werkend Leren,",
        "Beste Onderwijs.pro,",
        "Naam: Academie Werkend Leren",
        "Dear Sir or Madam,",
        "Dear Privacy Officer,",
        "I am writing to request a copy of my data.",
        "I am Dutch and live in Utrecht.",
        "Ik ben benieuwd naar het antwoord.",
        "Met vriendelijke groet,\nHet team van Onderwijs.pro",
    ],
)
def test_not_a_person_name(text: str) -> None:
    assert found(text, "name") == []


# --- new values in rectification requests ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "value_text", "value"),
    [
        ("mijn nieuwe adres is Lindelaan 4, 3521 AB Utrecht. Graag aanpassen.", "address",
         "Lindelaan 4, 3521 AB Utrecht", "Lindelaan 4, 3521 AB Utrecht"),
        ("Mijn adres is gewijzigd naar Dorpsweg 7 in Zeist.", "address", "Dorpsweg 7 in Zeist",
         "Dorpsweg 7 in Zeist"),
        ("mijn nieuwe adres is:\nLindelaan 4\n3521 AB Utrecht\n\nGroet, Jan", "address",
         "Lindelaan 4\n3521 AB Utrecht", "Lindelaan 4, 3521 AB Utrecht"),
        ("Mijn nieuw adres is Kerkstraat 12 bus 3, 9000 Gent.", "address",
         "Kerkstraat 12 bus 3, 9000 Gent", "Kerkstraat 12 bus 3, 9000 Gent"),
        ("Mijn adres moet Kerkweg 5, 1234 AB Utrecht zijn.", "address",
         "Kerkweg 5, 1234 AB Utrecht", "Kerkweg 5, 1234 AB Utrecht"),
        ("My new address is 10 Downing Street, London.", "address", "10 Downing Street, London",
         "10 Downing Street, London"),
        ("Het juiste e-mailadres is Piet@Example.com.", "email", "Piet@Example.com",
         "piet@example.com"),
        ("Please update my email address to Sarah.ONeill@Example.com", "email",
         "Sarah.ONeill@Example.com", "sarah.oneill@example.com"),
        ("Mijn geboortedatum moet 12-03-1990 zijn.", "birth_date", "12-03-1990", "1990-03-12"),
        ("Mijn geboortedatum is niet 13-03-1990 maar 12-03-1990.", "birth_date", "12-03-1990",
         "1990-03-12"),
        ("My correct date of birth is 12 March 1990.", "birth_date", "12 March 1990",
         "1990-03-12"),
        ("Mijn naam wordt gespeld als 'Jansen-de Wit'.", "name", "Jansen-de Wit",
         "Jansen-de Wit"),
        ("Mijn achternaam is niet Jansen maar Janssen.", "name", "Janssen", "Janssen"),
        ("Could you correct my surname to O'Neill?", "name", "O'Neill", "O'Neill"),
        ("Please change my phone number to +31 6 12345678.", "phone", "+31 6 12345678",
         "+31612345678"),
        ("Wilt u mijn telefoonnummer wijzigen naar 0475/12.34.56?", "phone", "0475/12.34.56",
         "+32475123456"),
        ("Mijn gsm-nummer is voortaan 0475 12 34 56.", "phone", "0475 12 34 56", "+32475123456"),
        ("Graag mijn IBAN aanpassen naar NL91 ABNA 0417 1643 00, dank u.", "iban",
         "NL91 ABNA 0417 1643 00", "NL91ABNA0417164300"),
    ],
)  # fmt: skip
def test_new_value(text: str, field: str, value_text: str, value: str) -> None:
    new = [e for e in extract_entities(text) if e.kind == "new_value"]
    assert [(e.field, e.text, e.value) for e in new] == [(field, value_text, value)]
    check_offsets(text, new)


@pytest.mark.parametrize(
    "text",
    [
        "Mijn e-mailadres is jan@example.nl.",  # a plain statement, not a correction
        "Mijn adres is Kerkstraat 12, 3511 AB Utrecht.",
        "Mijn naam is Piet van der Berg.",
        "Het adres moet ik nog doorgeven.",  # "moet" without a value
        "Change my mind about the address to be honest",
    ],
)
def test_no_new_value(text: str) -> None:
    assert found(text, "new_value") == []


# --- what is not personal data --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Uw ordernummer is 0201234567.",
        "Bestelnummer: 0612345678",
        "Invoice number 0612345678 was paid.",
        "Factuur 2026-00123 is betaald.",
        "De afspraak is om 14:30 uur.",
        "Het bedrag van €1.234,56 is overgemaakt.",
        "Nummer 123456789 klopt niet.",  # fails the elfproef
        "IBAN NL92 ABNA 0417 1643 00",  # wrong checksum: no IBAN, nor a phone from its tail
        "IBAN NL92ABNA0417164300",
        "Datum 31-02-1990",  # no such date
        "Datum 29-02-2023",
        "Postcode 1234 SA bestaat niet.",  # SA, SD and SS are not used
        "Tracking 0123456789012 onderweg",  # too long for a phone number
        "Ref 123 456 789 111",
        "Studentnummer: onbekend",
        "The student no longer attends.",
        "Versie 1.2.3, kamer 0.12, om 9.30 uur.",
    ],
)
def test_nothing_found(text: str) -> None:
    assert extract_entities(text) == []


# --- overlaps -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN NL91 ABNA 0417 1643 00", ["iban"]),  # not also a phone (0417 1643 00)
        ("IBAN NL91ABNA0417164300", ["iban"]),  # its last nine digits pass the elfproef
        ("BSN 0123.45.611", ["bsn"]),  # also shaped like a Belgian landline
        ("Geboortedatum: 12-03-1990", ["birth_date"]),  # not also a date
        ("Kerkstraat 12, 3511 AB Utrecht", ["address", "postcode"]),  # both reported
        ("studentnummer 0612345678", ["student_number"]),  # not also a phone
        ("Het juiste e-mailadres is piet@example.com", ["email", "new_value"]),
    ],
)
def test_overlap_keeps_the_more_specific(text: str, expected: list[str]) -> None:
    assert kinds(text) == expected


# --- whole mails ----------------------------------------------------------------------------------

DUTCH_MAIL = """Beste Academie Werkend Leren,

Mijn naam is Piet van der Berg (studentnummer 1234567). Ik wil graag inzage in mijn gegevens.
Mijn geboortedatum is 12 maart 1990 en mijn BSN is 111222333.
Mijn nieuwe adres is Lindelaan 4, 3521 AB Utrecht.
U kunt mij bereiken op 06-12345678 of piet.vdberg@example.nl.
Factuur 2026-00123 van €1.234,56 heb ik om 14:30 betaald.

Met vriendelijke groet,
Piet van der Berg
"""

FLEMISH_MAIL = """Goedemiddag,

Ik ben Fatima El Amrani en ik volg een opleiding bij jullie.
Mijn adres is gewijzigd naar Frankrijklei 5 bus 3, 2000 Antwerpen.
Mijn gsm: 0475/12.34.56. Rekeningnummer: BE68 5390 0754 7034.

Met vriendelijke groeten,
Fatima El Amrani
"""

ENGLISH_MAIL = """Dear Sir or Madam,

My name is Sarah O'Neill, date of birth March 12, 1990. Please change my phone number to
+31 6 12345678 and correct my surname to O'Neil-Smith.

Kind regards,
Sarah O'Neill
Onderwijs.pro
"""


@pytest.mark.parametrize(
    ("mail", "expected"),
    [
        (DUTCH_MAIL, [
            ("name", "Piet van der Berg"),
            ("student_number", "1234567"),
            ("birth_date", "1990-03-12"),
            ("bsn", "111222333"),
            ("address", "Lindelaan 4, 3521 AB Utrecht"),
            ("new_value", "Lindelaan 4, 3521 AB Utrecht"),
            ("postcode", "3521 AB"),
            ("phone", "+31612345678"),
            ("email", "piet.vdberg@example.nl"),
            ("name", "Piet van der Berg"),
        ]),
        (FLEMISH_MAIL, [
            ("name", "Fatima El Amrani"),
            ("address", "Frankrijklei 5 bus 3, 2000 Antwerpen"),
            ("new_value", "Frankrijklei 5 bus 3, 2000 Antwerpen"),
            ("postcode", "2000"),
            ("phone", "+32475123456"),
            ("iban", "BE68539007547034"),
            ("name", "Fatima El Amrani"),
        ]),
        (ENGLISH_MAIL, [
            ("name", "Sarah O'Neill"),
            ("birth_date", "1990-03-12"),
            ("new_value", "+31612345678"),
            ("phone", "+31612345678"),
            ("new_value", "O'Neil-Smith"),
            ("name", "Sarah O'Neill"),
        ]),
    ],
)  # fmt: skip
def test_whole_mail(mail: str, expected: list[tuple[str, str]]) -> None:
    entities = extract_entities(mail)
    assert Counter((e.kind, e.value) for e in entities) == Counter(expected)
    check_offsets(mail, entities)


@pytest.mark.parametrize("mail", [DUTCH_MAIL, FLEMISH_MAIL, ENGLISH_MAIL])
def test_sorted_and_only_allowed_overlaps(mail: str) -> None:
    entities = extract_entities(mail)
    assert entities == sorted(entities, key=lambda e: (e.start, e.end, e.kind))
    for i, a in enumerate(entities):
        for b in entities[i + 1 :]:
            if a.start < b.end and b.start < a.end:
                pair = {a.kind, b.kind}
                assert "new_value" in pair or pair == {"address", "postcode"}, (a, b)


def test_field_only_on_new_value() -> None:
    entities = extract_entities(DUTCH_MAIL)
    assert {e.field for e in entities if e.kind != "new_value"} == {None}
    assert {e.field for e in entities if e.kind == "new_value"} == {"address"}


def test_empty_text() -> None:
    assert extract_entities("") == []
