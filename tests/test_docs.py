"""The docs say what the code does: README opens with the two commands, every module is named."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_opens_with_make_run_and_make_test() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    opening = "\n".join(lines[:6])
    assert re.search(r"^make run\b", opening, re.M)
    assert re.search(r"^make test\b", opening, re.M)


def test_every_module_is_named_in_the_architecture_doc() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "dsr_bot"
    missing = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "__init__.py"
        and "migrations" not in path.parts
        and str(path.relative_to(package)) not in doc
    ]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
