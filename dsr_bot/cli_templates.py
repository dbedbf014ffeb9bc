"""`dsr-bot templates check`: render every reply template as the bot would, and say what is wrong.

Meant for a deployment (after editing templates or the profile) and for CI: exit status 0 when
every mail renders cleanly, 1 when there is a problem, each named by its file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dsr_bot.config import load_settings
from dsr_bot.replies import LANGUAGES
from dsr_bot.reply_check import check_all


@click.group("templates")
def templates_group() -> None:
    """Reply templates: the built-in ones and a deployment's overrides."""


@templates_group.command("check")
@click.option(
    "--overrides",
    "override_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Override directory to check [default: console.template_overrides, if it exists].",
)
@click.option("--builtin-only", is_flag=True, help="Check the built-in templates alone.")
@click.pass_context
def check(ctx: click.Context, override_dir: Path | None, builtin_only: bool) -> None:
    """Render every template in every language with full and minimal sample values (and the
    variants between), overrides first, with the facts of each configured profile.

    Reports each render that fails (an undefined variable, a syntax error, something the
    sandbox refuses), leftover template syntax or placeholders ([naam], XXX, TODO), an empty
    subject, a mail to a data subject without its reference in the subject and the body, and an
    HTML part (made from the text, in templates/html/layout.html.j2) that does not render.

    Exit status: 0 no problems, 1 problems found.
    """
    settings = load_settings(ctx.obj)
    if builtin_only:
        override_dir = None
    elif override_dir is None and settings.console.template_overrides.is_dir():
        override_dir = settings.console.template_overrides
    report = check_all(override_dir=override_dir, profiles=settings.profiles)
    overrides = f"overrides from {override_dir}" if override_dir else "no overrides"
    for problem in report.problems:
        click.echo(str(problem))
    if report.problems:
        files = len({p.file for p in report.problems})
        click.echo(
            f"templates check: {len(report.problems)} problem(s) in {files} file(s) ({overrides})",
            err=True,
        )
        sys.exit(1)
    click.echo(
        f"templates check: {report.mails} mails in {', '.join(LANGUAGES)}, {report.renders} "
        f"renders with full and minimal samples, no problems ({overrides})"
    )
