"""Recognise what must be blacked out on an ID copy: a machine-readable zone, a document number.

ICAO Doc 9303 parts 3-6 define the MRZ formats and the check digit; the Dutch document number
(passports and ID cards since 2014) is nine characters without the letter O. The input is OCR
output, so matching is loose, and check digits decide. Nothing here returns the text it found.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

_WEIGHTS = (7, 3, 1)
# Fields that hold only digits: the letters OCR confuses with digits are read as those digits.
_AS_DIGIT = str.maketrans("OQDILZSBG", "001112586")
_NOT_MRZ = re.compile(r"[^A-Z0-9<]")
_LOWER = re.compile(r"[a-z]")
_LONE_KC = re.compile(r"(?<=<)[KC](?=<)")
_FORMATS = {"TD1": 30, "TD2": 36, "TD3": 44}
MIN_CHECKS = 2  # of document number, birth date, expiry date, composite; one of them a date


def check_digit(field: str) -> int:
    """ICAO 9303 check digit: weights 7, 3, 1 repeating; 0-9 as is, A-Z as 10-35, `<` as 0."""
    total = 0
    for index, char in enumerate(field):
        if char.isdigit():
            value = int(char)
        elif "A" <= char <= "Z":
            value = ord(char) - ord("A") + 10
        elif char == "<":
            value = 0
        else:
            raise ValueError("not an MRZ character")
        total += value * _WEIGHTS[index % 3]
    return total % 10


@dataclass(frozen=True, slots=True)
class MrzMatch:
    """Which format was found and which check digits held; never the MRZ text itself."""

    format: str  # "TD1", "TD2" or "TD3"
    checks: tuple[str, ...]  # e.g. ("document_number", "birth_date", "expiry_date", "composite")


def normalise_mrz_line(line: str) -> str:
    """No spaces; `«` is two fillers, any other stray mark one filler.

    An MRZ has no lower case, so a lower-case letter is a misread filler (OCR reads `<<<` as
    `<s<`, `e<<`); so is an upper-case K or C between two fillers.
    """
    text = "".join(line.split()).replace("«", "<<")
    text = _NOT_MRZ.sub("<", _LOWER.sub("<", text))
    return _LONE_KC.sub("<", _LONE_KC.sub("<", text))


def _holds(field: str, check: str) -> bool:
    return len(check) == 1 and "0" <= check <= "9" and check_digit(field) == int(check)


def _date_holds(field: str, check: str) -> bool:
    digits, check = field.translate(_AS_DIGIT), check.translate(_AS_DIGIT)
    if not digits.isdigit():
        return False
    month, day = int(digits[2:4]), int(digits[4:6])
    return 1 <= month <= 12 and 1 <= day <= 31 and _holds(digits, check)


def _sex_ok(char: str) -> bool:
    return char in "MFX<"


def _letters_ok(field: str) -> bool:
    return all(c == "<" or "A" <= c <= "Z" for c in field.translate(str.maketrans("0", "O")))


def _line2_checks(line: str, fmt: str) -> list[str]:
    """The checks that hold when `line` (exact length) is the second line of `fmt`."""
    if fmt == "TD1":
        birth, birth_c, sex, expiry, expiry_c, nat = (
            line[0:6],
            line[6],
            line[7],
            line[8:14],
            line[14],
            line[15:18],
        )
    else:
        birth, birth_c, sex, expiry, expiry_c, nat = (
            line[13:19],
            line[19],
            line[20],
            line[21:27],
            line[27],
            line[10:13],
        )
    if not (_sex_ok(sex) and _letters_ok(nat)):
        return []
    checks = []
    if fmt != "TD1" and _holds(line[0:9], line[9]):
        checks.append("document_number")
    if _date_holds(birth, birth_c):
        checks.append("birth_date")
    if _date_holds(expiry, expiry_c):
        checks.append("expiry_date")
    if fmt != "TD1":
        numeric = line[13:20].translate(_AS_DIGIT) + line[21:28].translate(_AS_DIGIT)
        composite = line[0:10] + numeric[:7] + numeric[7:] + line[28:-1]
        if _holds(composite, line[-1].translate(_AS_DIGIT)):
            checks.append("composite")
    return checks


def _td1_line1_checks(line1: str, line2: str) -> list[str]:
    if line1[0] not in "ACI" or not _letters_ok(line1[2:5]):
        return []
    checks = []
    if _holds(line1[5:14], line1[14].translate(_AS_DIGIT)):
        checks.append("document_number")
    numeric = line2[0:7].translate(_AS_DIGIT) + line2[8:15].translate(_AS_DIGIT)
    composite = line1[5:30] + numeric + line2[18:29]
    if _holds(composite, line2[29].translate(_AS_DIGIT)):
        checks.append("composite")
    return checks


def _single_edits(text: str, longer: bool, fillers_only: bool) -> Iterator[str]:
    for i in range(len(text) + (0 if longer else 1)):
        near_filler = "<" in text[max(i - 1, 0) : i + 1]
        if fillers_only and not near_filler:
            continue
        yield text[:i] + text[i + 1 :] if longer else text[:i] + "<" + text[i:]


_FILLER_RUN = re.compile(r"<{2,}")


def _resized_runs(line: str, length: int) -> Iterator[str]:
    """`line` with one run of fillers made longer or shorter, to `length` or one off it."""
    for run in _FILLER_RUN.finditer(line):
        for target in (length - 1, length, length + 1):
            size = len(run.group()) + target - len(line)
            if size >= 1:
                yield line[: run.start()] + "<" * size + line[run.end() :]


def repairs(line: str, length: int) -> set[str]:
    """`line` brought to `length`, as OCR most often gets it wrong.

    OCR miscounts runs of fillers, and drops or adds the odd character. So: one run of fillers
    resized, then at most one character dropped or added anywhere; or, without resizing, two
    characters dropped or added, one of them next to a filler. Added characters are fillers.
    """
    out: set[str] = set()
    for base in {line, *_resized_runs(line, length)}:
        diff = len(base) - length
        if diff == 0:
            out.add(base)
        elif abs(diff) == 1:
            out.update(_single_edits(base, diff > 0, fillers_only=False))
    if abs(len(line) - length) == 2:
        longer = len(line) > length
        for first in set(_single_edits(line, longer, fillers_only=True)):
            out.update(_single_edits(first, longer, fillers_only=False))
    return out


def _scored(candidates: set[str], score: Callable[[str], list[str]]) -> list[tuple[str, list[str]]]:
    """The candidates with the most checks holding (none when no check holds), in a fixed order."""
    scored = [(c, score(c)) for c in sorted(candidates)]  # sorted: the same answer every run
    most = max((len(checks) for _, checks in scored), default=0)
    return [(c, checks) for c, checks in scored if most and len(checks) == most]


def _confirmed(checks: Sequence[str]) -> bool:
    # Among the hundreds of repairs of a line, two check digits out of four hold by chance now
    # and then; a date that is a real date with its check digit does not.
    return len(checks) >= MIN_CHECKS and ("birth_date" in checks or "expiry_date" in checks)


def _td1_checks(line2: str, above: set[str]) -> list[str]:
    """The line-2 checks of TD1 plus what the best line 1 above adds."""
    checks = _line2_checks(line2, "TD1")
    if checks:
        extra = _scored(above, lambda s: _td1_line1_checks(s, line2))
        if extra:
            checks = extra[0][1] + checks
    return checks


_ORDER = ("document_number", "birth_date", "expiry_date", "composite")


def find_mrz(lines: Sequence[str]) -> MrzMatch | None:
    """The best-confirmed MRZ among OCR'd `lines`, or None.

    A line counts as the data line of a format (TD1's second, TD2's or TD3's second) when at
    least MIN_CHECKS of its check digits hold, a date's among them; for TD1 the line above
    (or the one above that) adds the document number and composite checks.
    """
    normal = [normalise_mrz_line(line) for line in lines]
    found: MrzMatch | None = None
    for index, line in enumerate(normal):
        if len(line) < 20:  # a line with a few fillers dropped is still worth repairing
            continue
        for fmt, length in _FORMATS.items():
            score: Callable[[str], list[str]]
            if fmt == "TD1":
                above = {
                    c for j in (index - 1, index - 2) if j >= 0 for c in repairs(normal[j], 30)
                }
                # Repairs of line 2 that tie differ in what they give the composite check.
                score = functools.partial(_td1_checks, above=above)
            else:
                score = functools.partial(_line2_checks, fmt=fmt)
            best = _scored(repairs(line, length), score)
            if not best:
                continue
            checks = best[0][1]
            if _confirmed(checks) and (found is None or len(checks) > len(found.checks)):
                found = MrzMatch(fmt, tuple(c for c in _ORDER if c in checks))
    return found


# Two letters, six letters or digits, one digit; never the letter O. Not glued to a letter or
# digit.
_DOC_NUMBER = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[A-Z0-9]{6}[0-9O](?![A-Za-z0-9])")


def is_document_number(text: str) -> bool:
    """True for a Dutch passport or ID-card number (2014 on), e.g. SPECI2014.

    At least one digit must stand among the six middle characters, so that an upper-case word
    followed by a digit is not taken for one.
    """
    return (
        len(text) == 9
        and _DOC_NUMBER.fullmatch(text) is not None
        and "O" not in text
        and any(c.isdigit() for c in text[2:8])
    )


# OCR now and then splits a glyph and adds a thin I or 1 (G9 read as GI9).
_TEN = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z0-9]{8}[0-9O](?![A-Za-z0-9])")


def _ocr_reading(candidate: str) -> str:
    # O is never printed: OCR made it of a 0, or of a Q or D where letters stand.
    return candidate[:2].replace("O", "Q") + candidate[2:].replace("O", "0")


def find_document_numbers(text: str, *, ocr: bool = False) -> list[tuple[int, int]]:
    """(start, end) of every Dutch document number in `text`; never the number itself.

    With `ocr`, an O is taken for what OCR misread as one, and a ten-character token counts
    when leaving out one I or 1 makes a document number of it.
    """
    spans = []
    for match in _DOC_NUMBER.finditer(text):
        candidate = _ocr_reading(match.group()) if ocr else match.group()
        if is_document_number(candidate):
            spans.append((match.start(), match.end()))
    if ocr:
        for match in _TEN.finditer(text):
            token = _ocr_reading(match.group())
            if any(
                c in "I1" and is_document_number(token[:i] + token[i + 1 :])
                for i, c in enumerate(token)
            ):
                spans.append((match.start(), match.end()))
    return sorted(spans)
