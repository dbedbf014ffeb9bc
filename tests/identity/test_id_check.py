"""The ID-copy check on drawn cards: the issue's acceptance rates, formats, and what it refuses."""

from __future__ import annotations

import io
import json
import random
from concurrent.futures import ThreadPoolExecutor

import pytesseract
import pytest
from PIL import Image, ImageDraw

from dsr_bot.errors import UnreadableImage
from dsr_bot.identity import CheckResult, Finding, IdChecker
from tests.identity import cards

ACCEPTANCE = 0.95


@pytest.fixture(scope="module")
def checker() -> IdChecker:
    checker = IdChecker()
    assert checker.missing_tools() == (), "the check needs tesseract and OpenCV's cascades"
    return checker


@pytest.fixture(scope="module")
def checked(checker: IdChecker) -> list[tuple[cards.Sample, CheckResult]]:
    """Five people x four transforms x five variants; two at a time, as the bot's threads would."""
    samples = list(cards.samples(people=5, transforms_each=4))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda s: checker.check(s.data), samples))
    return list(zip(samples, results, strict=True))


def _kinds(result: CheckResult) -> set[str]:
    return {f.kind for f in result.findings}


def test_every_visible_field_is_found(checked: list[tuple[cards.Sample, CheckResult]]) -> None:
    pairs = [(s, field, r) for s, r in checked for field in s.visible]
    missed = [f"{s.name}: {field}" for s, field, r in pairs if field not in _kinds(r)]
    rate = 1 - len(missed) / len(pairs)
    assert rate >= ACCEPTANCE, f"visible fields named: {rate:.1%} of {len(pairs)}; missed {missed}"


def test_every_copy_with_a_visible_field_is_rejected(
    checked: list[tuple[cards.Sample, CheckResult]],
) -> None:
    showing = [(s, r) for s, r in checked if s.visible]
    # Rejected and naming a field that is really visible: a rejection for a wrong reason counts
    # as a miss.
    missed = [s.name for s, r in showing if r.acceptable or not _kinds(r) & set(s.visible)]
    rate = 1 - len(missed) / len(showing)
    assert rate >= ACCEPTANCE, f"rejected: {rate:.1%} of {len(showing)}; accepted {missed}"


def test_fully_shielded_copies_are_accepted(
    checked: list[tuple[cards.Sample, CheckResult]],
) -> None:
    shielded = [(s, r) for s, r in checked if not s.visible]
    refused = [f"{s.name}: {sorted(_kinds(r))}" for s, r in shielded if not r.acceptable]
    rate = 1 - len(refused) / len(shielded)
    assert rate >= ACCEPTANCE, f"accepted: {rate:.1%} of {len(shielded)}; refused {refused}"


def test_covered_fields_are_not_reported(checked: list[tuple[cards.Sample, CheckResult]]) -> None:
    wrong = [
        f"{s.name}: {sorted(_kinds(r) - set(s.visible))}"
        for s, r in checked
        if _kinds(r) - set(s.visible)
    ]
    rate = 1 - len(wrong) / len(checked)
    assert rate >= ACCEPTANCE, f"no covered field reported: {rate:.1%}; {wrong}"


def test_findings_never_hold_the_numbers(checked: list[tuple[cards.Sample, CheckResult]]) -> None:
    for sample, result in checked:
        text = json.dumps(result.to_json())
        person = sample.person
        for secret in (person.bsn, person.document_number, person.surname, *person.mrz()):
            assert secret not in text


def test_the_json_has_exactly_two_keys(checked: list[tuple[cards.Sample, CheckResult]]) -> None:
    for _, result in checked[:5]:
        data = result.to_json()
        assert set(data) == {"acceptable", "findings"}
        assert isinstance(data["findings"], list)
        for finding in data["findings"]:
            assert set(finding) == {"kind", "detail"}
            assert finding["kind"] in cards.FIELDS


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _person() -> cards.Person:
    return cards.random_person(random.Random(42), "TD3")


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_png_and_jpeg_both_work(checker: IdChecker, kind: str) -> None:
    out = io.BytesIO()
    cards.draw_card(_person(), ("photo",)).save(out, kind)
    result = checker.check(out.getvalue())
    assert _kinds(result) == {"mrz", "bsn", "document_number"}


def test_a_pdf_is_checked_on_its_first_page_only(checker: IdChecker) -> None:
    shielded = cards.draw_card(_person(), cards.FIELDS)
    showing = cards.draw_card(_person())
    first_showing, first_shielded = io.BytesIO(), io.BytesIO()
    showing.save(first_showing, "PDF", save_all=True, append_images=[shielded])
    shielded.save(first_shielded, "PDF", save_all=True, append_images=[showing])
    assert _kinds(checker.check(first_showing.getvalue())) == set(cards.FIELDS)
    assert checker.check(first_shielded.getvalue()).acceptable


PROSE = (
    "Geachte heer, mevrouw,\n\nOp 12 maart 2024 vroeg ik inzage (kenmerk 2024/0315).\n"
    "Klantnummer 40213877, leerlingnummer 1234567, Dorpsstraat 12, 1234 AB Amsterdam.\n"
    "Telefoon 06 12345678. IBAN NL91ABNA0417164300. Betaald: EUR 1.250,00 op 01-02-2023.\n"
    "Brief van 3 april, ref. ZK-2024-000817, 17 pagina's; groep 7B, klas 3HAVO.\n"
    "IDENTITEITSKAART KONINKRIJK DER NEDERLANDEN 2019 2020 2021 2022 1985-07-21\n"
    "Met vriendelijke groet, J.A. Jansen"
)


def test_a_page_of_prose_with_digits_is_acceptable(checker: IdChecker) -> None:
    page = Image.new("L", (1400, 700), 255)
    draw = ImageDraw.Draw(page)
    draw.multiline_text((40, 40), PROSE, font=cards.font(30), fill=0, spacing=18)
    result = checker.check(_png(page))
    assert result.findings == ()
    assert result.acceptable


def test_a_black_rectangle_is_not_a_face(checker: IdChecker) -> None:
    page = Image.new("L", (1000, 700), 230)
    ImageDraw.Draw(page).rectangle((100, 100, 400, 500), fill=0)
    assert checker.check(_png(page)).acceptable


def _bomb() -> bytes:
    """A small PNG whose header claims 20,000 x 20,000 pixels."""
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is not an image",
        b"GIF89a" + bytes(100),
        b"\x89PNG\r\n\x1a\n" + bytes(50),  # a PNG signature and garbage
        b"\xff\xd8\xff\xe0" + bytes(50),  # a JPEG start and garbage
        b"%PDF-1.7\n% broken\n",
    ],
    ids=["empty", "text", "gif", "broken-png", "broken-jpeg", "broken-pdf"],
)
def test_anything_else_is_unreadable(checker: IdChecker, data: bytes) -> None:
    with pytest.raises(UnreadableImage):
        checker.check(data)


def test_a_truncated_png_is_unreadable(checker: IdChecker) -> None:
    data = _png(cards.draw_card(_person()))
    with pytest.raises(UnreadableImage):
        checker.check(data[: len(data) // 2])


def test_too_many_pixels_is_unreadable() -> None:
    with pytest.raises(UnreadableImage, match="too large"):
        IdChecker().check(_bomb())
    with pytest.raises(UnreadableImage, match="too large"):
        IdChecker(max_pixels=10_000).check(_png(Image.new("L", (200, 200), 255)))


@pytest.fixture
def no_tesseract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")


@pytest.mark.usefixtures("no_tesseract")
def test_a_missing_tool_makes_the_copy_unacceptable() -> None:
    checker = IdChecker()
    assert any("tesseract" in tool for tool in checker.missing_tools())
    result = checker.check(_png(cards.draw_card(_person(), cards.FIELDS)))
    assert not result.acceptable
    assert result.findings == ()
    assert result.to_json() == {"acceptable": False, "findings": []}


def test_a_finding_reads_well() -> None:
    result = CheckResult(findings=(Finding("photo", "a face photo visible"),))
    assert not result.acceptable
    assert result.to_json() == {
        "acceptable": False,
        "findings": [{"kind": "photo", "detail": "a face photo visible"}],
    }
    assert CheckResult(findings=()).acceptable
