from __future__ import annotations

import random

import pytest

from dsr_bot.domain.bsn import BSN_MASK, contains_bsn, find_bsns, is_valid_bsn, mask_bsns

WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def random_valid_bsn(rng: random.Random) -> str:
    """A nine-digit number passing the elfproef, built independently of the module under test."""
    while True:
        head = [rng.randrange(10) for _ in range(8)]
        partial = sum(d * w for d, w in zip(head, WEIGHTS, strict=False))
        last = partial % 11
        # last == 10 has no digit; partial == last would make the total 0.
        if last < 10 and partial != last:
            return "".join(map(str, [*head, last]))


def grouped(bsn: str, form: str, sep: str) -> str:
    if form == "4-2-3":
        return f"{bsn[:4]}{sep}{bsn[4:6]}{sep}{bsn[6:]}"
    return f"{bsn[:3]}{sep}{bsn[3:6]}{sep}{bsn[6:]}"


# --- is_valid_bsn ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "digits",
    [
        "111222333",  # 9+8+7 + 2*(6+5+4) + 3*(3+2) - 3 = 66 = 6 * 11
        "123456782",  # 9+16+21+24+25+24+21+16 - 2 = 154 = 14 * 11
        "417164300",  # the last nine digits of the example IBAN NL91ABNA0417164300
        "316123456",  # the first nine digits of +31612345678
        "012345611",  # an eight-digit BSN written, as it must be, with a leading zero
    ],
)
def test_valid_bsns(digits: str) -> None:
    assert is_valid_bsn(digits)


@pytest.mark.parametrize(
    "digits",
    [
        "123456789",  # 9+16+21+24+25+24+21+16 - 9 = 147, not divisible by 11
        "111222334",
        "000000000",  # sum 0
        "000000048",  # 2*4 - 8 = 0: divisible by 11, but zero
        "12345611",  # the eight-digit form of 012345611: only nine digits count
        "0123456782",  # ten digits
        "",
        "12345678a",
        " 23456782",
        # Fullwidth digits: str.isdigit() alone would accept these.
        "".join(chr(0xFF10 + int(c)) for c in "123456782"),
    ],
)
def test_invalid_bsns(digits: str) -> None:
    assert not is_valid_bsn(digits)


def test_elfproef_catches_every_single_digit_change() -> None:
    rng = random.Random(11)
    for _ in range(200):
        bsn = random_valid_bsn(rng)
        assert is_valid_bsn(bsn)
        for pos in range(9):
            for digit in "0123456789":
                if digit != bsn[pos]:
                    assert not is_valid_bsn(bsn[:pos] + digit + bsn[pos + 1 :])


# --- mask_bsns ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "123456782",
        "1234 56 782",
        "1234.56.782",
        "1234-56-782",
        "123 456 782",
        "123.456.782",
        "123-456-782",
        "1112 22 333",
        "111.222.333",
    ],
)
def test_masks_plain_and_grouped_forms(written: str) -> None:
    text = f"Mijn BSN is {written}. Groet"
    assert mask_bsns(text) == "Mijn BSN is [BSN verwijderd]. Groet"
    assert contains_bsn(text)


def test_mask_text() -> None:
    assert BSN_MASK == "[BSN verwijderd]"
    assert mask_bsns("123456782") == BSN_MASK


def test_a_bsn_right_after_another_is_masked_too() -> None:
    # Found by the fuzzer: the second, grouped one used to survive.
    masked = mask_bsns("123456782 123 456 782")
    assert masked == f"{BSN_MASK} {BSN_MASK}"
    assert not contains_bsn(masked)


@pytest.mark.parametrize(
    "text",
    [
        "BSN 123456789",  # checksum fails
        "BSN 1234 56 789",
        "BSN 123-456-789",
        "BSN 000000000",
        "BSN 000 000 000",
        "BSN 12345611",  # eight digits: not treated
    ],
)
def test_invalid_checksum_not_masked(text: str) -> None:
    assert mask_bsns(text) == text
    assert not contains_bsn(text)


@pytest.mark.parametrize(
    "text",
    [
        "IBAN NL91ABNA0417164300",  # 10-digit run; its last nine pass the elfproef
        "IBAN NL91 ABNA 0417 1643 00",
        "bel +31612345678",  # 11-digit run; its first nine pass the elfproef
        "nummer 0123456782",  # a valid BSN with a digit in front
        "nummer 1234567820",  # ... or behind
        "nummer 123456782123456782",
        "code ABC123456782",  # glued to letters: part of an alphanumeric token
        "code 123456782abc",
        "code é123456782",  # a non-ASCII letter glues as well
        "code 123456782ß",
    ],
)
def test_longer_runs_and_tokens_untouched(text: str) -> None:
    assert mask_bsns(text) == text
    assert not contains_bsn(text)


@pytest.mark.parametrize(
    "text",
    [
        "ref 123 456 782 111",  # a 12-digit grouped number
        "ref 111 123 456 782",
        "ref 2024-123-456-782",
        "ref 1234.56.782.5",
        "ref 12 1234 56 782",
        "ref 1234 56 782 1",
    ],
)
def test_group_of_longer_grouped_number_untouched(text: str) -> None:
    assert mask_bsns(text) == text
    assert not contains_bsn(text)


@pytest.mark.parametrize(
    "text",
    [
        "1234 56.782",  # mixed separators
        "1234  56 782",  # double space
        "123\n456\n782",  # line breaks are not a grouping
        "12 345 67 82",  # other grouping
        "123_456_782",
        "123/456/782",
    ],
)
def test_undocumented_groupings_untouched(text: str) -> None:
    assert mask_bsns(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(123456782)", "([BSN verwijderd])"),
        ("bsn:123456782;", "bsn:[BSN verwijderd];"),
        ("BSN\r\n123456782\r\n", "BSN\r\n[BSN verwijderd]\r\n"),
        ("tel 06 12345678, bsn 123-456-782", "tel 06 12345678, bsn [BSN verwijderd]"),
        ("-123456782-", "-[BSN verwijderd]-"),
        # An underscore is not a letter or digit: a file name still leaks the number.
        ("scan_123456782.pdf", "scan_[BSN verwijderd].pdf"),
    ],
)
def test_punctuation_delimits(text: str, expected: str) -> None:
    assert mask_bsns(text) == expected


def test_multiple_bsns_and_rest_byte_for_byte() -> None:
    text = (
        "Beste,\r\n\tik (Zoë) heb BSN 123456782 en mijn zoon 1112 22 333;\n"
        "mijn dochter: 111.222.333! Niet: 123456789, IBAN NL91ABNA0417164300 — €12,50 ✓ "
        "123456782 111222333,123-456-782"
    )
    expected = (
        "Beste,\r\n\tik (Zoë) heb BSN [BSN verwijderd] en mijn zoon [BSN verwijderd];\n"
        "mijn dochter: [BSN verwijderd]! Niet: 123456789, IBAN NL91ABNA0417164300 — €12,50 ✓ "
        "[BSN verwijderd] [BSN verwijderd],[BSN verwijderd]"
    )
    assert mask_bsns(text) == expected
    assert contains_bsn(text)


def test_text_without_bsn_is_returned_unchanged() -> None:
    for text in ["", "geen nummer", "2026-04-27 12:30", "€ 1.234.567,89", "06-12345678"]:
        assert mask_bsns(text) == text
        assert not contains_bsn(text)


def test_idempotent() -> None:
    text = "a 123456782 b 1234.56.782 c 123456789 d NL91ABNA0417164300"
    once = mask_bsns(text)
    assert mask_bsns(once) == once
    assert not contains_bsn(once)


def test_property_generated_numbers() -> None:
    rng = random.Random(20260427)
    around = [" ", "\n", ", ", ": ", "(", ")", ".", "!", " BSN ", "—"]
    for _ in range(2000):
        bsn = random_valid_bsn(rng)
        form = rng.choice(["plain", "4-2-3", "3-3-3"])
        written = bsn if form == "plain" else grouped(bsn, form, rng.choice(" .-"))
        before, after = rng.choice(around), rng.choice(around)
        text = f"tekst{before}{written}{after}einde"
        assert mask_bsns(text) == f"tekst{before}{BSN_MASK}{after}einde"
        assert contains_bsn(text)
        assert mask_bsns(mask_bsns(text)) == mask_bsns(text)
        # Glued to a digit or a letter it is no longer a standalone BSN.
        for glued in (f"7{written}", f"{written}7", f"x{written}", f"{written}x"):
            assert mask_bsns(glued) == glued
        # A wrong check digit is never masked.
        wrong = bsn[:8] + str((int(bsn[8]) + rng.randrange(1, 10)) % 10)
        assert mask_bsns(f" {wrong} ") == f" {wrong} "


def test_contains_agrees_with_mask_on_random_text() -> None:
    rng = random.Random(5)
    alphabet = "0123456789" * 4 + " .-\nabNL+"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        masked = mask_bsns(text)
        assert contains_bsn(text) == (masked != text)
        assert mask_bsns(masked) == masked


def test_find_bsns_reports_exactly_what_masking_removes() -> None:
    text = "BSN 123456782, ook 1234.56.782; geen BSN: 123456789 en NL91ABNA0417164300."
    found = find_bsns(text)
    assert [digits for _, _, digits in found] == ["123456782", "123456782"]
    masked = text
    for start, end, _ in reversed(found):
        masked = masked[:start] + BSN_MASK + masked[end:]
    assert masked == mask_bsns(text)
