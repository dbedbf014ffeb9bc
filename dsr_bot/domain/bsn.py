"""Find and mask Dutch citizen service numbers (BSN) in free text.

legal.md section 3: no legal ground to process a BSN was found (UAVG art. 46), so the bot never
stores one and masks it wherever it appears.
"""

from __future__ import annotations

import operator
import re

BSN_MASK = "[BSN verwijderd]"

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
# Weighting the ASCII codes directly adds 48 * sum(weights); taking it off again skips a per-digit
# int() call, which matters when a long text holds many candidates.
_ASCII_OFFSET = ord("0") * sum(_WEIGHTS)


def is_valid_bsn(digits: str) -> bool:
    """True when `digits` is exactly nine ASCII digits passing the elfproef (11-test).

    An eight-digit BSN is officially written with a leading 0, so only nine-digit strings count.
    """
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit():
        return False
    total: int = sum(map(operator.mul, digits.encode("ascii"), _WEIGHTS)) - _ASCII_OFFSET
    # A zero sum (e.g. 000000000) divides by 11 but is not an issued number.
    return total != 0 and total % 11 == 0


# Fixed-length alternatives only, so the scan is linear. It starts on a plain digit class, which
# lets the engine skip non-digit text quickly. The lookbehind after that digit and the lookahead at
# the end reject a candidate glued to a letter or digit (10+ digit runs, IBANs, other tokens).
# Group 1 / 2: the separator of the 3-3-3 / 4-2-3 form (the same one used twice).
_CANDIDATE = re.compile(
    r"[0-9](?<![^\W_][0-9])[0-9]{2}"
    r"(?:[0-9]{6}|([ .-])[0-9]{3}\1[0-9]{3}|[0-9]([ .-])[0-9]{2}\2[0-9]{3})"
    r"(?![^\W_])"
)


def _is_bsn_match(match: re.Match[str]) -> bool:
    raw = match.group()
    if match.lastindex is None:  # plain nine digits
        return is_valid_bsn(raw)
    sep = match.group(match.lastindex)
    # The same separator then a digit on either side: one group of a longer grouped number.
    text, start, end = match.string, match.start(), match.end()
    if text[end : end + 1] == sep and text[end + 1 : end + 2].isdecimal():
        return False
    if start >= 2 and text[start - 1] == sep and text[start - 2].isdecimal():
        return False
    return is_valid_bsn(raw.replace(sep, ""))


def _replace(match: re.Match[str]) -> str:
    return BSN_MASK if _is_bsn_match(match) else match.group()


def mask_bsns(text: str) -> str:
    """Replace every BSN in `text` with BSN_MASK; everything else is left exactly as it was.

    A BSN is nine digits, plain or grouped 4-2-3 / 3-3-3 with one kind of separator (space, dot,
    hyphen), passing the elfproef and standing on its own: not part of a longer digit run, grouped
    number or alphanumeric token. Masking repeats until nothing changes: once a BSN is masked,
    a grouped BSN next to it is no longer read as a group of one longer number
    ("123456782 123 456 782" holds two), so masked text never holds a BSN.
    """
    while True:
        masked = _CANDIDATE.sub(_replace, text)
        if masked == text:
            return masked
        text = masked


def find_bsns(text: str) -> list[tuple[int, int, str]]:
    """(start, end, the nine digits) of every BSN that mask_bsns would mask."""
    out: list[tuple[int, int, str]] = []
    while True:
        found = [
            (match.start(), match.end(), "".join(c for c in match.group() if c.isdecimal()))
            for match in _CANDIDATE.finditer(text)
            if _is_bsn_match(match)
        ]
        if not found:
            return sorted(out)
        out += found
        # Blank out what was found, as masking would (same length: positions stay), and look
        # again, as mask_bsns does.
        pieces: list[str] = []
        last = 0
        for start, end, _ in found:
            pieces += (text[last:start], "#" * (end - start))
            last = end
        text = "".join(pieces) + text[last:]


def contains_bsn(text: str) -> bool:
    """True when mask_bsns would change `text`."""
    return any(_is_bsn_match(m) for m in _CANDIDATE.finditer(text))
