"""Progress lines: the bench takes a couple of minutes, so say what it is doing."""

from __future__ import annotations

import sys
import time

_START = time.perf_counter()


def say(text: str) -> None:
    print(f"[{time.perf_counter() - _START:6.1f}s] {text}", file=sys.stderr, flush=True)
