"""Files as Telegram keeps them: photo sizes (JPEG thumbnails), uploads, stored files."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

_THUMB_SIDES = (90, 320, 800, 1280)


def photo_variants(data: bytes) -> list[tuple[bytes, int, int]]:
    """Photo sizes as Telegram makes them: smaller JPEG copies first, the original last."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
            sides = [s for s in _THUMB_SIDES if s < max(width, height)]
            variants: list[tuple[bytes, int, int]] = []
            for side in sides or [max(1, max(width, height) // 2)]:
                thumb = image.convert("RGB")
                thumb.thumbnail((side, side))
                out = io.BytesIO()
                thumb.save(out, "JPEG", quality=80)
                variants.append((out.getvalue(), thumb.width, thumb.height))
    except (OSError, ValueError, Image.DecompressionBombError):
        # Not an image: every size serves the same bytes.
        return [(data, side, side) for side in _THUMB_SIDES[:3]]
    return [*variants, (data, width, height)]


@dataclass
class Upload:
    """A file part of a multipart request."""

    file_name: str
    mime_type: str
    data: bytes


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    kind: str  # "photo" or "document"
