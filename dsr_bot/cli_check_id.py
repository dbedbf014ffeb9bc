"""`dsr-bot check-id`: does an ID copy still show what must be blacked out? Stores nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dsr_bot.errors import UnreadableImage
from dsr_bot.identity import IdChecker

MAX_FILE_BYTES = 50_000_000  # far above any phone photo or scan; the file is read whole


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UnreadableImage(f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB")
        return path.read_bytes()
    except FileNotFoundError:
        raise UnreadableImage(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnreadableImage(f"{path} is a directory") from None
    except OSError as exc:
        raise UnreadableImage(f"{path} cannot be read ({exc.strerror})") from None


@click.command("check-id")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"acceptable": true|false, "findings": [{"kind", "detail"}]} only.',
)
def check_id(path: Path, as_json: bool) -> None:
    """Check that the ID copy PATH (JPEG, PNG or PDF, first page) hides the photo, the MRZ,
    the document number and the BSN. Nothing is stored.

    Exit status: 0 acceptable, 1 not acceptable (something is visible, or a tool the check
    needs is not installed), 2 the file cannot be read.
    """
    result = IdChecker().check(_read(path))
    for tool in result.missing_tools:
        click.echo(f"dsr-bot: warning: cannot check the copy: {tool} is missing", err=True)
    if as_json:
        click.echo(json.dumps(result.to_json()))
    elif result.acceptable:
        click.echo("acceptable: no photo, MRZ, document number or BSN found")
    else:
        click.echo("NOT acceptable" + ("" if result.findings else ": the check could not run"))
        for finding in result.findings:
            click.echo(f"  {finding.kind}: {finding.detail}")
    if not result.acceptable:
        sys.exit(1)
