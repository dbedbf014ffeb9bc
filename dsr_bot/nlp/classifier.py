"""The classifier interface, and the trained spaCy model behind it.

`SpacyClassifier` loads the model committed in nlp_models/textcat/ (trained by `dsr-bot train`).
`ClassifierPool` runs it in worker processes, so that classifying a batch neither blocks the event
loop nor competes with mail parsing for the interpreter lock. `Unclassified` answers "not
classified" for every message and sends each case to staff triage; the bot uses it only when the
classifier is switched off in configuration.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dsr_bot.domain.cases import RequestKind
from dsr_bot.errors import ConfigError
from dsr_bot.nlp.decision import decide
from dsr_bot.nlp.language import guess_language
from dsr_bot.nlp.text import prepare

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parents[2] / "nlp_models" / "textcat"
# For a model saved without a threshold of its own (before they were chosen by cross-validation).
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class Classification:
    kinds: frozenset[RequestKind]  # empty: not classified, staff triage decides
    confidence: float | None = None
    model: str = "unclassified"
    scores: dict[str, float] = field(default_factory=dict)
    confident: bool = False  # sure enough to skip staff triage
    # The language the text is clearly in ("nl", "en"), "" when unclear, None when not judged.
    # Judged where the text is already prepared (a worker process), not on the event loop.
    language: str | None = None

    @property
    def labels(self) -> list[str]:
        return sorted(kind.value for kind in self.kinds)


class Classifier(Protocol):
    async def classify(self, messages: Sequence[tuple[str, str]]) -> list[Classification]:
        """One answer per (subject, text), in order."""
        ...


class Unclassified:
    """Sends every case to staff triage."""

    async def classify(self, messages: Sequence[tuple[str, str]]) -> list[Classification]:
        return [Classification(kinds=frozenset()) for _ in messages]


class SpacyClassifier:
    def __init__(self, nlp: Any, *, threshold: float, confident_at: float, name: str) -> None:
        self._nlp = nlp
        self.threshold = threshold
        self.confident_at = confident_at
        self.name = name

    @classmethod
    def load(
        cls, path: Path = MODEL_DIR, *, threshold: float | None = None, confident_at: float = 0.7
    ) -> SpacyClassifier:
        """Load a trained model; a clear error when it is missing or broken.

        Without `threshold`, the one chosen when the model was trained (0.5 for older models).
        """
        if not (path / "meta.json").is_file():
            raise ConfigError(f"no trained classifier at {path}: run `dsr-bot train`")
        import spacy  # here, not at module level: importing spaCy costs most of a second

        from dsr_bot.nlp import architectures  # noqa: F401 - registers our architecture

        try:
            nlp = spacy.load(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load the classifier at {path}: {exc}") from None
        if "textcat_multilabel" not in nlp.pipe_names:
            raise ConfigError(f"{path} holds no textcat_multilabel model")
        meta = nlp.meta
        name = f"{meta.get('name', 'textcat')}-{meta.get('version', '?')}"
        if threshold is None:
            # Rounded: spaCy's JSON reader gives 0.35 back as 0.35000000000000003.
            threshold = round(float(meta.get("dsr_bot", {}).get("threshold", DEFAULT_THRESHOLD)), 4)
        return cls(nlp, threshold=threshold, confident_at=confident_at, name=name)

    def scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Label scores for texts already prepared and lower-cased (as in training)."""
        return [dict(doc.cats) for doc in self._nlp.pipe(texts, batch_size=128)]

    async def classify(self, messages: Sequence[tuple[str, str]]) -> list[Classification]:
        """In the caller's thread: for tools and tests; the bot uses ClassifierPool."""
        return self.classify_many(messages)

    def classify_many(self, messages: Sequence[tuple[str, str]]) -> list[Classification]:
        texts = [prepare(subject, text).lower() for subject, text in messages]
        out = []
        for text, scores in zip(texts, self.scores(texts), strict=True):
            decision = decide(scores, threshold=self.threshold, confident_at=self.confident_at)
            out.append(
                Classification(
                    kinds=frozenset(RequestKind(label) for label in decision.labels),
                    confidence=round(decision.confidence, 4),
                    model=self.name,
                    scores={label: round(score, 4) for label, score in scores.items()},
                    confident=decision.confident,
                    language=guess_language(text, default=""),
                )
            )
        return out


def language_of(subject: str, text: str, default: str = "nl") -> str:
    """The language to answer in, judged on the new text, not on a quoted earlier message."""
    return guess_language(prepare(subject, text), default)


def answer_language(
    classification: Classification, subject: str, text: str, default: str = "nl"
) -> str:
    """`language_of`, from the classifier's judgement when it made one."""
    if classification.language is None:
        return language_of(subject, text, default)
    return classification.language or default


# --- worker processes --------------------------------------------------------------------------

_worker: SpacyClassifier | None = None


def _exit_with_parent(parent: int) -> None:
    """A worker must not outlive a bot that was killed (kill -9 leaves no time to stop it)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _load_in_worker(path: Path, threshold: float | None, confident_at: float) -> None:
    global _worker
    # Ctrl-C reaches the whole process group; the bot stops its workers itself, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True
    ).start()
    _worker = SpacyClassifier.load(path, threshold=threshold, confident_at=confident_at)


def _classify_in_worker(messages: Sequence[tuple[str, str]]) -> list[Classification]:
    assert _worker is not None, "worker started without its model"  # noqa: S101 - type narrowing only
    return _worker.classify_many(messages)


def _name_in_worker() -> tuple[str, float]:
    assert _worker is not None  # noqa: S101 - type narrowing only
    return _worker.name, _worker.threshold


class ClassifierPool:
    """The model in `workers` spawned processes; a crashed worker is replaced once per call."""

    def __init__(
        self, path: Path, *, threshold: float | None, confident_at: float, workers: int = 1
    ) -> None:
        self._args = (path, threshold, confident_at)
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self.name = "?"
        self.threshold = threshold or DEFAULT_THRESHOLD  # the model's own, once started

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the bot has threads (the IMAP watchers) that fork would copy mid-step.
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load_in_worker,
            initargs=self._args,
        )

    async def start(self) -> None:
        """Start the workers and wait until the model is loaded: errors show at start-up."""
        path = self._args[0]
        if not (path / "meta.json").is_file():
            raise ConfigError(f"no trained classifier at {path}: run `dsr-bot train`")
        self._pool = self._new_pool()
        try:
            self.name, self.threshold = await asyncio.get_running_loop().run_in_executor(
                self._pool, _name_in_worker
            )
        except BrokenProcessPool:
            await self.close()
            raise ConfigError(f"cannot load the classifier at {path} in a worker") from None

    async def classify(self, messages: Sequence[tuple[str, str]]) -> list[Classification]:
        if self._pool is None:
            raise RuntimeError("ClassifierPool.start() was not awaited")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, _classify_in_worker, list(messages))
        except BrokenProcessPool:
            log.warning("a classifier worker died; starting a new one")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return await loop.run_in_executor(self._pool, _classify_in_worker, list(messages))

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
