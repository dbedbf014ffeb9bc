"""`dsr-bot train` end to end on a small slice of the corpus: files written, runs repeatable."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from dsr_bot.cli import cli
from dsr_bot.nlp import corpus, training
from dsr_bot.nlp.classifier import SpacyClassifier
from dsr_bot.nlp.labels import LABELS
from dsr_bot.nlp.metrics import Gold, Report
from dsr_bot.nlp.model_card import END, START
from dsr_bot.nlp.training import Scores

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
    (out / "README.md").write_text(f"# Model card\n\nWritten by hand.\n\n{START}\nstale\n{END}\n")
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
    assert "choosing the decision threshold of bow: 4-fold cross-validation" in result.output


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
    kept = metrics["candidates"][0]
    assert kept["threshold"] in training.THRESHOLDS
    assert 0 < kept["cv_macro_f1"] <= 1
    card = (a / "README.md").read_text()
    assert "Written by hand." in card and "stale" not in card and "| **bow** (kept)" in card
    # The bot uses the threshold saved with the model.
    saved = json.loads((a / "textcat" / "meta.json").read_text())["dsr_bot"]
    assert saved == {"architecture": "bow", "threshold": kept["threshold"]}
    assert SpacyClassifier.load(a / "textcat").threshold == kept["threshold"]
    assert SpacyClassifier.load(a / "textcat", threshold=0.9).threshold == 0.9

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


def _gold(*labels: str) -> Gold:
    return Gold(required=frozenset(labels))


def test_the_threshold_with_the_best_held_out_f1_is_chosen() -> None:
    golds = [_gold("access", "erasure"), _gold("objection"), _gold("erasure")]
    # The second request scores 0.4: found at 0.40 and below, missed above.
    found = [{"access": 0.9, "erasure": 0.4}, {"objection": 0.8}, {"erasure": 0.9}]
    threshold, f1 = training.choose_threshold(golds, found)
    assert threshold == 0.4 and f1 == 1.0
    # A wrong label at 0.3 as well: 0.35 and 0.40 both score best; the one nearer 0.5 wins.
    wrong = [*found[:2], {"erasure": 0.9, "objection": 0.3}]
    assert training.choose_threshold(golds, wrong)[0] == 0.4
    # Nothing in between: 0.5, the usual threshold, is kept.
    plain = [{"access": 0.9, "erasure": 0.9}, {"objection": 0.8}, {"erasure": 0.9}]
    assert training.choose_threshold(golds, plain) == (0.5, 1.0)


def test_cross_validation_never_scores_an_example_with_a_model_that_saw_its_variants() -> None:
    def example(id_: str) -> corpus.Example:
        return corpus.Example(id_, f"tekst {id_}", ("access",), lang="nl", style="chat")

    def roots(text: str) -> set[str]:  # "tekst w1~noisy" -> {w1}; "tekst w1+w2" -> {w1, w2}
        return {part.split("~")[0] for part in text.split()[1].split("+")}

    written = [example(f"w{i}") for i in range(40)]
    variants = [example(f"w{i}~noisy") for i in range(40)]
    combined = [example(f"w{i}+w{i + 1}") for i in range(0, 38, 3)]
    train = [*written, *variants, *combined]
    folds_trained: list[int] = []

    def fit(examples: Sequence[corpus.Example]) -> Iterator[Callable[[list[str]], Scores]]:
        trained_roots = set().union(*(roots(e.text) for e in examples))
        folds_trained.append(len(examples))

        def score(texts: list[str]) -> Scores:
            for text in texts:
                assert not roots(text) & trained_roots, f"{text}: trained on a relative"
            return [{"access": 1.0} for _ in texts]

        for _ in range(2):  # two epochs
            yield score

    golds, rounds = training.cross_validated_scores(train, fit, folds=4, say=lambda _: None)
    # Every item scored exactly once per epoch.
    assert len(rounds) == 2 and len(golds) == len(rounds[0]) == len(rounds[1]) == len(train)
    assert len(folds_trained) == 4 and min(folds_trained) > len(train) / 2


def test_epochs_and_threshold_are_chosen_together() -> None:
    golds = [_gold("access", "erasure"), _gold("objection")]
    unsure = [{"access": 0.9, "erasure": 0.3}, {"objection": 0.8, "erasure": 0.35}]
    sure = [{"access": 0.9, "erasure": 0.45}, {"objection": 0.8, "erasure": 0.2}]
    # After epoch 1 no threshold separates the two; after epoch 2, 0.2 < t <= 0.45 does.
    assert training.choose_epoch_and_threshold(golds, [unsure, sure]) == (2, 0.45, 1.0)
    # Equally good after epochs 1 and 2: the earlier one.
    assert training.choose_epoch_and_threshold(golds, [sure, sure])[0] == 1
