"""Fixtures for the channel tests: the local stand-in for the Telegram Bot API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.bot_api import BotApiStub


@pytest.fixture(scope="module")
def bot_api_server() -> Iterator[BotApiStub]:
    """One Bot API stand-in process per test module, stopped by its pid afterwards."""
    with BotApiStub() as stub:
        yield stub


@pytest.fixture
def bot_api(bot_api_server: BotApiStub) -> BotApiStub:
    """The module's stand-in, emptied for this test (update_ids keep increasing)."""
    bot_api_server.reset()
    return bot_api_server
