"""An admin saving a reply template that reaches for Python's internals, through the console.

(The check itself and the renderer: tests/test_template_injection.py.)
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from dsr_bot.config import Settings
from tests.conftest import make_settings
from tests.console.conftest import LoggedIn
from tests.test_template_injection import INTERNALS, LEAKS


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Template overrides land in this test's own directory, never in the checkout's var/.
    return make_settings(
        database_url, tmp_path, console={"template_overrides": str(tmp_path / "templates")}
    )


@pytest.mark.parametrize("payload", INTERNALS[:4])
async def test_saving_a_template_that_reaches_for_internals_is_refused_with_the_reason(
    logged_in: LoggedIn, settings: Settings, payload: str
) -> None:
    admin = await logged_in("admin")
    typed = f"Beste lezer,\n\n{payload}\n\nUw nummer is {{{{ reference }}}}.\n"
    response = await admin.post_form("/admin/templates/nl/acknowledgement.body.j2", {"text": typed})
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert "Niet opgeslagen" in page
    assert "De tekst probeert iets wat niet mag (regel 3)" in page
    assert typed in page  # still in the editor, to be corrected
    assert not any(leak in page.replace(typed, "") for leak in LEAKS[:4])
    folder = settings.console.template_overrides
    assert not folder.exists() or not any(folder.rglob("*.j2"))
