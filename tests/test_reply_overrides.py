"""Reply templates replaced by an admin: the override directory, and the check before saving."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsr_bot.replies import (
    Replies,
    TemplateFile,
    builtin_text,
    remove_override,
    save_override,
    template_file,
    template_files,
)
from dsr_bot.reply_check import SAMPLES, check_template

ACK = SAMPLES["acknowledgement"][1]  # asks for an ID copy: uses the shared macros


def file(path: str) -> TemplateFile:
    language, _, name = path.partition("/")
    found = template_file(language, name)
    assert found is not None
    return found


@pytest.mark.parametrize("template", template_files(), ids=lambda f: f.path)
def test_every_built_in_template_passes_its_own_check(template: TemplateFile) -> None:
    """Keeps SAMPLES in step with the templates: a variable the code passes but the samples
    lack would make every edit of that template fail."""
    assert check_template(template, builtin_text(template), override_dir=None) is None


def test_every_mail_template_has_samples() -> None:
    mails = {f.template for f in template_files() if not f.is_macros}
    assert mails <= SAMPLES.keys()


def test_an_override_counts_from_the_next_render_and_its_removal_too(tmp_path: Path) -> None:
    replies = Replies(override_dir=tmp_path)
    before = replies.render("acknowledgement", "nl", **ACK)  # the built-ins are now cached
    subject = file("nl/acknowledgement.subject.j2")
    macros = file("nl/_identity.j2")
    save_override(subject, "Ontvangen: {{ reference }}\n", tmp_path)
    save_override(macros, builtin_text(macros).replace("Tip: gebruik", "Handig: gebruik"), tmp_path)
    after = replies.render("acknowledgement", "nl", **ACK)
    assert after.subject == "Ontvangen: AVG-2026-0042"
    assert "Handig: gebruik de gratis app KopieID" in after.body
    assert remove_override(subject, tmp_path) and remove_override(macros, tmp_path)
    assert not remove_override(subject, tmp_path)
    assert replies.render("acknowledgement", "nl", **ACK) == before


def test_without_an_override_directory_the_built_ins_are_used(tmp_path: Path) -> None:
    save_override(file("nl/acknowledgement.subject.j2"), "Niet gebruikt\n", tmp_path)
    assert Replies().render("acknowledgement", "nl", **ACK).subject.startswith("Wij hebben")


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("nl/acknowledgement.body.j2", "Beste {{ naam }},\n", "die het sjabloon niet krijgt: naam"),
        ("nl/acknowledgement.body.j2", "{% if name %}\nBeste\n", "Fout in de opmaak op regel"),
        ("nl/acknowledgement.body.j2", "  \n", "leeg"),
        ("nl/acknowledgement.body.j2", "x" * 60_000, "te lang"),
        ("nl/acknowledgement.body.j2", "{{ name.__class__ }}", "niet mag"),
        ("nl/acknowledgement.body.j2", "a\n{{ reference.nope.deeper }}", "(regel 2)"),
        ("nl/acknowledgement.body.j2", '{% include "nl/geen.j2" %}', "niet bestaat: nl/geen.j2"),
        ("nl/staff_digest.body.j2", "{{ overdue[5].reference }}", "regel 1"),
        # A macro file is tried through every mail that imports it.
        ("nl/_identity.j2", "{% macro clock() %}Klok{% endmacro %}", "proefweergave mislukte"),
    ],
)
def test_a_replacement_that_would_fail_is_explained_in_dutch(
    path: str, text: str, expected: str
) -> None:
    problem = check_template(file(path), text, override_dir=None)
    assert problem is not None and expected in problem


def test_a_sound_replacement_passes(tmp_path: Path) -> None:
    text = "{% if name %}Beste {{ name }},{% else %}Beste lezer,{% endif %}\n\n{{ reference }}\n"
    assert check_template(file("nl/acknowledgement.body.j2"), text, override_dir=tmp_path) is None


@pytest.mark.parametrize(
    ("language", "name"),
    [("nl", "../nl/acknowledgement.body.j2"), ("nl", "nieuw.body.j2"), ("xx", "a"), ("nl", "")],
)
def test_only_built_in_files_are_known(language: str, name: str) -> None:
    assert template_file(language, name) is None
