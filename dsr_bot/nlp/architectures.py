"""A spaCy text-classification architecture of our own: bag of words plus character n-grams.

spaCy's `TextCatBOW` sees whole tokens only, so it cannot tell that "inzageverzoek",
"inzageverzoeken" and "inzagevezoek" (a typo) are about the same thing. This model adds the
hashed character 3- to 5-grams of every token, as a TF-IDF baseline does, and keeps spaCy's sparse
linear layer and output, so it trains, saves and loads like any `textcat_multilabel` model.
Importing this module registers it; `SpacyClassifier.load` and training both do.

v2 (the `subword` candidate since 2026-02) changes two things, both as the TF-IDF baseline does
or should: word n-grams and character n-grams are each scaled to unit length, so that the few
whole-word features are not drowned by the many character n-grams; and tokens that are personal
data rather than words (e-mail addresses, URLs, anything with four or more digits: phone numbers,
dates, IBANs, student numbers) count as one placeholder each, so the model cannot learn a label from
an invented phone number. Article numbers ("art. 15", "17(1)(c)") have fewer digits and stay.
v1 stays registered so that models trained with it still load.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy
from spacy.attrs import ORTH  # type: ignore[import-not-found]
from spacy.ml.models.textcat import NEG_VALUE
from spacy.strings import hash_string  # type: ignore[attr-defined]
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Logistic, Model, SparseLinear_v2, chain, resizable, with_cpu
from thinc.layers.resizable import resize_linear_weighted
from thinc.types import Floats2d

NAME = "dsr_bot.TextCatSubwordBOW.v1"
NAME_V2 = "dsr_bot.TextCatSubwordBOW.v2"
_CACHE_LIMIT = 200_000  # distinct tokens whose n-gram keys are kept; plenty for one mailbox


def _char_keys(word: str, sizes: Sequence[int]) -> numpy.ndarray[Any, Any]:
    marked = f"<{word}>"
    grams = {marked[i : i + n] for n in sizes for i in range(len(marked) - n + 1)}
    return numpy.fromiter((hash_string("#" + g) for g in grams), dtype="uint64")


_PLACEHOLDERS: dict[str, int] = {
    kind: int(hash_string(f"<{kind}>")) for kind in ("email", "url", "num")
}


def _placeholder(token: Any) -> int | None:
    """The key a personal-data token counts as, or None for an ordinary word."""
    if token.like_email:
        return _PLACEHOLDERS["email"]
    if token.like_url:
        return _PLACEHOLDERS["url"]
    if sum(c.isdigit() for c in token.text) >= 4:
        return _PLACEHOLDERS["num"]
    return None


def _unit(counts: numpy.ndarray[Any, Any]) -> numpy.ndarray[Any, Any]:
    # Sublinear counts, scaled to unit length: a long letter does not outvote a short chat by
    # its length alone (as TF-IDF's normalisation does). IDF weights were tried and scored lower
    # on dev (0.901 against 0.912).
    weights = 1.0 + numpy.log(counts)
    return weights / max(float(numpy.sqrt((weights * weights).sum())), 1e-9)  # type: ignore[no-any-return]


def subword_features(
    ngram_size: int, char_ngrams: Sequence[int], *, separate: bool = False, mask: bool = False
) -> Model[list[Doc], Any]:
    """Keys and weights of a doc's word n-grams and character n-grams, for `SparseLinear`.

    `separate` scales the two groups to unit length each (v2) instead of together (v1); `mask`
    replaces personal-data tokens by a placeholder and gives them no character n-grams (v2).
    """
    cache: dict[str, numpy.ndarray[Any, Any]] = {}
    empty = numpy.zeros(0, dtype="uint64")

    def keys_of(word: str) -> numpy.ndarray[Any, Any]:
        found = cache.get(word)
        if found is None:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            found = cache[word] = _char_keys(word, char_ngrams)
        return found

    def doc_features(ops: Any, doc: Doc) -> tuple[Any, Any]:
        words: Any = doc.to_array([ORTH])
        chars: list[Any] = []
        for i, token in enumerate(doc):
            if token.is_space:
                continue
            key = _placeholder(token) if mask else None
            if key is None:
                chars.append(keys_of(token.lower_))
            else:
                words[i] = key
        word_parts: list[Any] = [words]
        for n in range(2, ngram_size + 1):
            word_parts.append(ops.ngrams(n, words))
        if not separate:
            keys, counts = numpy.unique(numpy.concatenate(word_parts + chars), return_counts=True)
            return keys, _unit(counts)
        word_keys, word_counts = numpy.unique(numpy.concatenate(word_parts), return_counts=True)
        char_keys, char_counts = numpy.unique(
            numpy.concatenate(chars) if chars else empty, return_counts=True
        )
        return (
            numpy.concatenate([word_keys, char_keys]),
            numpy.concatenate([_unit(word_counts), _unit(char_counts)]),
        )

    def forward(model: Model[list[Doc], Any], docs: list[Doc], is_train: bool) -> Any:
        ops = model.ops
        batch_keys: list[Any] = []
        batch_vals: list[Any] = []
        for doc in docs:
            doc_keys, doc_vals = doc_features(ops, doc)
            batch_keys.append(doc_keys)
            batch_vals.append(doc_vals)
        lengths = ops.asarray([k.shape[0] for k in batch_keys], dtype="int32")
        keys: Any = numpy.concatenate(batch_keys) if batch_keys else empty
        all_vals: Any = numpy.concatenate(batch_vals) if batch_vals else numpy.zeros(0)
        vals = ops.asarray(all_vals, dtype="f")

        def backprop(d_output: Any) -> list[Any]:
            return []

        return (keys, vals, lengths), backprop

    model: Model[list[Doc], Any] = Model("subword_features", forward)
    return model


def _build(
    length: int,
    nO: int | None,
    exclusive_classes: bool,
    features: Model[list[Doc], Any],
) -> Model[list[Doc], Floats2d]:
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    fill_defaults = {"b": NEG_VALUE, "W": 0}
    resizable_layer: Model[Any, Floats2d] = resizable(
        sparse_linear, resize_layer=partial(resize_linear_weighted, fill_defaults=fill_defaults)
    )
    inner: Model[list[Doc], Floats2d] = chain(features, resizable_layer)
    output = Logistic()
    model: Model[list[Doc], Floats2d] = chain(
        with_cpu(inner, inner.ops), with_cpu(output, output.ops)
    )
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = not exclusive_classes
    model.attrs["resize_output"] = _resize_output(resizable_layer)
    return model


@registry.architectures(NAME)  # type: ignore[untyped-decorator]
def build_subword_bow(
    exclusive_classes: bool,
    ngram_size: int,
    char_ngrams: list[int],
    length: int = 2**20,
    nO: int | None = None,
) -> Model[list[Doc], Floats2d]:
    features = subword_features(ngram_size, char_ngrams)
    return _build(length, nO, exclusive_classes, features)


@registry.architectures(NAME_V2)  # type: ignore[untyped-decorator]
def build_subword_bow_v2(
    exclusive_classes: bool,
    ngram_size: int,
    char_ngrams: list[int],
    length: int = 2**20,
    nO: int | None = None,
) -> Model[list[Doc], Floats2d]:
    features = subword_features(ngram_size, char_ngrams, separate=True, mask=True)
    return _build(length, nO, exclusive_classes, features)


def _resize_output(resizable_layer: Model[Any, Any]) -> Callable[[Model[Any, Any], int], Any]:
    from spacy.ml.models.textcat import resize_and_set_ref

    return partial(resize_and_set_ref, resizable_layer=resizable_layer)
