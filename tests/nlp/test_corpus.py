"""The corpus: big and varied enough, split without leaks, and free of the held-out letters."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dsr_bot.errors import DsrBotError
from dsr_bot.nlp import corpus
from dsr_bot.nlp.labels import LABELS

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "nlp_models" / "corpus" / "raw"
SPLIT = ROOT / "nlp_models" / "corpus"
EVAL = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="module")
def written() -> list[corpus.Example]:
    return corpus.load_raw(RAW)


def _eval_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted(EVAL.rglob("*")):
        if not path.is_file():
            continue
        content = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".jsonl":
            for line in content.splitlines():
                if line.strip():
                    item = json.loads(line)
                    texts.extend(v for v in item.values() if isinstance(v, str) and len(v) > 40)
        else:
            texts.append(content)
    return texts


@pytest.mark.skipif(not EVAL.is_dir(), reason="../shared/eval is not next to this checkout")
def test_no_held_out_text_or_piece_of_one_is_in_the_corpus() -> None:
    held_out = _eval_texts()
    assert held_out, "found no held-out texts to compare with"
    texts = [e.text for e in corpus.load_raw(RAW)]
    for name in ("train.jsonl", "dev.jsonl"):
        texts += [e.text for e in corpus.read(SPLIT / name)]
    leaks = corpus.shared_pieces(held_out, texts)
    assert leaks == [], f"held-out text in the corpus: {leaks[:3]}"


def test_the_leak_check_finds_a_copied_piece_however_it_is_wrapped() -> None:
    letter = "Dear Sir or Madam, " + "I write about the data you hold on me and my family. " * 3
    copied = "hi!\n" + letter[20:90].upper().replace(" ", "\n  ") + " thanks"
    assert corpus.shared_pieces([letter], [copied])
    assert corpus.shared_pieces([letter], ["nothing alike here"]) == []


def test_the_corpus_is_large_and_covers_every_label_and_style(
    written: list[corpus.Example],
) -> None:
    assert len(written) >= 2000
    labels = Counter(label for e in written for label in e.labels)
    assert min(labels[label] for label in LABELS) >= 100, labels
    assert labels["other"] >= 400  # many hard negatives
    assert sum(len(e.labels) > 1 for e in written) >= 150  # several requests in one message
    langs = Counter(e.lang for e in written)
    assert all(langs[lang] >= 100 for lang in corpus.LANGS), langs
    styles = Counter(e.style for e in written)
    assert all(styles[style] >= 100 for style in corpus.STYLES), styles


def test_variants_stay_in_the_split_of_the_example_they_were_made_from() -> None:
    train = corpus.read(SPLIT / "train.jsonl")
    dev = corpus.read(SPLIT / "dev.jsonl")

    def bases(examples: list[corpus.Example]) -> set[str]:
        return {part.split("~")[0] for e in examples for part in e.id.split("+")}

    assert bases(train).isdisjoint(bases(dev))
    share = sum(e.origin == "written" for e in dev) / sum(
        e.origin == "written" for e in [*train, *dev]
    )
    assert 0.15 < share < 0.25


def test_the_committed_split_is_what_the_raw_files_build() -> None:
    built = corpus.build(RAW)
    assert [e.to_json() for e in built.train] == [
        e.to_json() for e in corpus.read(SPLIT / "train.jsonl")
    ]
    assert [e.to_json() for e in built.dev] == [
        e.to_json() for e in corpus.read(SPLIT / "dev.jsonl")
    ]


def test_training_draws_more_variants_of_train_examples_and_none_of_dev() -> None:
    built = corpus.build(RAW)

    def bases(examples: list[corpus.Example]) -> set[str]:
        return {part.split("~")[0] for e in examples for part in e.id.split("+")}

    written_train = {e.id for e in built.train if e.origin == "written"}
    assert bases(built.extra) <= written_train  # never a dev example
    ids = [e.id for e in built.training]
    assert len(ids) == len(set(ids))
    # Each training example is seen in TRAIN_ROUNDS variants, each round drawn anew.
    variants = Counter(
        e.id.split("~")[0] for e in built.training if e.origin in ("envelope", "noisy")
    )
    assert set(variants.values()) == {corpus.TRAIN_ROUNDS}
    first = {e.id: e.text for e in built.train}
    redrawn = [e for e in built.extra if e.id.endswith("~r2") and e.id[:-3] in first]
    assert sum(e.text != first[e.id[:-3]] for e in redrawn) > 0.9 * len(redrawn)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"id": "x", "text": "t", "labels": ["acces"], "lang": "nl", "style": "chat"}', "labels"),
        (
            '{"id": "x", "text": "t", "labels": ["other", "access"], "lang": "nl", '
            '"style": "chat"}',
            "stands alone",
        ),
        ('{"id": "x", "text": "t", "labels": ["access"]}', "needs id, text"),
    ],
)
def test_a_bad_corpus_line_is_named_in_the_error(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "a.jsonl").write_text(line + "\n")
    with pytest.raises(DsrBotError, match=f"a.jsonl:1.*{message}"):
        corpus.load_raw(tmp_path)


def test_a_duplicate_text_is_refused(tmp_path: Path) -> None:
    row = {"text": "Verwijder mijn  gegevens", "labels": ["erasure"], "lang": "nl", "style": "chat"}
    lines = [
        json.dumps({"id": "a", **row}),
        json.dumps({"id": "b", **row, "text": "verwijder mijn gegevens"}),
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DsrBotError, match="same text"):
        corpus.load_raw(tmp_path)
