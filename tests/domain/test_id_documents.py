from __future__ import annotations

import random

import pytest

from dsr_bot.domain.id_documents import (
    MrzMatch,
    check_digit,
    find_document_numbers,
    find_mrz,
    is_document_number,
    normalise_mrz_line,
)

ALL_CHECKS = ("document_number", "birth_date", "expiry_date", "composite")

# ICAO Doc 9303's specimens (part 4 appendix A for TD3, part 5 for TD1, part 6 for TD2).
TD3 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]
TD1 = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
]
TD2 = [
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
]


@pytest.mark.parametrize(
    ("field", "digit"),
    [
        ("L898902C3", 6),  # TD3 document number
        ("740812", 2),  # birth date
        ("120415", 9),  # expiry date
        ("ZE184226B<<<<<", 1),  # TD3 personal number
        ("L898902C3674081221204159ZE184226B<<<<<1", 0),  # TD3 composite
        ("D23145890", 7),  # TD1 document number
        ("D231458907<<<<<<<<<<<<<<<74081221204159<<<<<<<<<<<", 6),  # TD1 composite
        ("<<<", 0),
    ],
)
def test_check_digits_of_the_icao_specimens(field: str, digit: int) -> None:
    assert check_digit(field) == digit


def test_check_digit_refuses_other_characters() -> None:
    with pytest.raises(ValueError):
        check_digit("ab1")


@pytest.mark.parametrize(("lines", "fmt"), [(TD3, "TD3"), (TD1, "TD1"), (TD2, "TD2")])
def test_the_specimens_are_found_with_every_check(lines: list[str], fmt: str) -> None:
    assert find_mrz(lines) == MrzMatch(fmt, ALL_CHECKS)


def test_a_match_holds_no_mrz_text() -> None:
    match = find_mrz(TD3)
    assert match is not None
    assert "L898902C3" not in repr(match) and "ERIKSSON" not in repr(match)


@pytest.mark.parametrize(
    "line2",
    [
        "L898902C36UTO7408122F1204159ZE184226B<<<<10",  # a filler dropped
        "L898902C36UTO7408122F1204159ZE184226B<<<<<<10",  # a filler added
        "L898902C36UTO7408122F1204159ZE184226B<<<<<<<<10",  # three fillers added
        "L898902C36UTO748122F1204159ZE184226B<<<<<10",  # a digit of the birth date dropped
        "L898902C36UTO7408122F12041559ZE184226B<<<<<10",  # a digit added
        "L898902C36UTO74O8122F12O4159ZE184226B<<<<<1O",  # 0 read as O in numeric fields
        "L898902C36UTO7408122F1204159ZE184226BK<<«<10",  # < read as K and «
        "L898902C36UTO7408122F1204159ZE184226B<s<e<10",  # < read as lower case
        "L898902C3 6UTO 7408122F 1204159ZE184226B <<<<<10",  # spaces between words
    ],
)
def test_loose_matching_still_confirms_a_td3(line2: str) -> None:
    match = find_mrz([TD3[0], line2])
    assert match is not None and match.format == "TD3"
    assert len(match.checks) >= 2


@pytest.mark.parametrize(
    "lines",
    [
        ["I<UTOD231458907<<<<<<<<<<<<<<", TD1[1], TD1[2]],  # a filler dropped in line 1
        [TD1[0], "7408122F1204159UTO<<<<<<<<<<<<6", TD1[2]],  # a filler added in line 2
        [TD1[0], "7408122F12O4159UTO<<<<<<<<<<6", TD1[2]],
        ["I<UTOD231458907<<<<<<<<<<<<<<<", "noise", TD1[1]],  # a junk line between
    ],
)
def test_loose_matching_still_confirms_a_td1(lines: list[str]) -> None:
    match = find_mrz(lines)
    assert match is not None and match.format == "TD1"
    assert {"birth_date", "expiry_date"} <= set(match.checks)


def test_normalising_a_line() -> None:
    assert normalise_mrz_line("p< UTO «ERIK") == "<<UTO<<ERIK"
    assert normalise_mrz_line("AB<K<C<<") == "AB<<<<<<"


def test_one_check_digit_is_not_enough() -> None:
    # Birth date, expiry and composite broken: only the document number holds.
    broken = "L898902C36UTO7408121F1204158ZE184226B<<<<<11"
    assert find_mrz([broken]) is None


PROSE = """\
Geachte heer, mevrouw,

Op 12 maart 2024 heb ik u gevraagd om inzage in mijn gegevens (art. 15 AVG), kenmerk 2024/0315.
Mijn klantnummer is 40213877 en mijn leerlingnummer 1234567; ik woon aan de Dorpsstraat 12,
1234 AB AMSTERDAM. Telefoon 06 12345678 of +31 20 555 0199. Mijn IBAN is NL91ABNA0417164300.
Ik betaalde EUR 1.250,00 op 01-02-2023 en EUR 89,95 op 15-06-2023 voor cursus AVG2023NL.
Volgens uw brief van 3 april (ref. ZK-2024-000817, 17 pagina's) duurt dat 4 tot 6 weken.
In 2019, 2020, 2021 en 2022 stond ik ingeschreven in groep 7B, klas 3HAVO, lokaal B1.234.
De bijlagen: ID-KAART.PDF, SCAN_20240312_0001.JPG en BIJLAGE.DOCX. Met vriendelijke groet,
J.A. JANSEN, GEBOREN 1985-07-21, POSTBUS 12345, 3500 AA UTRECHT, KVK 12345678, BTW NL001234567B01
"""


def test_ordinary_prose_with_digits_is_not_an_mrz() -> None:
    lines = PROSE.splitlines()
    assert find_mrz(lines) is None
    assert find_mrz([line.upper() for line in lines]) is None
    assert find_mrz(["".join(lines)]) is None
    assert find_document_numbers(PROSE, ocr=True) == []


def test_random_mrz_alphabet_lines_are_not_an_mrz() -> None:
    rng = random.Random(9303)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<<<<<<<<"
    found = []
    for _ in range(300):
        lines = [
            "".join(rng.choice(alphabet) for _ in range(rng.choice((29, 30, 31, 36, 44))))
            for _ in range(3)
        ]
        if (match := find_mrz(lines)) is not None:
            found.append(match)
    assert found == []


@pytest.mark.parametrize("number", ["SPECI2014", "NW92BD5K1", "AB1234567", "XR0000000"])
def test_dutch_document_numbers(number: str) -> None:
    assert is_document_number(number)
    assert find_document_numbers(f"Documentnummer: {number}.") == [(16, 25)]


@pytest.mark.parametrize(
    "text",
    [
        "SPOCI2014",  # the letter O is never used
        "OPECI2014",
        "SPECI201O",
        "speci2014",  # lower case
        "SPECI201",  # eight characters
        "SPECI20145",  # ten
        "1PECI2014",  # starts with a digit
        "SPECIALE1",  # a word and a digit: no digit in the middle
        "NEDERLAND",
        "AMSTERDAM",
    ],
)
def test_not_document_numbers(text: str) -> None:
    assert not is_document_number(text)
    assert find_document_numbers(text) == []


@pytest.mark.parametrize("text", ["XSPECI2014", "SPECI20141", "SPECI2014X", "0SPECI2014"])
def test_a_document_number_stands_on_its_own(text: str) -> None:
    assert find_document_numbers(text) == []


def test_ocr_reading_of_an_o() -> None:
    assert find_document_numbers("SPECI2O14") == []
    assert find_document_numbers("SPECI2O14", ocr=True) == [(0, 9)]
    assert find_document_numbers("OEEFJ28W9", ocr=True) == [(0, 9)]  # a Q read as O


def test_ocr_adding_a_thin_glyph() -> None:
    assert find_document_numbers("CGGI9F2CB3") == []
    assert find_document_numbers("CGGI9F2CB3", ocr=True) == [(0, 10)]
    assert find_document_numbers("AMSTERDAM1", ocr=True) == []
