from dsr_bot.nlp.text import MAX_CHARS, prepare


def test_subject_and_body_both_count() -> None:
    assert prepare("Inzageverzoek", "Graag een kopie.") == "Inzageverzoek\nGraag een kopie."


def test_reply_prefixes_are_dropped_from_the_subject() -> None:
    assert prepare("RE: Aw: Fwd: vraag", "tekst").startswith("vraag\n")


def test_quoted_lines_are_dropped() -> None:
    body = "Verwijder mijn gegevens.\n> Uw inschrijving voor de cursus is bevestigd.\n> Groet"
    assert "inschrijving" not in prepare("", body)


def test_an_earlier_message_below_a_reply_header_is_dropped() -> None:
    for header in (
        "Op 3 mei 2026 om 10:12 schreef Academie Werkend Leren <info@example.nl>:",
        "On Tue, 3 May 2026 at 10:12, Helpdesk <info@example.nl> wrote:",
        "-----Oorspronkelijk bericht-----",
        "From: Helpdesk <info@example.nl>\nSent: Tuesday, 3 May 2026 10:12",
    ):
        text = prepare("", f"Schrijf mij uit aub.\n\n{header}\nWelkom bij de opleiding Boekhouden")
        assert text == "Schrijf mij uit aub."


def test_a_message_that_is_only_a_forward_keeps_its_text() -> None:
    # Nothing above the header: dropping it would leave nothing to classify.
    body = "-----Original Message-----\nPlease delete my account."
    assert "delete my account" in prepare("", body)


def test_long_letters_are_bounded() -> None:
    assert len(prepare("", "woord " * 5000)) == MAX_CHARS
