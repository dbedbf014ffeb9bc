"""The Telegram Bot API answers 5xx to every call for a while (the local stand-in): the bot keeps
retrying, and once the API is back every person's message is answered, once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest

from dsr_bot.domain.cases import RequestKind
from tests.conftest import FixedClassifier, make_settings, running_bot
from tests.faults import SOAK, SOAK_TIMEOUT, report
from tests.servers.bot_api import BotApiStub

OUTAGE_SECONDS = 120.0 if SOAK else 4.0
PEOPLE = 30 if SOAK else 5
FIRST_CHAT = 7001
STAFF_CHAT = -100777
ACCESS = "Goedendag, ik wil graag weten welke persoonsgegevens u van mij bewaart."
QUESTION = "Wilt u weten welke gegevens wij van u hebben (inzage)?"
ARM = 50  # faults armed at a time


class Outage:
    """Every Bot API call answers 502 from start() until stop(). The stand-in's faults are
    counted, so a thread keeps enough of them armed; stop() uses up the rest itself."""

    def __init__(self, stub: BotApiStub) -> None:
        self.stub = stub
        self.armed = 0
        self.bot_calls_failed = 0  # by the bot, before stop() used up the rest
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep_armed, daemon=True)

    def failed(self) -> int:
        return sum(1 for r in self.stub.requests() if r["status"] == 502)

    def _arm(self) -> None:
        self.stub.fail("*", 502, count=ARM)
        self.armed += ARM

    def _keep_armed(self) -> None:
        while not self._stop.wait(0.2):
            if self.armed - self.failed() < ARM // 2:
                self._arm()

    def start(self) -> None:
        self._arm()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.bot_calls_failed = self.failed()
        url = f"{self.stub.base_url}/bot{self.stub.token}/getMe"
        with httpx.Client(trust_env=False, timeout=10) as client:
            for _ in range(self.armed + 1):
                if client.post(url).status_code == 200:
                    return
        raise AssertionError("the stand-in still answers 502")


@pytest.mark.timeout(SOAK_TIMEOUT if SOAK else 180)
async def test_bot_api_answering_5xx_is_retried_and_nothing_is_lost(
    bot_api: BotApiStub, tmp_path: Path
) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/dsr-bot.db",
        tmp_path,
        telegram={
            "token": bot_api.token,
            "api_url": bot_api.base_url,
            "staff_chat_id": STAFF_CHAT,
            "poll_timeout_seconds": 1,
        },
        mail={"retry_max_seconds": 30.0 if SOAK else 2.0, "max_attempts": 1000},
    )
    chats = [FIRST_CHAT + i for i in range(PEOPLE)]
    outage = Outage(bot_api)
    async with running_bot(settings, classifier=FixedClassifier(RequestKind.ACCESS)):
        await bot_api.wait_polling_async(within=60)
        # Half write before the outage and are answered; the others write during it.
        for chat in chats[: PEOPLE // 2]:
            bot_api.send_text(chat, chat, ACCESS)
        await bot_api.wait_sent_async(PEOPLE // 2, within=60)
        await asyncio.to_thread(outage.start)
        began = time.monotonic()
        for chat in chats[PEOPLE // 2 :]:
            bot_api.send_text(chat, chat, ACCESS)
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - began)))
        await asyncio.to_thread(outage.stop)
        up = time.monotonic()
        await bot_api.wait_sent_async(PEOPLE, within=300)
        recovery = time.monotonic() - up
        await bot_api.wait_confirmed_async(within=120)
        await asyncio.sleep(1.0)  # anything sent twice would be there by now
        answered = {chat: bot_api.sent(chat) for chat in chats}

    report(
        "Telegram Bot API answering 502",
        [
            f"outage {OUTAGE_SECONDS:.0f} s, every call answered 502 ({outage.bot_calls_failed} "
            f"of the bot's calls failed); {PEOPLE - PEOPLE // 2} of {PEOPLE} people wrote "
            "during it",
            f"answered {sum(1 for s in answered.values() if s)} of {PEOPLE}, messages sent "
            f"{sum(len(s) for s in answered.values())}",
            f"recovery (API back to every person answered) {recovery:.1f} s",
        ],
    )
    for chat, sent in answered.items():
        assert [m["text"] for m in sent] == [QUESTION], chat
    assert outage.bot_calls_failed > 0
