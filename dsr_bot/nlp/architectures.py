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


_EMPTY = numpy.zeros(0, dtype="uint64")


def _separate_features(
    ops: Any, words: Any, chars: Sequence[Any | None], ngram_size: int
) -> tuple[Any, Any]:
    """v2's keys and weights of one text: its word n-grams and its tokens' character n-grams
    (None for a token without any), each group scaled to unit length."""
    word_parts: list[Any] = [words]
    for n in range(2, ngram_size + 1):
        word_parts.append(ops.ngrams(n, words))
    word_keys, word_counts = numpy.unique(numpy.concatenate(word_parts), return_counts=True)
    present = [c for c in chars if c is not None]
    char_keys, char_counts = numpy.unique(
        numpy.concatenate(present) if present else _EMPTY, return_counts=True
    )
    return (
        numpy.concatenate([word_keys, char_keys]),
        numpy.concatenate([_unit(word_counts), _unit(char_counts)]),
    )


def _pack(ops: Any, items: Sequence[tuple[Any, Any]]) -> tuple[Any, Any, Any]:
    """`SparseLinear`'s input for a batch: all keys, all weights, and the keys per item."""
    lengths = ops.asarray([k.shape[0] for k, _ in items], dtype="int32")
    keys = numpy.concatenate([k for k, _ in items]) if items else _EMPTY
    values = numpy.concatenate([v for _, v in items]) if items else numpy.zeros(0)
    return keys, ops.asarray(values, dtype="f"), lengths


def subword_features(
    ngram_size: int, char_ngrams: Sequence[int], *, separate: bool = False, mask: bool = False
) -> Model[list[Doc], Any]:
    """Keys and weights of a doc's word n-grams and character n-grams, for `SparseLinear`.

    `separate` scales the two groups to unit length each (v2) instead of together (v1); `mask`
    replaces personal-data tokens by a placeholder and gives them no character n-grams (v2).
    """
    cache: dict[str, numpy.ndarray[Any, Any]] = {}

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
        if separate:
            return _separate_features(ops, words, chars, ngram_size)
        word_parts: list[Any] = [words]
        for n in range(2, ngram_size + 1):
            word_parts.append(ops.ngrams(n, words))
        keys, counts = numpy.unique(numpy.concatenate(word_parts + chars), return_counts=True)
        return keys, _unit(counts)

    def forward(model: Model[list[Doc], Any], docs: list[Doc], is_train: bool) -> Any:
        def backprop(d_output: Any) -> list[Any]:
            return []

        return _pack(model.ops, [doc_features(model.ops, doc) for doc in docs]), backprop

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
    return _with_output(chain(features, resizable_layer), [resizable_layer], nO, exclusive_classes)


def _with_output(
    inner: Model[list[Doc], Floats2d],
    resizables: Sequence[Model[Any, Floats2d]],
    nO: int | None,
    exclusive_classes: bool,
) -> Model[list[Doc], Floats2d]:
    """The sigmoid output over `inner`, with what spaCy's textcat expects of a model: its
    output layer (the first of `resizables`) and a way to resize them all for a new label."""
    output = Logistic()
    model: Model[list[Doc], Floats2d] = chain(
        with_cpu(inner, inner.ops), with_cpu(output, output.ops)
    )
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", resizables[0].layers[0])
    model.attrs["multi_label"] = not exclusive_classes
    model.attrs["resize_output"] = _resize_all(resizables)
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


# --- v3: the whole message, plus its strongest sentence -----------------------------------------
#
# A linear model over a whole message learns "stop mailing me" as evidence against erasure (from
# the many messages that only unsubscribe), and so misses the erasure in "Stop mailing me. And
# delete my address." v3 adds a second set of weights that scores each sentence alone; a label's
# score is the message's score plus that of its strongest sentence. One sentence's words can then
# carry a request without the rest of the message arguing it down.

NAME_SENTENCES = "dsr_bot.TextCatSentenceBOW.v1"
_BREAKS = frozenset(".!?;")
_WORD, _SPACE, _BREAK, _PUNCT = range(4)


def _sentences(kinds: Sequence[int], min_words: int) -> list[tuple[int, int]]:
    """Token ranges of sentences (ended by . ! ? ; or a line break); one of fewer than
    `min_words` words ("Hi,", "Dear Sir,") is joined to the next."""
    spans: list[tuple[int, int]] = []
    start = words = 0
    for i, kind in enumerate(kinds):
        if kind == _WORD:
            words += 1
        elif kind == _BREAK and words >= min_words:
            spans.append((start, i + 1))
            start, words = i + 1, 0
    if start < len(kinds):
        if words == 0 and spans:  # trailing breaks and spaces
            spans[-1] = (spans[-1][0], len(kinds))
        else:
            spans.append((start, len(kinds)))
    return spans


def _kind(lex: Any) -> int:
    if lex.is_space:
        return _BREAK if "\n" in lex.text else _SPACE
    return _BREAK if lex.text in _BREAKS else _PUNCT if lex.is_punct else _WORD


def sentence_spans(doc: Doc, min_words: int = 4) -> list[tuple[int, int]]:
    """The token ranges the sentence model scores on their own (when there are two or more)."""
    return _sentences([_kind(token) for token in doc], min_words)


Features = tuple[Any, Any, Any]  # SparseLinear's input: keys, values, lengths


def sentence_features(
    ngram_size: int, char_ngrams: Sequence[int], *, min_words: int
) -> Model[list[Doc], tuple[Features, Features, list[int]]]:
    """v2's features of each whole doc, of each of its sentences, and the sentences per doc.

    A doc of one sentence has that one: its own features again.
    """
    # Per vocabulary entry: placeholder key or None, character n-gram keys, kind of token.
    cache: dict[int, tuple[int | None, Any, int]] = {}

    def info(doc: Doc, orth: int) -> tuple[int | None, Any, int]:
        found = cache.get(orth)
        if found is None:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            lex = doc.vocab[orth]
            key = None if lex.is_space else _placeholder(lex)
            chars = None if lex.is_space or key is not None else _char_keys(lex.lower_, char_ngrams)
            found = cache[orth] = (key, chars, _kind(lex))
        return found

    def forward(model: Model[list[Doc], Any], docs: list[Doc], is_train: bool) -> Any:
        ops = model.ops
        whole: list[tuple[Any, Any]] = []
        parts: list[tuple[Any, Any]] = []
        counts: list[int] = []
        for doc in docs:
            words: Any = doc.to_array([ORTH])
            infos = [info(doc, orth) for orth in words.tolist()]
            for i, (key, _, _) in enumerate(infos):
                if key is not None:
                    words[i] = key
            chars = [chars for _, chars, _ in infos]
            # One numpy.unique per text: faster here than counting a whole batch in one sort.
            whole.append(_separate_features(ops, words, chars, ngram_size))
            spans = _sentences([kind for _, _, kind in infos], min_words)
            if len(spans) > 1:
                parts.extend(
                    _separate_features(ops, words[s:e], chars[s:e], ngram_size) for s, e in spans
                )
            else:
                parts.append(whole[-1])
            counts.append(max(len(spans), 1))

        def backprop(d_output: Any) -> list[Any]:
            return []

        return (_pack(ops, whole), _pack(ops, parts), counts), backprop

    return Model("sentence_features", forward)


def doc_plus_best_sentence(
    doc_layer: Model[Features, Floats2d], sentence_layer: Model[Features, Floats2d]
) -> Model[tuple[Features, Features, list[int]], Floats2d]:
    """Per label: the whole doc's score plus that of its highest-scoring sentence."""

    def forward(model: Model[Any, Floats2d], inputs: Any, is_train: bool) -> Any:
        whole, parts, counts = inputs
        doc_scores, backprop_doc = doc_layer(whole, is_train)
        sentence_scores, backprop_sentences = sentence_layer(parts, is_train)
        if not is_train:  # no gradient wanted: one vectorised max per doc
            starts = numpy.cumsum([0, *counts[:-1]])
            top_scores = numpy.maximum.reduceat(numpy.asarray(sentence_scores), starts, axis=0)
            return doc_scores + top_scores, backprop_doc
        columns = numpy.arange(doc_scores.shape[1])
        best = numpy.zeros(doc_scores.shape, dtype="int64")
        scores = doc_scores.copy()
        start = 0
        for d, count in enumerate(counts):
            block: Any = sentence_scores[start : start + count]
            top = block.argmax(axis=0)
            best[d] = start + top
            scores[d] += block[top, columns]
            start += count

        def backprop(d_scores: Floats2d) -> Any:
            d_sentences = numpy.zeros_like(sentence_scores)
            for d in range(len(counts)):
                d_sentences[best[d], columns] += d_scores[d]
            backprop_sentences(d_sentences)
            return backprop_doc(d_scores)

        return scores, backprop

    return Model("doc_plus_best_sentence", forward, layers=[doc_layer, sentence_layer])


def _resize_all(layers: Sequence[Model[Any, Any]]) -> Callable[[Model[Any, Any], int], Any]:
    from thinc.layers.resizable import resize_model

    def resize(model: Model[Any, Any], new_nO: int) -> Model[Any, Any]:
        for layer in layers:
            resize_model(layer, new_nO)
        model.set_ref("output_layer", layers[0].layers[0])
        model.set_dim("nO", new_nO, force=True)
        return model

    return resize


@registry.architectures(NAME_SENTENCES)  # type: ignore[untyped-decorator]
def build_sentence_bow(
    exclusive_classes: bool,
    ngram_size: int,
    char_ngrams: list[int],
    min_words: int = 4,
    length: int = 2**20,
    sentence_length: int = 2**18,
    nO: int | None = None,
) -> Model[list[Doc], Floats2d]:
    # A quarter of the buckets for the sentence weights: the model stays under 50 MB on disk,
    # and dev macro-F1 was the same as with half (0.934).
    lengths = [2 ** (n - 1).bit_length() for n in (length, sentence_length)]
    # Labels are added one by one before training, each resizing the layers: a new label must
    # start at 0, not at NEG_VALUE (which is for adding a label to a trained model).
    resize = partial(resize_linear_weighted, fill_defaults={"b": 0, "W": 0})
    linears = [SparseLinear_v2(nO=nO, length=n) for n in lengths]
    doc_layer: Model[Features, Floats2d] = resizable(linears[0], resize_layer=resize)
    sentence_layer: Model[Features, Floats2d] = resizable(linears[1], resize_layer=resize)
    inner: Model[list[Doc], Floats2d] = chain(
        sentence_features(ngram_size, char_ngrams, min_words=min_words),
        doc_plus_best_sentence(doc_layer, sentence_layer),
    )
    return _with_output(inner, [doc_layer, sentence_layer], nO, exclusive_classes)
