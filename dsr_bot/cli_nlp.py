"""The classifier's commands: `dsr-bot train`, `dsr-bot classify` and `dsr-bot eval`."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from dsr_bot.config import load_settings
from dsr_bot.errors import DsrBotError
from dsr_bot.nlp.classifier import MODEL_DIR, Classification, SpacyClassifier, language_of
from dsr_bot.nlp.entities import extract_entities
from dsr_bot.nlp.metrics import evaluate, format_report, gold_from_json
from dsr_bot.nlp.text import prepare

CHECKOUT = MODEL_DIR.parents[1]
CORPUS_DIR = CHECKOUT / "nlp_models" / "corpus" / "raw"
OUT_DIR = CHECKOUT / "nlp_models"
LETTERS = CHECKOUT.parent / "shared" / "eval" / "public_letters.jsonl"
BATCH = 256


def _say(text: str) -> None:
    click.echo(text, err=True)


def _classifier(ctx: click.Context, model: Path | None) -> SpacyClassifier:
    options = load_settings(ctx.obj).classifier
    return SpacyClassifier.load(
        model or options.model_path,
        threshold=options.fixed_threshold,
        confident_at=options.confident_at,
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DsrBotError(f"no such file: {path}")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DsrBotError(f"{path.name}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise DsrBotError(f"{path.name}:{number}: needs a 'text' string")
        item["_where"] = f"{path.name}:{number}"
        items.append(item)
    return items


@click.command()
@click.option(
    "--corpus",
    type=click.Path(path_type=Path, file_okay=False),
    default=CORPUS_DIR,
    show_default=True,
    help="Directory of hand-written *.jsonl examples.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=OUT_DIR,
    show_default=True,
    help="Where the split, the model (textcat/) and metrics.json go.",
)
@click.option(
    "--arch",
    "architectures",
    default="bow,subword,sentences,ensemble,cnn",
    show_default=True,
    help="spaCy architectures to compare, comma-separated "
    "(bow, subword, subword-v1, sentences, ensemble, cnn).",
)
@click.option("--epochs", type=click.IntRange(1, 200), default=15, show_default=True)
@click.option("--baseline/--no-baseline", default=True, help="Also train the TF-IDF baseline.")
@click.option(
    "--rounds",
    type=click.IntRange(1, 10),
    default=None,
    help="Rounds of variants of each training example drawn for training "
    "[default: corpus.TRAIN_ROUNDS].",
)
@click.option(
    "--folds",
    type=click.IntRange(2, 10),
    default=4,
    show_default=True,
    help="Cross-validation folds of the training split that choose the kept model's threshold.",
)
@click.option(
    "--letters",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Held-out letters to report on, never trained on [default: {LETTERS}, if present].",
)
def train(
    corpus: Path,
    out: Path,
    architectures: str,
    epochs: int,
    baseline: bool,
    rounds: int | None,
    folds: int,
    letters: Path | None,
) -> None:
    """Train the request classifier from spacy.blank("nl") and keep the best model."""
    from dsr_bot.nlp import corpus as corpus_mod
    from dsr_bot.nlp import model_card, training

    started = time.perf_counter()
    names = [a.strip() for a in architectures.split(",") if a.strip()]
    for name in names:
        if name not in training.ARCHITECTURES:
            known = ", ".join(training.ARCHITECTURES)
            raise DsrBotError(f"unknown architecture {name!r}: use {known}")
    _say(f"reading the corpus in {corpus}")
    built = corpus_mod.build(corpus, rounds or corpus_mod.TRAIN_ROUNDS)
    _say(built.summary())
    split_dir = out / "corpus"
    split_dir.mkdir(parents=True, exist_ok=True)
    corpus_mod.write(built.train, split_dir / "train.jsonl")
    corpus_mod.write(built.dev, split_dir / "dev.jsonl")
    held_out = None
    letters = letters or (LETTERS if LETTERS.is_file() else None)
    if letters is not None:
        items = _read_jsonl(letters)
        held_out = training.Letters(
            texts=[prepare(i.get("subject", ""), i["text"]).lower() for i in items],
            golds=[gold_from_json(i, i["_where"]) for i in items],
        )
        _say(f"{len(items)} held-out letters from {letters}: reported, never trained on")
    results, models = training.compare(
        built.training,
        built.dev,
        architectures=names,
        epochs=epochs,
        threshold=training.SELECTION_THRESHOLD,
        letters=held_out,
        baseline=baseline,
        say=_say,
    )
    chosen = training.best_spacy(results)
    # The kept model and the baseline each get their own threshold, so they compare fairly.
    training.tune_kept_and_baseline(
        results, chosen, models, built.training, built.dev, held_out, folds=folds, say=_say
    )
    target = out / "textcat"
    training.save(models[chosen.name], chosen, target)
    summary = {
        "language": training.language_accuracy(built.dev),
        "train": len(built.train),
        "train_extra": len(built.extra),
        "dev": len(built.dev),
        "written": sum(e.origin == "written" for e in [*built.train, *built.dev]),
        "letters": str(letters.name) if letters else None,
    }
    training.write_metrics(results, chosen, out / "metrics.json", corpus=summary)
    card = out / "README.md"
    if card.is_file():
        model_card.update(card, results, chosen, summary)
    for line in model_card.comparison_table(results, chosen).splitlines():
        _say(line)
    _say(f"kept {chosen.name}: saved to {target} ({time.perf_counter() - started:.0f} s in all)")


def _describe(classification: Classification, lang: str, text: str) -> str:
    scores = sorted(classification.scores.items(), key=lambda kv: -kv[1])
    lines = [
        "labels:     " + ", ".join(classification.labels),
        f"confidence: {classification.confidence:.2f} "
        + ("(sure)" if classification.confident else "(unsure: staff triage)"),
        f"language:   {lang}",
        "scores:     " + ", ".join(f"{label} {score:.3f}" for label, score in scores[:4]),
    ]
    entities = extract_entities(text)
    if entities:
        lines.append("found:")
        for e in entities:
            shown = "[BSN]" if e.kind == "bsn" else (e.value or e.text)
            field = f" ({e.field})" if e.field else ""
            lines.append(f"  {e.kind}{field}: {shown}")
    return "\n".join(lines)


def _batches(stream: TextIO) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for number, line in enumerate(stream, 1):
        if line.strip():
            batch.append((number, line))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _parse_line(number: int, line: str) -> tuple[Any, str | None, str | None]:
    """(id, text, error) for one input line."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, f"line {number}: not valid JSON ({exc.msg})"
    if not isinstance(item, dict):
        return None, None, f"line {number}: expected a JSON object"
    text = item.get("text")
    if not isinstance(text, str):
        return item.get("id"), None, f"line {number}: needs a 'text' string"
    return item.get("id"), text, None


@click.command()
@click.argument("text", required=False)
@click.option("--subject", default="", help="The message's subject line, if any.")
@click.option(
    "--jsonl",
    is_flag=True,
    help='Read {"id", "text"} JSON Lines on stdin; write one JSON line per input.',
)
@click.option(
    "--model", type=click.Path(path_type=Path, file_okay=False), help="Another trained model."
)
@click.pass_context
def classify(
    ctx: click.Context, text: str | None, subject: str, jsonl: bool, model: Path | None
) -> None:
    """Say what a message asks for: its labels, their scores and its language."""
    if jsonl == (text is not None):
        raise click.UsageError("give either TEXT or --jsonl")
    classifier = _classifier(ctx, model)
    if text is not None:
        (classification,) = classifier.classify_many([(subject, text)])
        click.echo(_describe(classification, language_of(subject, text), text))
        return
    failed = 0
    for batch in _batches(sys.stdin):
        parsed = [_parse_line(number, line) for number, line in batch]
        good = [(i, p) for i, p in enumerate(parsed) if p[1] is not None]
        answers = classifier.classify_many([("", p[1] or "") for _, p in good])
        by_index = dict(zip((i for i, _ in good), answers, strict=True))
        for index, (item_id, item_text, error) in enumerate(parsed):
            if error is not None or item_text is None:
                failed += 1
                out: dict[str, Any] = {"id": item_id, "error": error}
            else:
                answer = by_index[index]
                out = {
                    "id": item_id,
                    "labels": answer.labels,
                    "scores": answer.scores,
                    "lang": language_of("", item_text),
                }
            click.echo(json.dumps(out, ensure_ascii=False))
    if failed:
        _say(f"{failed} line(s) could not be read; their output lines carry an 'error'")
        ctx.exit(1)


@click.command("eval")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--model", type=click.Path(path_type=Path, file_okay=False), help="Another trained model."
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--show-misses", is_flag=True, help="List the ids of items not matched exactly.")
@click.pass_context
def eval_(
    ctx: click.Context, file: Path, model: Path | None, as_json: bool, show_misses: bool
) -> None:
    """Score the classifier on labelled JSON Lines ("labels", or "label" + "also_acceptable")."""
    items = _read_jsonl(file)
    if not items:
        raise DsrBotError(f"{file} holds no items")
    golds = [gold_from_json(item, item["_where"]) for item in items]
    classifier = _classifier(ctx, model)
    answers = classifier.classify_many([(i.get("subject", ""), i["text"]) for i in items])
    report = evaluate(golds, [a.labels for a in answers])
    if as_json:
        data = {
            "count": report.count,
            "macro_f1": report.macro_f1,
            "exact_match": report.exact_match,
            "primary_hit": report.primary_hit,
            "other_given_privacy": report.other_given_privacy,
            "privacy_called_other": report.privacy_called_other,
            "per_label": {
                label: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "n": s.support}
                for label, s in report.per_label.items()
            },
            "confusion": report.confusion,
        }
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(format_report(report))
    if show_misses:
        for index in report.misses:
            item = items[index]
            click.echo(
                f"miss {item.get('id', item['_where'])}: predicted "
                f"{','.join(answers[index].labels)}",
                err=True,
            )
