"""`dsr-bot deadline`: the exact JSON evaluation scripts read, for dates and datetimes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dsr_bot.cli import cli


def run(*args: str) -> dict[str, str]:
    result = CliRunner().invoke(cli, ["deadline", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, str] = json.loads(result.output)
    return data


@pytest.mark.parametrize(
    ("received", "legal", "extended", "promised"),
    [
        # EDPB examples (Guidelines 01/2022): 5 March -> 5 April, 31 August -> 30 September.
        ("2024-03-05", "2024-04-05", "2024-06-05", "2024-04-02"),
        ("2026-08-31", "2026-09-30", "2026-11-30", "2026-09-28"),
        # Month ends: 31 January -> the last day of February, in a leap year and not.
        ("2028-01-31", "2028-02-29", "2028-05-01", "2028-02-28"),
        ("2029-01-31", "2029-02-28", "2029-04-30", "2029-02-28"),
        # Rolls: Easter Monday 2026 (6 April), Koningsdag (27 April), 5 May, Christmas, New Year.
        ("2026-03-05", "2026-04-07", "2026-06-05", "2026-04-02"),
        ("2026-03-27", "2026-04-28", "2026-06-29", "2026-04-24"),
        ("2026-04-05", "2026-05-06", "2026-07-06", "2026-05-04"),
        ("2026-11-25", "2026-12-28", "2027-02-25", "2026-12-23"),
        ("2026-12-01", "2027-01-04", "2027-03-01", "2026-12-29"),
    ],
)
def test_due_dates(received: str, legal: str, extended: str, promised: str) -> None:
    assert run("--received", received) == {
        "legal_due": legal,
        "extended_due": extended,
        "promised_due": promised,
    }


@pytest.mark.parametrize(
    ("received", "legal"),
    [
        ("2026-11-24T22:59:59+00:00", "2026-12-24"),  # 23:59:59 in Amsterdam: the 24th
        ("2026-11-24T23:00:00+00:00", "2026-12-28"),  # midnight in Amsterdam: the 25th
        ("2026-11-24T23:30:00Z", "2026-12-28"),
        ("2026-11-25T00:30:00+01:00", "2026-12-28"),
        ("2026-11-24T23:30:00", "2026-12-24"),  # no offset: Amsterdam time already
    ],
)
def test_datetimes_count_from_the_amsterdam_date(received: str, legal: str) -> None:
    assert run("--received", received)["legal_due"] == legal


def test_paused_days_move_the_dates_before_rolling() -> None:
    # 5 March 2024 + 1 month = Fri 5 April; 1 paused day -> Sat 6 April -> Mon 8 April.
    assert run("--received", "2024-03-05", "--paused-days", "1")["legal_due"] == "2024-04-08"


@pytest.mark.parametrize("bad", ["5 March", "2026-13-01", "", "2026-03-05T25:00"])
def test_bad_input_is_a_clear_error(bad: str) -> None:
    result = CliRunner().invoke(cli, ["deadline", "--received", bad])
    assert result.exit_code != 0
    assert "not a date or datetime" in str(result.exception)
