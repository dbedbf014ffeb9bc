"""Scores for a labelled set: per-label precision, recall and F1, exact match, a confusion table.

Gold items come in two shapes: `{"labels": [...]}`, or `{"label": "...", "also_acceptable": [...]}`
where the primary label is required and the acceptable ones are not counted against a prediction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dsr_bot.errors import DsrBotError
from dsr_bot.nlp.labels import LABELS, OTHER


@dataclass(frozen=True, slots=True)
class Gold:
    required: frozenset[str]
    acceptable: frozenset[str] = frozenset()
    primary: str | None = None  # set for the `label` shape


def gold_from_json(item: Mapping[str, Any], where: str) -> Gold:
    """The gold labels of one JSON line; a clear error for a malformed one."""
    if "labels" in item:
        labels = item["labels"]
        if not isinstance(labels, list) or not labels:
            raise DsrBotError(f"{where}: 'labels' must be a non-empty list")
        gold = Gold(required=frozenset(labels))
    elif "label" in item:
        also = item.get("also_acceptable") or []
        if not isinstance(also, list):
            raise DsrBotError(f"{where}: 'also_acceptable' must be a list")
        gold = Gold(
            required=frozenset([item["label"]]),
            acceptable=frozenset(also),
            primary=str(item["label"]),
        )
    else:
        raise DsrBotError(f"{where}: needs 'labels' (a list) or 'label'")
    unknown = (gold.required | gold.acceptable) - set(LABELS)
    if unknown:
        raise DsrBotError(f"{where}: unknown label(s) {', '.join(sorted(unknown))}")
    return gold


@dataclass(frozen=True, slots=True)
class LabelScore:
    precision: float
    recall: float
    f1: float
    support: int  # gold items carrying the label


@dataclass
class Report:
    count: int
    per_label: dict[str, LabelScore]
    macro_f1: float  # over the labels that occur in the gold set or the predictions
    exact_match: float
    confusion: dict[str, dict[str, int]]  # gold label -> predicted label -> items
    primary_hit: float | None = None  # share whose primary label was predicted
    other_given_privacy: int = 0  # gold `other`, predicted a privacy label
    privacy_called_other: int = 0  # gold privacy label, predicted `other`
    misses: list[int] = field(default_factory=list)  # indexes without an exact match


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def evaluate(golds: Sequence[Gold], predictions: Sequence[Iterable[str]]) -> Report:
    if len(golds) != len(predictions):
        raise ValueError("one prediction per gold item")
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    support: Counter[str] = Counter()
    confusion: dict[str, dict[str, int]] = {label: dict.fromkeys(LABELS, 0) for label in LABELS}
    exact = primary_hits = primaries = other_given_privacy = privacy_called_other = 0
    misses = []
    for index, (gold, predicted) in enumerate(zip(golds, predictions, strict=True)):
        pred = frozenset(predicted)
        allowed = gold.required | gold.acceptable
        for label in gold.required:
            support[label] += 1
            if label in pred:
                tp[label] += 1
            else:
                fn[label] += 1
            for p in pred:
                confusion[label][p] += 1
        for label in pred - allowed:
            fp[label] += 1
        if gold.required <= pred <= allowed:
            exact += 1
        else:
            misses.append(index)
        if gold.primary is not None:
            primaries += 1
            primary_hits += gold.primary in pred
        if OTHER in gold.required and pred - {OTHER}:
            other_given_privacy += 1
        if gold.required - {OTHER} and OTHER in pred:
            privacy_called_other += 1
    per_label = {}
    for label in LABELS:
        precision = _ratio(tp[label], tp[label] + fp[label])
        recall = _ratio(tp[label], tp[label] + fn[label])
        f1 = _ratio(2 * tp[label], 2 * tp[label] + fp[label] + fn[label])
        per_label[label] = LabelScore(precision, recall, f1, support[label])
    seen = [label for label in LABELS if support[label] or fp[label]]
    return Report(
        count=len(golds),
        per_label=per_label,
        macro_f1=sum(per_label[label].f1 for label in seen) / len(seen) if seen else 0.0,
        exact_match=_ratio(exact, len(golds)),
        confusion=confusion,
        primary_hit=_ratio(primary_hits, primaries) if primaries else None,
        other_given_privacy=other_given_privacy,
        privacy_called_other=privacy_called_other,
        misses=misses,
    )


def format_report(report: Report) -> str:
    """The report as plain-text tables for a terminal."""
    lines = [f"{report.count} items", "", f"{'label':<14}{'prec':>7}{'rec':>7}{'F1':>7}{'n':>6}"]
    for label, s in report.per_label.items():
        lines.append(f"{label:<14}{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}{s.support:>6}")
    lines += ["", f"macro-F1     {report.macro_f1:.3f}", f"exact match  {report.exact_match:.3f}"]
    if report.primary_hit is not None:
        lines.append(f"primary label among the predicted: {report.primary_hit:.3f}")
    lines.append(f"gold 'other' given a privacy label: {report.other_given_privacy}")
    lines.append(f"gold privacy request called 'other': {report.privacy_called_other}")
    short = {label: label[:5] for label in LABELS}
    lines += ["", "confusion (rows: gold, columns: predicted)"]
    lines.append(" " * 14 + "".join(f"{short[p]:>7}" for p in LABELS))
    for gold_label, row in report.confusion.items():
        if any(row.values()):
            lines.append(f"{gold_label:<14}" + "".join(f"{row[p]:>7}" for p in LABELS))
    return "\n".join(lines)
