"""`dsr-bot templates check`: render every reply template as the bot would, and say what is wrong.

Meant for a deployment (after editing templates or the profile) and for CI: exit status 0 when
every mail renders cleanly, 1 when there is a problem, each named by its file (and, when there
are several profiles, by the profiles whose mail shows it).
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
    help="Console override directory to check: the default profile's files in it, another "
    "profile's in <profile>/ [default: console.template_overrides, if it exists].",
)
@click.option(
    "--builtin-only",
    is_flag=True,
    help="Check the built-in templates alone (no overrides, no profile's own templates).",
)
@click.option("--profile", "only", default=None, help="Check this profile alone.")
@click.pass_context
def check(
    ctx: click.Context, override_dir: Path | None, builtin_only: bool, only: str | None
) -> None:
    """Render every template in every language with full and minimal sample values (and the
    variants between), for each configured profile as its cases get them: the console's
    replacements for it first, then its own templates (`profiles.*.templates`), then the
    built-in ones, with the profile's facts.

    Reports each render that fails (an undefined variable, a syntax error, something the
    sandbox refuses), leftover template syntax or placeholders ([naam], XXX, TODO), an empty
    subject, a mail to a data subject without its reference in the subject and the body, and an
    HTML part (made from the text, in templates/html/layout.html.j2) that does not render, and
    a file in a profile's directories that no built-in template matches (never read). With
    several profiles, each problem names the profiles whose mail shows it.

    Exit status: 0 no problems, 1 problems found.
    """
    settings = load_settings(ctx.obj)
    profiles = dict(settings.profiles)
    if only is not None:
        if only not in profiles:
            raise click.BadParameter(f"no such profile: {only!r}", param_hint="--profile")
        profiles = {only: profiles[only]}
    if builtin_only:
        override_dir = None
        profiles = {name: p.model_copy(update={"templates": None}) for name, p in profiles.items()}
    elif override_dir is None and settings.console.template_overrides.is_dir():
        override_dir = settings.console.template_overrides
    report = check_all(override_dir=override_dir, profiles=profiles)
    overrides = f"overrides from {override_dir}" if override_dir else "no overrides"
    if len(report.profiles) > 1:
        overrides += f"; profiles {', '.join(report.profiles)}"
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
