"""`dsr-bot train` end to end on a small slice of the corpus: files written, runs repeatable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dsr_bot.cli import cli
from dsr_bot.nlp import corpus, training
from dsr_bot.nlp.classifier import SpacyClassifier
from dsr_bot.nlp.labels import LABELS
from dsr_bot.nlp.metrics import Report
from dsr_bot.nlp.model_card import END, START

RAW = Path(__file__).resolve().parents[2] / "nlp_models" / "corpus" / "raw"
PROBES = [
    ("", "Ik wil graag inzage in alle gegevens die jullie van mij hebben."),
    ("Afmelden", "Graag uitschrijven voor de nieuwsbrief."),
    ("", "Wanneer begint de cursus boekhouden?"),
]


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty-five hand-written examples per label."""
    picked: list[corpus.Example] = []
    for label in LABELS:
        picked += [e for e in corpus.load_raw(RAW) if e.labels == (label,)][:25]
    directory = tmp_path_factory.mktemp("corpus")
    corpus.write(picked, directory / "small.jsonl")
    return directory


def _train(small_corpus: Path, out: Path, letters: Path) -> None:
    out.mkdir()
    (out / "README.md").write_text(f"# Model card\n\nWritten by hand.\n\n{START}\nold\n{END}\n")
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--corpus",
            str(small_corpus),
            "--out",
            str(out),
            "--arch",
            "bow",
            "--epochs",
            "2",
            "--no-baseline",
            "--letters",
            str(letters),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "epoch 2/2" in result.output  # progress is shown


def test_training_writes_model_split_metrics_and_card_and_is_repeatable(
    small_corpus: Path, tmp_path: Path
) -> None:
    letters = tmp_path / "letters.jsonl"
    letters.write_text(json.dumps({"id": 1, "text": "Verwijder mijn account.", "label": "erasure"}))
    _train(small_corpus, tmp_path / "a", letters)
    _train(small_corpus, tmp_path / "b", letters)

    a = tmp_path / "a"
    assert (a / "corpus" / "train.jsonl").stat().st_size > 0
    assert (a / "corpus" / "dev.jsonl").stat().st_size > 0
    metrics = json.loads((a / "metrics.json").read_text())
    assert metrics["chosen"] == "bow"
    assert metrics["candidates"][0]["letters"]["count"] == 1
    card = (a / "README.md").read_text()
    assert "Written by hand." in card and "old" not in card and "| **bow** (kept)" in card

    # Fixed seeds: a second run gives the same model.
    first = SpacyClassifier.load(a / "textcat").classify_many(PROBES)
    second = SpacyClassifier.load(tmp_path / "b" / "textcat").classify_many(PROBES)
    assert [c.scores for c in first] == [c.scores for c in second]


def test_an_unknown_architecture_is_a_clear_error(small_corpus: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["train", "--corpus", str(small_corpus), "--out", str(tmp_path), "--arch", "rnn"]
    )
    assert result.exit_code != 0
    assert "unknown architecture 'rnn'" in str(result.exception)


def _result(name: str, macro_f1: float, msg_per_s: float) -> training.Result:
    report = Report(count=1, per_label={}, macro_f1=macro_f1, exact_match=0.0, confusion={})
    return training.Result(name, report, None, msg_per_s, epochs=1, train_s=0.0)


def test_the_best_dev_model_is_kept_but_never_one_too_slow_for_the_speed_target() -> None:
    results = [
        _result("bow", 0.90, 20_000),
        _result("subword", 0.925, 5_000),
        _result("ensemble", 0.93, 2_000),
        _result("tfidf-logreg", 0.94, 3_000),  # the baseline is reported, never kept
    ]
    assert training.best_spacy(results).name == "subword"
    close = [_result("bow", 0.924, 20_000), *results[1:]]
    assert training.best_spacy(close).name == "bow"  # within 0.002: the faster
    assert training.best_spacy([results[2]]).name == "ensemble"  # asked for alone
