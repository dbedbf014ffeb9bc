"""The subword and sentence models: what they learn a label from, how they split a message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.training import Example
from thinc.api import fix_random_seed

from dsr_bot.nlp import training
from dsr_bot.nlp.architectures import sentence_features, sentence_spans, subword_features
from dsr_bot.nlp.labels import LABELS

NLP = spacy.blank("nl")


def _features(text: str, **options: bool) -> dict[int, float]:
    model = subword_features(2, [3, 4, 5], **options)
    (keys, vals, _lengths), _ = model([NLP.make_doc(text)], is_train=False)
    out: dict[int, float] = {}
    for key, val in zip(keys.tolist(), vals.tolist(), strict=True):
        out[key] = out.get(key, 0.0) + val
    return out


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("bel me op 06-12345678 aub", "bel me op 06-98765432 aub"),
        ("mail naar jan.jansen@gmail.com", "mail naar p.devries@hotmail.com"),
        ("mijn iban is nl91abna0417164300", "mijn iban is nl20ingb0001234567"),
        (
            "geboren 12-12-1993, studentnummer 24-hbo-sw-0721",
            "geboren 03-04-1980, studentnummer 25-mbo-ad-1193",
        ),
    ],
)
def test_invented_personal_data_teaches_the_model_nothing(one: str, other: str) -> None:
    assert _features(one, separate=True, mask=True) == _features(other, separate=True, mask=True)
    assert _features(one) != _features(other)  # v1 saw them


def test_article_numbers_still_tell_requests_apart() -> None:
    options: dict[str, Any] = {"separate": True, "mask": True}
    assert _features("op grond van artikel 15 avg", **options) != _features(
        "op grond van artikel 17 avg", **options
    )


def test_words_and_character_ngrams_are_each_scaled_to_unit_length() -> None:
    doc = NLP.make_doc("verwijder mijn gegevens en stuur geen nieuwsbrief meer")
    words = len(doc) * 2 - 1  # unigrams and bigrams, all distinct here
    (_, vals, _), _ = subword_features(2, [3, 4, 5], separate=True)([doc], is_train=False)
    assert numpy.isclose(float((vals[:words] ** 2).sum()), 1.0, atol=1e-5)
    assert numpy.isclose(float((vals[words:] ** 2).sum()), 1.0, atol=1e-5)


# --- v3: the message plus its strongest sentence -------------------------------------------------


def _spans(text: str) -> list[str]:
    doc = NLP.make_doc(text)
    spans = sentence_spans(doc)
    (_, (_, _, lengths), counts), _ = sentence_features(2, [3, 4, 5], min_words=4)([doc], False)
    assert counts == [len(lengths)] == [max(len(spans), 1)]  # what the model scores
    return [doc[s:e].text.strip() for s, e in spans]


def test_a_mail_is_split_into_its_sentences_with_greeting_and_sign_off_kept_short() -> None:
    text = (
        "Hoi,\nik wil niet meer gebeld worden door jullie. "
        "En verwijder ook mijn adres uit jullie systeem!\n\nGroet, Jan"
    )
    assert _spans(text) == [
        "Hoi,\nik wil niet meer gebeld worden door jullie.",
        "En verwijder ook mijn adres uit jullie systeem!",
        "Groet, Jan",
    ]


def test_a_chat_message_without_punctuation_is_one_sentence() -> None:
    assert _spans("kan alles van mij weg ben niet meer geinteresseerd") == [
        "kan alles van mij weg ben niet meer geinteresseerd"
    ]


def test_the_whole_message_is_seen_as_v2_sees_it() -> None:
    doc = NLP.make_doc("Stuur me een kopie van mijn gegevens. Bel me op 06-12345678 aub.")
    ((keys, vals, _), _, _), _ = sentence_features(2, [3, 4, 5], min_words=4)([doc], False)
    (v2_keys, v2_vals, _), _ = subword_features(2, [3, 4, 5], separate=True, mask=True)(
        [doc], is_train=False
    )
    assert keys.tolist() == v2_keys.tolist()
    assert numpy.allclose(vals, v2_vals)


def _train(architecture: str, data: list[tuple[str, set[str]]]) -> Language:
    nlp = training.blank_pipeline(architecture)
    examples = [
        Example.from_dict(
            nlp.make_doc(text), {"cats": {label: float(label in labels) for label in LABELS}}
        )
        for text, labels in data
    ]
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.005
    for _ in range(40):
        nlp.update(examples, sgd=optimizer)
    return nlp


def test_a_second_request_in_its_own_sentence_is_not_argued_down_by_the_first() -> None:
    # "stop" words only ever come without erasure here, as unsubscribing often does in real mail.
    data = [
        ("stop met mailen naar mij", {"objection"}),
        ("stop met bellen, ik wil geen reclame", {"objection"}),
        ("ik wil geen nieuwsbrief meer, stop ermee", {"objection"}),
        ("stop alle marketing naar mij", {"objection"}),
        ("verwijder mijn adres", {"erasure"}),
        ("verwijder al mijn gegevens", {"erasure"}),
        ("wanneer begint de cursus", {"other"}),
    ]
    nlp = _train("sentences", data)
    cats = nlp("stop met mailen naar mij en stop met bellen. verwijder mijn adres.").cats
    assert cats["objection"] >= 0.5
    assert cats["erasure"] >= 0.5


def test_a_trained_sentence_model_saves_and_loads_with_the_same_scores(tmp_path: Path) -> None:
    nlp = _train("sentences", [("verwijder mijn gegevens", {"erasure"}), ("hallo", {"other"})])
    text = "Hallo. Verwijder mijn gegevens graag, alles."
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded(text).cats == pytest.approx(nlp(text).cats)
