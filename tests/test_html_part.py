"""The HTML part of every mail says what its text part says: same words, same order."""

from __future__ import annotations

import html
import re

import pytest

from dsr_bot.replies import Replies, render_html, template_files
from dsr_bot.reply_samples import SAMPLES

MAILS = sorted(
    (f.language, f.template) for f in template_files() if f.part == "body" and f.template in SAMPLES
)


def _shown(page: str) -> str:
    """The words a mail client shows of the HTML part's body."""
    body = page.split("<body", 1)[1].split(">", 1)[1].rsplit("</body>", 1)[0]
    body = re.sub(r"</?(?:div|p|br|ul|li)\b[^>]*>", " ", body)  # blocks and lines part words
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split())  # links do not


def _words(text: str) -> str:
    """The words of the text part, without the "- " that marks a list item."""
    return " ".join(re.sub(r"(?m)^[^\S\n]*[-•] +(?=\S)", "", text).split())


@pytest.mark.parametrize(("language", "template"), MAILS)
def test_the_html_part_shows_the_text_of_the_mail(language: str, template: str) -> None:
    replies = Replies()
    for sample in SAMPLES[template]:
        mail = replies.render(template, language, **sample)
        page = render_html(mail.body, language, title=mail.subject)
        assert _shown(page) == _words(mail.body)
        assert f'<html lang="{language}">' in page


@pytest.mark.parametrize(
    "text",
    [
        "a-" * 200_000 + "@b",
        "a." * 200_000 + "@",
        "x@" + "a." * 200_000 + "!",
        "https://x" + ")" * 200_000,
    ],
)
def test_text_that_almost_holds_an_address_is_shown_in_one_pass(text: str) -> None:
    """Each of these took minutes while the address pattern backtracked (the suite's timeout
    catches a return of that)."""
    page = render_html(text, "nl")
    assert _shown(page) == _words(text)
