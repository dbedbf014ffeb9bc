"""A spaCy text-classification architecture of our own: bag of words plus character n-grams.

spaCy's `TextCatBOW` sees whole tokens only, so it cannot tell that "inzageverzoek",
"inzageverzoeken" and "inzagevezoek" (a typo) are about the same thing. This model adds the
hashed character 3- to 5-grams of every token, as a TF-IDF baseline does, and keeps spaCy's sparse
linear layer and output, so it trains, saves and loads like any `textcat_multilabel` model.
Importing this module registers it; `SpacyClassifier.load` and training both do.
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
_CACHE_LIMIT = 200_000  # distinct tokens whose n-gram keys are kept; plenty for one mailbox


def _char_keys(word: str, sizes: Sequence[int]) -> numpy.ndarray[Any, Any]:
    marked = f"<{word}>"
    grams = {marked[i : i + n] for n in sizes for i in range(len(marked) - n + 1)}
    return numpy.fromiter((hash_string("#" + g) for g in grams), dtype="uint64")


def subword_features(ngram_size: int, char_ngrams: Sequence[int]) -> Model[list[Doc], Any]:
    cache: dict[str, numpy.ndarray[Any, Any]] = {}

    def keys_of(word: str) -> numpy.ndarray[Any, Any]:
        found = cache.get(word)
        if found is None:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            found = cache[word] = _char_keys(word, char_ngrams)
        return found

    def forward(model: Model[list[Doc], Any], docs: list[Doc], is_train: bool) -> Any:
        ops = model.ops
        batch_keys: list[Any] = []
        batch_vals: list[Any] = []
        for doc in docs:
            words: Any = doc.to_array([ORTH])
            parts: list[Any] = [words]
            for n in range(2, ngram_size + 1):
                parts.append(ops.ngrams(n, words))
            parts += [keys_of(token.lower_) for token in doc if not token.is_space]
            doc_keys, counts = numpy.unique(numpy.concatenate(parts), return_counts=True)
            # Sublinear counts, scaled to unit length: a long letter does not outvote a short
            # chat by its length alone (as TF-IDF's normalisation does). IDF weights were
            # tried and scored lower on dev (0.901 against 0.912).
            weights = 1.0 + numpy.log(counts)
            batch_keys.append(doc_keys)
            batch_vals.append(weights / max(float(numpy.sqrt((weights * weights).sum())), 1e-9))
        lengths = ops.asarray([k.shape[0] for k in batch_keys], dtype="int32")
        keys: Any = numpy.concatenate(batch_keys) if batch_keys else numpy.zeros(0, "uint64")
        all_vals: Any = numpy.concatenate(batch_vals) if batch_vals else numpy.zeros(0)
        vals = ops.asarray(all_vals, dtype="f")

        def backprop(d_output: Any) -> list[Any]:
            return []

        return (keys, vals, lengths), backprop

    model: Model[list[Doc], Any] = Model("subword_features", forward)
    return model


@registry.architectures(NAME)  # type: ignore[untyped-decorator]
def build_subword_bow(
    exclusive_classes: bool,
    ngram_size: int,
    char_ngrams: list[int],
    length: int = 2**20,
    nO: int | None = None,
) -> Model[list[Doc], Floats2d]:
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    fill_defaults = {"b": NEG_VALUE, "W": 0}
    resizable_layer: Model[Any, Floats2d] = resizable(
        sparse_linear, resize_layer=partial(resize_linear_weighted, fill_defaults=fill_defaults)
    )
    inner: Model[list[Doc], Floats2d] = chain(
        subword_features(ngram_size, char_ngrams), resizable_layer
    )
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


def _resize_output(resizable_layer: Model[Any, Any]) -> Callable[[Model[Any, Any], int], Any]:
    from spacy.ml.models.textcat import resize_and_set_ref

    return partial(resize_and_set_ref, resizable_layer=resizable_layer)
