"""Draw ID-card-like test images: fields, a face photo and an MRZ with valid check digits.

Everything is made here from seeded randomness: Pillow's bundled font (no system fonts needed),
the astronaut photo that ships with scikit-image, numbers that pass their checks. A variant
blacks out some of the four fields a copy must not show, then the image is rotated, scaled
and JPEG-compressed as a phone or scanner would.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Literal

from PIL import Image, ImageDraw, ImageFont
from skimage import data

Field = Literal["mrz", "bsn", "document_number", "photo"]
FIELDS: tuple[Field, ...] = ("mrz", "bsn", "document_number", "photo")

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_ALNUM = "ABCDEFGHIJKLMNPQRSTUVWXYZ0123456789"  # no letter O on Dutch documents
_MONTHS = ("JAN", "FEB", "MAA", "APR", "MEI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEC")
_SURNAMES = ("JANSEN", "DE VRIES", "BAKKER", "VISSER", "SMIT", "MEIJER", "DE BOER", "MULDER")
_GIVEN = ("ANNA", "SANNE", "LOTTE", "EMMA", "FLEUR", "NOOR", "JULIA", "EVA MARIA", "LIEKE")
_PLACES = ("AMSTERDAM", "UTRECHT", "ZWOLLE", "GRONINGEN", "LEIDEN", "DELFT", "ARNHEM")

W, H = 1000, 700


def icao_check(field: str) -> int:
    """Written apart from the module under test: 7-3-1 weights, A=10, < = 0."""
    values = [int(c) if c.isdigit() else 0 if c == "<" else ord(c) - 55 for c in field]
    return sum(v * (7, 3, 1)[i % 3] for i, v in enumerate(values)) % 10


@dataclass(frozen=True)
class Person:
    surname: str
    given: str
    birth: date
    expiry: date
    place: str
    sex: str
    document_number: str
    bsn: str
    mrz_format: Literal["TD1", "TD3"]
    photo_shift: tuple[int, int]
    photo_mirrored: bool

    def mrz(self) -> list[str]:
        names = (self.surname.replace(" ", "<") + "<<" + self.given.replace(" ", "<")).upper()
        birth, expiry = self.birth.strftime("%y%m%d"), self.expiry.strftime("%y%m%d")
        doc = self.document_number + str(icao_check(self.document_number))
        b = birth + str(icao_check(birth))
        e = expiry + str(icao_check(expiry))
        if self.mrz_format == "TD1":
            line1 = f"I<NLD{doc}{self.bsn}".ljust(30, "<")
            line2 = f"{b}{self.sex}{e}NLD".ljust(29, "<")
            composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
            return [line1, line2 + str(icao_check(composite)), names.ljust(30, "<")[:30]]
        personal = self.bsn.ljust(14, "<")
        line2 = f"{doc}NLD{b}{self.sex}{e}{personal}{icao_check(personal)}"
        composite = line2[0:10] + line2[13:20] + line2[21:43]
        return [f"P<NLD{names}".ljust(44, "<")[:44], line2 + str(icao_check(composite))]


def random_bsn(rng: random.Random) -> str:
    while True:
        head = [rng.randrange(10) for _ in range(8)]
        partial = sum(d * w for d, w in zip(head, _WEIGHTS, strict=False))
        if partial % 11 < 10 and partial != partial % 11:
            return "".join(map(str, [*head, partial % 11]))


def random_document_number(rng: random.Random) -> str:
    letters = _ALNUM[:25]
    while True:
        middle = "".join(rng.choice(_ALNUM) for _ in range(6))
        if any(c.isdigit() for c in middle):
            return rng.choice(letters) + rng.choice(letters) + middle + rng.choice("0123456789")


def random_person(rng: random.Random, mrz_format: Literal["TD1", "TD3"]) -> Person:
    birth = date(1950, 1, 1) + timedelta(days=rng.randrange(20_000))
    return Person(
        surname=rng.choice(_SURNAMES),
        given=rng.choice(_GIVEN),
        birth=birth,
        expiry=date(2026, 1, 1) + timedelta(days=rng.randrange(3_000)),
        place=rng.choice(_PLACES),
        sex=rng.choice("MF"),
        document_number=random_document_number(rng),
        bsn=random_bsn(rng),
        mrz_format=mrz_format,
        photo_shift=(rng.randrange(-12, 13), rng.randrange(-12, 13)),
        photo_mirrored=rng.random() < 0.5,
    )


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled font: the same on every machine


def _face(person: Person, size: tuple[int, int]) -> Image.Image:
    dx, dy = person.photo_shift
    # The astronaut's face is at about (177, 66)-(272, 161) in the 512 x 512 image.
    photo = data.astronaut()  # type: ignore[no-untyped-call]
    crop = Image.fromarray(photo).crop((140 + dx, 30 + dy, 310 + dx, 250 + dy))
    if person.photo_mirrored:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return crop.resize(size, Image.Resampling.LANCZOS)


def _day(d: date) -> str:
    return f"{d.day:02d} {_MONTHS[d.month - 1]} {d.year}"


def draw_card(person: Person, hidden: Sequence[Field] = ()) -> Image.Image:
    """The card at W x H with the `hidden` fields covered by black rectangles."""
    card = Image.new("RGB", (W, H), (226, 234, 242))
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, W, 70), fill=(32, 64, 140))
    draw.text((30, 18), "KONINKRIJK DER NEDERLANDEN", font=font(30), fill="white")
    draw.text((330, 85), "IDENTITEITSKAART / IDENTITY CARD", font=font(24), fill=(30, 30, 30))
    boxes: dict[Field, tuple[int, int, int, int]] = {"photo": (40, 110, 290, 430)}
    card.paste(_face(person, (250, 320)), boxes["photo"][:2])
    rows: list[tuple[str, str, Field | None]] = [
        ("Naam / Surname", person.surname, None),
        ("Voornamen / Given names", person.given, None),
        ("Geboortedatum / Date of birth", _day(person.birth), None),
        ("Geboorteplaats / Place of birth", person.place, None),
        ("Documentnummer / Document no.", person.document_number, "document_number"),
        (
            "Persoonsnummer / Personal no.",
            f"{person.bsn[:4]}.{person.bsn[4:6]}.{person.bsn[6:]}",
            "bsn",
        ),
        ("Geldig tot / Date of expiry", _day(person.expiry), None),
    ]
    y = 130
    for label, value, field in rows:
        draw.text((330, y), label, font=font(17), fill=(70, 70, 90))
        draw.text((330, y + 20), value, font=font(27), fill="black")
        if field is not None:
            left, top, right, bottom = draw.textbbox((330, y + 20), value, font=font(27))
            boxes[field] = (int(left) - 6, int(top) - 6, int(right) + 6, int(bottom) + 6)
        y += 58
    draw.text(
        (40, 440),
        "Geslacht / Sex: " + ("V/F" if person.sex == "F" else "M"),
        font=font(20),
        fill="black",
    )
    lines = person.mrz()
    size = 38 if person.mrz_format == "TD1" else 25
    top = H - 20 - len(lines) * (size + 12)
    draw.rectangle((0, top - 14, W, H), fill=(245, 245, 240))
    for i, line in enumerate(lines):
        # Each character in its own cell, as OCR-B is monospaced.
        pitch = (W - 80) / len(line)
        for j, char in enumerate(line):
            draw.text((40 + j * pitch, top + i * (size + 12)), char, font=font(size), fill="black")
    boxes["mrz"] = (20, top - 8, W - 20, H - 10)
    for field in hidden:
        draw.rectangle(boxes[field], fill="black")
    return card


@dataclass(frozen=True)
class Transform:
    name: str
    angle: float = 0.0  # degrees, counter-clockwise
    scale: float = 1.0
    jpeg_quality: int | None = None  # None: PNG


TRANSFORMS = (
    Transform("plain"),
    Transform("rotated +3", angle=3.0),
    Transform("rotated -2.5, jpeg 70", angle=-2.5, jpeg_quality=70),
    Transform("scaled 0.7, jpeg 65", scale=0.7, jpeg_quality=65),
    Transform("scaled 1.3, rotated -3.5", angle=-3.5, scale=1.3),
    Transform("scaled 0.7, rotated 2, jpeg 60", angle=2.0, scale=0.7, jpeg_quality=60),
    Transform("rotated 4, jpeg 75", angle=4.0, jpeg_quality=75),
    Transform("scaled 1.3, jpeg 60", scale=1.3, jpeg_quality=60),
)


def encode(image: Image.Image, transform: Transform) -> bytes:
    if transform.scale != 1.0:
        size = (round(image.width * transform.scale), round(image.height * transform.scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    if transform.angle:
        # On a white sheet, as a scanner or a phone photo of paper would show it.
        image = image.rotate(
            transform.angle, Image.Resampling.BICUBIC, expand=True, fillcolor="white"
        )
    out = io.BytesIO()
    if transform.jpeg_quality is None:
        image.save(out, "PNG")
    else:
        image.save(out, "JPEG", quality=transform.jpeg_quality)
    return out.getvalue()


@dataclass(frozen=True)
class Sample:
    name: str
    person: Person
    visible: tuple[Field, ...]  # the fields left uncovered
    transform: Transform
    data: bytes


def samples(people: int = 5, transforms_each: int = 3, seed: int = 9303) -> Iterator[Sample]:
    """For each person, a few transforms; for each, one field covered at a time and all four.

    Five images per (person, transform): every field is the visible one in three of them.
    """
    rng = random.Random(seed)
    for number in range(people):
        person = random_person(rng, "TD1" if number % 2 == 0 else "TD3")
        for transform in rng.sample(TRANSFORMS, transforms_each):
            for hidden in [(f,) for f in FIELDS] + [FIELDS]:
                visible = tuple(f for f in FIELDS if f not in hidden)
                name = f"person {number} {person.mrz_format}, {transform.name}, " + (
                    "all covered" if not visible else f"{hidden[0]} covered"
                )
                image = encode(draw_card(person, hidden), transform)
                yield Sample(name, person, visible, transform, image)
