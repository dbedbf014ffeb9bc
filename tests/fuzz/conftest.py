"""Hypothesis profiles for the MIME fuzzer, and a database the pipeline fuzz test keeps using.

HYPOTHESIS_PROFILE picks the profile: "ci" (the default, what `make test` runs: a fixed seed, so
every run tries the same cases) or "fuzz" (`make fuzz`: twenty times as many, new ones each run).
The profile is applied to the fuzz tests only, never loaded globally, so the other property tests
keep their own settings.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dsr_bot.domain.cases import RequestKind
from dsr_bot.nlp.classifier import Classification
from dsr_bot.replies import Replies
from dsr_bot.services.pipeline import Pipeline
from dsr_bot.store import migrate
from dsr_bot.store.engine import create_engine
from tests.conftest import _postgres_database, make_settings

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
T = TypeVar("T")

# Generation, not the code under test, is most of the time per case; none is "too slow".
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
settings.register_profile(
    "ci",
    max_examples=10_000,
    deadline=None,
    derandomize=True,  # reproducible in CI: a failure shows up again on every run
    database=None,
    suppress_health_check=_SLOW,
    print_blob=True,
)
settings.register_profile(
    "fuzz",
    max_examples=200_000,
    deadline=None,
    derandomize=False,  # new cases every run; failures are saved in .hypothesis/ and replayed
    suppress_health_check=_SLOW,
    print_blob=True,
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FUZZ = PROFILE == "fuzz"
PARSE_SETTINGS = settings(settings.get_profile(PROFILE))
# A pipeline case is a batch written to a database: some fifty times the cost of a parse.
PIPELINE_SETTINGS = settings(PARSE_SETTINGS, max_examples=5_000 if FUZZ else 300)
# pytest-timeout's 120 s is for ordinary tests; `make fuzz` runs as long as it takes.
TIMEOUT = pytest.mark.timeout(0 if FUZZ else 900)


class VariedClassifier:
    """Picks kinds from the text's length, so fuzzed cases reach every kind's path (the
    complaint draft, checklists, identity questions) without loading the model."""

    async def classify(self, messages: Sequence[tuple[str, str]]) -> list[Classification]:
        kinds = list(RequestKind)
        out = []
        for subject, text in messages:
            size = len(subject) + len(text)
            chosen = frozenset({kinds[size % len(kinds)], kinds[size // 7 % len(kinds)]})
            out.append(
                Classification(
                    kinds=chosen if size % 5 else frozenset(),
                    confidence=0.9,
                    model="fuzz",
                    scores={k.value: 0.9 for k in chosen},
                    confident=size % 3 != 0,
                )
            )
        return out


@dataclass
class Harness:
    """One database and pipeline for all cases of a test run, driven from a synchronous test
    (hypothesis calls the test once per case; an event loop per case would dominate the time)."""

    runner: asyncio.Runner
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    pipeline: Pipeline
    ids: Iterator[int]

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def harness(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    tmp_path: Path = tmp_path_factory.mktemp("fuzz")
    urls = (
        iter([f"sqlite+aiosqlite:///{tmp_path}/dsr-bot.db"])
        if request.param == "sqlite"
        else _postgres_database(request)
    )
    url = next(urls)
    with asyncio.Runner() as runner:
        engine = create_engine(url)
        try:
            runner.run(migrate.upgrade(engine))
            pipeline = Pipeline(
                sessions=async_sessionmaker(engine, expire_on_commit=False),
                settings=make_settings(url, tmp_path),
                classifier=VariedClassifier(),
                replies=Replies(),
                clock=lambda: NOW,
            )
            yield Harness(
                runner,
                engine,
                async_sessionmaker(engine, expire_on_commit=False),
                pipeline,
                itertools.count(1),
            )
        finally:
            runner.run(engine.dispose())
    for _ in urls:  # drops the PostgreSQL database
        pass
