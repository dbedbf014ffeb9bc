"""Does an ID copy still show something that must be blacked out: photo, MRZ, document number, BSN?

One image (JPEG, PNG, or a PDF's first page) goes through: decode with a pixel limit, scale to a
working size, straighten (a few degrees of skew), find faces with OpenCV's bundled Haar
cascade, one OCR pass over the page for BSNs, document numbers and MRZ lines, and, only when
that pass found no confirmed MRZ, one more pass restricted to MRZ characters over where an MRZ
would be. Check digits and the elfproef decide, so ordinary text does not count.

Nothing is logged and nothing found leaves this module except its kind. The image goes to
tesseract through a pipe, never through a file.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import subprocess
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import pypdfium2
import pytesseract
from numpy.typing import NDArray
from PIL import Image, ImageOps

from dsr_bot.domain.bsn import find_bsns
from dsr_bot.domain.id_documents import find_document_numbers, find_mrz
from dsr_bot.errors import UnreadableImage

FindingKind = Literal["mrz", "bsn", "document_number", "photo"]
Gray = NDArray[np.uint8]

WORK_SIDE = 1200  # long side the page is scaled to: text then sits at a size tesseract reads well
_PDF_SIDE = 2000  # a PDF page is rendered at about this long side, within max_pixels
_SKEW_RANGE = 6.0  # degrees searched either way
_CASCADE = "haarcascade_frontalface_default.xml"
_MRZ_CONFIG = "--psm 6 -c tessedit_char_whitelist=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
# What OCR puts in place of digits, in runs that look like a number (a BSN read as 1234.5B.782).
_DIGITISH = str.maketrans("OoQDIl|/SB", "0000111758")
_NUMBERISH = re.compile(r"[0-9OoQDIl|/SB.\- ]{9,13}")


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    detail: str  # English, for people; never a number, MRZ text or other personal data


@dataclass(frozen=True, slots=True)
class CheckResult:
    findings: tuple[Finding, ...]
    missing_tools: tuple[str, ...] = ()  # a check that could not run cannot accept the copy

    @property
    def acceptable(self) -> bool:
        return not self.findings and not self.missing_tools

    def to_json(self) -> dict[str, object]:
        return {
            "acceptable": self.acceptable,
            "findings": [{"kind": f.kind, "detail": f.detail} for f in self.findings],
        }


def _sniff(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if b"%PDF-" in data[:1024]:  # the header may follow some junk, as readers allow
        return "PDF"
    raise UnreadableImage("not a JPEG, PNG or PDF file")


def _open_image(data: bytes, kind: str, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            if image.width * image.height > max_pixels:
                raise UnreadableImage(f"the image is too large ({image.width} x {image.height})")
            image.load()
            # A phone photo is stored sideways with an EXIF note to turn it.
            turned: Image.Image = ImageOps.exif_transpose(image)
            return turned
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(f"the {kind} file cannot be read") from exc
    except Image.DecompressionBombError as exc:
        raise UnreadableImage("the image is too large") from exc


def _render_pdf(data: bytes, max_pixels: int) -> Image.Image:
    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise UnreadableImage("the PDF file cannot be read") from exc
    try:
        if len(pdf) == 0:
            raise UnreadableImage("the PDF file has no pages")
        page = pdf[0]
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            raise UnreadableImage("the PDF's first page is empty")
        scale = min(_PDF_SIDE / max(width, height), (max_pixels / (width * height)) ** 0.5)
        rendered: Image.Image = page.render(scale=scale, grayscale=True).to_pil()
        return rendered
    except pypdfium2.PdfiumError as exc:
        raise UnreadableImage("the PDF's first page cannot be rendered") from exc
    finally:
        pdf.close()


def pdf_as_png(data: bytes, *, max_pixels: int = 40_000_000) -> bytes:
    """The first page of a PDF copy as PNG, for staff to look at: the console's pages allow no
    plugin or script, so a browser's PDF viewer would show nothing, and a PDF may carry script."""
    out = io.BytesIO()
    _render_pdf(data, max_pixels).save(out, "PNG")
    return out.getvalue()


def decode(data: bytes, *, max_pixels: int) -> Gray:
    """The first page of `data` as 8-bit grey; UnreadableImage for anything else."""
    kind = _sniff(data)
    image = _render_pdf(data, max_pixels) if kind == "PDF" else _open_image(data, kind, max_pixels)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent parts are paper, not black.
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    if min(gray.shape) < 32:
        raise UnreadableImage("the image is too small to read")
    return gray


def _to_work_size(gray: Gray) -> Gray:
    factor = WORK_SIDE / max(gray.shape)
    factor = min(factor, 3.0)  # a tiny image gains nothing from more
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(gray, None, fx=factor, fy=factor, interpolation=interpolation))


def skew_angle(gray: Gray) -> float:
    """The rotation (degrees) that makes text rows horizontal: rows of ink are sharpest then."""
    factor = 500 / max(gray.shape)
    small = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    _, ink = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    height, width = ink.shape
    centre = (width / 2, height / 2)

    def sharpness(angle: float) -> float:
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        turned = cv2.warpAffine(ink, matrix, (width, height), flags=cv2.INTER_NEAREST)
        rows = turned.sum(axis=1, dtype=np.float64)
        return float(np.square(np.diff(rows)).sum())

    coarse = max(np.arange(-_SKEW_RANGE, _SKEW_RANGE + 0.01, 0.5), key=sharpness)
    fine = max(np.arange(coarse - 0.4, coarse + 0.41, 0.1), key=sharpness)
    return float(fine)


def _rotate(gray: Gray, angle: float) -> Gray:
    if abs(angle) < 0.2:
        return gray
    height, width = gray.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return np.asarray(
        cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_CUBIC, borderValue=(255,))
    )


def _cascade_dir() -> str:
    folder: str = cv2.data.haarcascades  # type: ignore[attr-defined]  # not in cv2's stubs
    return folder


class IdChecker:
    """Finds what an ID copy must not show. `check` is CPU-bound: run it in a thread."""

    def __init__(self, *, max_pixels: int = 40_000_000) -> None:
        self.max_pixels = max_pixels
        self._missing: tuple[str, ...] | None = None
        self._lang = "eng"
        self._cascade: Any = None
        self._cascade_lock = threading.Lock()
        # Tesseract's OpenMP threads fight each other on a small machine: one thread per call
        # is several times faster here (2.8 s against 0.35 s a page on 2 cores).
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")

    def missing_tools(self) -> tuple[str, ...]:
        """What is not installed, in words for the operator; () when all is there. Cached."""
        if self._missing is not None:
            return self._missing
        missing = []
        command = pytesseract.pytesseract.tesseract_cmd
        if shutil.which(command) is None:
            missing.append(f"OCR (tesseract not found: {command}; install tesseract-ocr)")
        else:
            try:
                languages = set(pytesseract.get_languages(config=""))
            except (pytesseract.TesseractError, OSError):
                languages = set()
            if "nld" in languages:
                self._lang = "nld"
            elif "eng" not in languages:
                missing.append("OCR language data (install tesseract-ocr-nld)")
        cascade = cv2.CascadeClassifier(os.path.join(_cascade_dir(), _CASCADE))
        if cascade.empty():
            missing.append(f"face detection (OpenCV's {_CASCADE} not found)")
        else:
            self._cascade = cascade
        self._missing = tuple(missing)
        return self._missing

    def check(self, data: bytes) -> CheckResult:
        gray = decode(data, max_pixels=self.max_pixels)
        missing = self.missing_tools()
        if missing:
            return CheckResult(findings=(), missing_tools=missing)
        page = _to_work_size(gray)
        page = _rotate(page, skew_angle(page))
        findings = list(self._faces(page))
        findings += self._text(page)
        order = {"photo": 0, "mrz": 1, "document_number": 2, "bsn": 3}
        return CheckResult(findings=tuple(sorted(findings, key=lambda f: order[f.kind])))

    def _faces(self, page: Gray) -> list[Finding]:
        side = max(24, min(page.shape) // 12)
        # One classifier object is not safe to use from two threads at once (asyncio.to_thread
        # may run two checks together): it then finds faces in a blank image.
        with self._cascade_lock:
            faces = self._cascade.detectMultiScale(
                page, scaleFactor=1.1, minNeighbors=5, minSize=(side, side)
            )
        if len(faces) == 0:
            return []
        what = "a face photo" if len(faces) == 1 else f"{len(faces)} face photos"
        return [Finding("photo", f"{what} visible; cover the photo")]

    def _ocr(self, image: Gray, config: str) -> list[str]:
        # The page goes to tesseract through a pipe and the text comes back through one:
        # pytesseract's image_to_string would put both in files in /tmp, readable by all (0644).
        page = io.BytesIO()
        Image.fromarray(image).save(page, format="PNG")
        command = [pytesseract.pytesseract.tesseract_cmd, "stdin", "stdout", "-l", self._lang]
        try:
            done = subprocess.run(  # noqa: S603 - the configured tesseract, fixed arguments
                [*command, *shlex.split(config), "txt"],
                input=page.getvalue(),
                capture_output=True,
                check=False,
            )
        except FileNotFoundError:
            raise pytesseract.TesseractNotFoundError() from None
        if done.returncode:
            error = " ".join(done.stderr.decode("utf-8", "replace").split())
            raise pytesseract.TesseractError(done.returncode, error)
        text = done.stdout.decode("utf-8", "replace")
        return [line for line in text.splitlines() if line.strip()]

    def _text(self, page: Gray) -> list[Finding]:
        lines = self._ocr(page, "--psm 11")
        found = []
        mrz = find_mrz(lines)
        if mrz is None:
            mrz = find_mrz(self._ocr(_mrz_region(page), _MRZ_CONFIG))
        if mrz is not None:
            found.append(
                Finding(
                    "mrz",
                    f"{mrz.format} machine-readable zone, {len(mrz.checks)} check digits valid",
                )
            )
        text = "\n".join(lines)
        if find_document_numbers(text, ocr=True):
            found.append(Finding("document_number", "a Dutch document number is readable"))
        # A stray mark inside a number is either a misread digit (7 as /) or a speck.
        misread = _NUMBERISH.sub(lambda m: m.group().translate(_DIGITISH), text)
        speck = _NUMBERISH.sub(lambda m: re.sub("[/|]", "", m.group()).translate(_DIGITISH), text)
        if find_bsns(text) or find_bsns(misread) or find_bsns(speck):
            found.append(Finding("bsn", "a citizen service number (BSN) is readable"))
        return found


def _mrz_region(page: Gray) -> Gray:
    """Where a missed MRZ would be: the lower part of the page, where documents print it."""
    height = page.shape[0]
    return page[int(height * 0.55) :, :]
