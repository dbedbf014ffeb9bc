"""Fixtures of the fault tests: the servers that fail, each stopped by its pid afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.bot_api import BotApiStub
from tests.servers.postgres import PostgresServer


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this test's own, on a free loopback port: it may be stopped and
    started without touching the machine's server at 5432."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def bot_api() -> Iterator[BotApiStub]:
    with BotApiStub() as stub:
        yield stub
