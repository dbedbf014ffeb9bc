"""The committed model: the quality the issue asks for, and the distinctions staff rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dsr_bot.cli import cli
from dsr_bot.nlp import corpus
from dsr_bot.nlp.classifier import MODEL_DIR, SpacyClassifier
from dsr_bot.nlp.metrics import Gold, evaluate, gold_from_json
from tests.conftest import trained_classifier

ROOT = Path(__file__).resolve().parents[2]
LETTERS = ROOT.parent / "shared" / "eval" / "public_letters.jsonl"


@pytest.fixture(scope="module")
def model() -> SpacyClassifier:
    return trained_classifier(MODEL_DIR)


@pytest.mark.xfail(
    strict=True, reason="issue 3 target not met yet: dev macro-F1 is about 0.949 (model card)"
)
def test_dev_split_macro_f1_is_at_least_0_95(model: SpacyClassifier) -> None:
    dev = corpus.read(ROOT / "nlp_models" / "corpus" / "dev.jsonl")
    answers = model.classify_many([("", e.text) for e in dev])
    report = evaluate([Gold(frozenset(e.labels)) for e in dev], [a.labels for a in answers])
    assert report.macro_f1 >= 0.95


def test_dev_split_macro_f1_holds_at_what_the_model_card_reports(model: SpacyClassifier) -> None:
    # A guard against a broken or stale committed model while the 0.95 target is open.
    dev = corpus.read(ROOT / "nlp_models" / "corpus" / "dev.jsonl")
    answers = model.classify_many([("", e.text) for e in dev])
    report = evaluate([Gold(frozenset(e.labels)) for e in dev], [a.labels for a in answers])
    assert report.macro_f1 >= 0.94


@pytest.mark.skipif(not LETTERS.is_file(), reason="../shared/eval is not next to this checkout")
@pytest.mark.xfail(
    strict=True,
    reason="issue 3 target not met yet: 91% primary labels, but 2 privacy letters called other",
)
def test_public_letters_never_trained_on(model: SpacyClassifier) -> None:
    items = [json.loads(line) for line in LETTERS.read_text().splitlines() if line.strip()]
    golds = [gold_from_json(item, str(item.get("id"))) for item in items]
    answers = model.classify_many([("", item["text"]) for item in items])
    report = evaluate(golds, [a.labels for a in answers])
    assert report.primary_hit is not None and report.primary_hit >= 0.9
    assert report.other_given_privacy == 0
    assert report.privacy_called_other == 0


# Sentences written for this test (not in the corpus), one pair per distinction in issue 3.
@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Ik wil me afmelden voor jullie nieuwsbrief, ik krijg er te veel.", "objection"),
        ("Ik wil me afmelden voor de opleiding Office Management, het past niet meer.", "other"),
        ("Please take me off your mailing list, I no longer want your newsletters.", "objection"),
        ("I would like to withdraw from the bookkeeping course and get a refund.", "other"),
        (
            "Er is een datalek geweest: mijn gegevens stonden in een mail aan alle cursisten.",
            "complaint",
        ),
        (
            "Ik wil een klacht indienen over de docent van module 3, hij komt steeds te laat.",
            "other",
        ),
        (
            "Mijn geboortedatum staat verkeerd in jullie systeem, het moet 4 juni 1991 zijn.",
            "rectification",
        ),
        ("Kan de startdatum van mijn cursus verschoven worden naar september?", "other"),
        ("Ik wil graag een kopie van alle persoonsgegevens die jullie over mij bewaren.", "access"),
        ("Kan ik een kopie van mijn diploma krijgen? Ik ben het origineel kwijt.", "other"),
        ("Verwijder al mijn gegevens uit jullie systemen, ik wil geen account meer.", "erasure"),
        (
            "Could you send me all my data in a CSV file so I can move it to another school?",
            "portability",
        ),
    ],
)
def test_the_distinctions_staff_rely_on(model: SpacyClassifier, text: str, label: str) -> None:
    (answer,) = model.classify_many([("", text)])
    assert label in answer.labels
    if label == "other":
        assert answer.labels == ["other"]


@pytest.mark.xfail(
    strict=True,
    reason="known limit (model card): 'U kunt mij bellen op ...' adds objection to 5% of "
    "Dutch dev messages (15% before the callback examples); objections say 'bel me niet meer op'",
)
def test_a_callback_number_is_not_an_objection(model: SpacyClassifier) -> None:
    dev = corpus.read(ROOT / "nlp_models" / "corpus" / "dev.jsonl")
    requests = [
        e for e in dev if e.origin == "written" and e.lang == "nl" and "objection" not in e.labels
    ]
    tail = " U kunt mij bellen op 06-12345678."
    answers = model.classify_many([("", e.text.rstrip() + tail) for e in requests])
    objection = sum("objection" in a.labels for a in answers)
    assert objection <= 0.02 * len(requests)


def test_a_message_with_two_requests_gets_both_labels(model: SpacyClassifier) -> None:
    text = (
        "Ik wil weten welke gegevens jullie van mij hebben. En daarna wil ik dat jullie alles "
        "verwijderen."
    )
    (answer,) = model.classify_many([("", text)])
    assert {"access", "erasure"} <= set(answer.labels)


def test_classify_jsonl_keeps_its_stable_format() -> None:
    lines = [
        json.dumps({"id": 1, "text": "Graag inzage in mijn persoonsgegevens."}),
        json.dumps({"id": "b", "text": "Please delete my account and all my data."}),
        "not json",
    ]
    result = CliRunner().invoke(cli, ["classify", "--jsonl"], input="\n".join(lines) + "\n")
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == [1, "b", None]
    assert out[0]["labels"] == ["access"] and out[0]["lang"] == "nl"
    assert "erasure" in out[1]["labels"] and out[1]["lang"] == "en"
    assert set(out[0]["scores"]) == {
        "access",
        "rectification",
        "erasure",
        "restriction",
        "portability",
        "objection",
        "complaint",
        "other",
    }
    assert "not valid JSON" in out[2]["error"]
    assert result.exit_code == 1  # the bad line is reported, the good ones still answered


def test_classify_text_is_readable() -> None:
    result = CliRunner().invoke(
        cli, ["classify", "Mijn nieuwe adres is Lindelaan 4, 3521 AB Utrecht. Graag aanpassen."]
    )
    assert result.exit_code == 0, result.output
    assert "labels:     rectification" in result.output
    assert "language:   nl" in result.output
    assert "3521 AB" in result.output  # what it found in the message


def test_eval_reports_per_label_scores_and_a_confusion_table(tmp_path: Path) -> None:
    data = tmp_path / "gold.jsonl"
    data.write_text(
        "\n".join(
            [
                json.dumps({"text": "Graag inzage in mijn gegevens.", "labels": ["access"]}),
                json.dumps(
                    {
                        "text": "Stop met bellen en verwijder mijn nummer.",
                        "label": "objection",
                        "also_acceptable": ["erasure"],
                    }
                ),
            ]
        )
    )
    result = CliRunner().invoke(cli, ["eval", str(data)])
    assert result.exit_code == 0, result.output
    for part in ("macro-F1", "exact match", "primary label among the predicted", "confusion"):
        assert part in result.output


def test_eval_names_the_bad_line(tmp_path: Path) -> None:
    data = tmp_path / "gold.jsonl"
    data.write_text('{"text": "x", "labels": ["access"]}\n{"text": "y"}\n')
    result = CliRunner().invoke(cli, ["eval", str(data)])
    assert result.exit_code != 0
    assert "gold.jsonl:2" in str(result.exception)
