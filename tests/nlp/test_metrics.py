import pytest

from dsr_bot.errors import DsrBotError
from dsr_bot.nlp.metrics import Gold, evaluate, format_report, gold_from_json


def test_perfect_predictions_score_one() -> None:
    golds = [Gold(frozenset({"access"})), Gold(frozenset({"erasure", "objection"}))]
    report = evaluate(golds, [["access"], ["objection", "erasure"]])
    assert report.macro_f1 == 1.0
    assert report.exact_match == 1.0
    assert report.misses == []


def test_a_missed_and_an_extra_label() -> None:
    golds = [Gold(frozenset({"access"})), Gold(frozenset({"access"}))]
    report = evaluate(golds, [["access", "erasure"], ["other"]])
    access = report.per_label["access"]
    assert (access.precision, access.recall) == (1.0, 0.5)
    assert report.per_label["erasure"].precision == 0.0
    assert report.exact_match == 0.0
    assert report.privacy_called_other == 1
    assert report.confusion["access"]["other"] == 1


def test_also_acceptable_labels_are_not_counted_against() -> None:
    gold = gold_from_json({"label": "erasure", "also_acceptable": ["objection"]}, "line 1")
    report = evaluate([gold], [["erasure", "objection"]])
    assert report.exact_match == 1.0
    assert report.primary_hit == 1.0
    # ...but the primary label itself is required.
    assert evaluate([gold], [["objection"]]).primary_hit == 0.0


def test_other_given_a_privacy_label_is_counted() -> None:
    gold = gold_from_json({"labels": ["other"]}, "line 1")
    assert evaluate([gold], [["complaint"]]).other_given_privacy == 1


@pytest.mark.parametrize(
    "item",
    [{}, {"labels": []}, {"labels": ["acces"]}, {"label": "access", "also_acceptable": "x"}],
)
def test_malformed_gold_is_a_clear_error(item: dict[str, object]) -> None:
    with pytest.raises(DsrBotError, match="line 7"):
        gold_from_json(item, "line 7")


def test_the_report_prints_every_part() -> None:
    report = evaluate([Gold(frozenset({"access"}), primary="access")], [["access"]])
    text = format_report(report)
    for part in ("macro-F1", "exact match", "primary label", "confusion"):
        assert part in text
