"""The subword model's features: what it may and may not learn a label from."""

from __future__ import annotations

from typing import Any

import numpy
import pytest
import spacy

from dsr_bot.nlp.architectures import subword_features

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
