"""The classifier in worker processes: same answers as in-process, and a dead worker is replaced."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from dsr_bot.errors import ConfigError
from dsr_bot.nlp.classifier import MODEL_DIR, ClassifierPool
from tests.conftest import trained_classifier

MESSAGES = [
    ("Inzage", "Ik wil weten welke gegevens u van mij heeft."),
    ("", "Please remove me from your newsletter."),
    ("Vraag", "Wanneer start de volgende cursus?"),
]


async def test_the_pool_answers_as_the_model_does_and_survives_a_killed_worker() -> None:
    pool = ClassifierPool(MODEL_DIR, threshold=None, confident_at=0.7, workers=1)
    await pool.start()
    try:
        model = trained_classifier(MODEL_DIR)
        expected = model.classify_many(MESSAGES)
        assert await pool.classify(MESSAGES) == expected
        assert pool.name == expected[0].model
        assert pool.threshold == model.threshold  # the one saved with the model

        workers = list(pool._pool._processes) if pool._pool else []
        assert workers
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        assert await pool.classify(MESSAGES) == expected  # a new worker took over
    finally:
        await pool.close()


async def test_a_missing_model_fails_at_start(tmp_path: Path) -> None:
    pool = ClassifierPool(tmp_path, threshold=0.5, confident_at=0.7)
    with pytest.raises(ConfigError, match="dsr-bot train"):
        await pool.start()


async def test_a_broken_model_fails_at_start_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text("{}")
    pool = ClassifierPool(tmp_path, threshold=0.5, confident_at=0.7)
    with pytest.raises(ConfigError, match="cannot load the classifier"):
        await pool.start()
