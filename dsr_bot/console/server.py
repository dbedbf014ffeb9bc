"""Serving the console with uvicorn inside the bot's event loop.

The socket is bound here, before serving, so a port in use is a clear error at start, and port 0
gets a free port that tests can read. The bot's own signal handlers stay in charge: uvicorn's are
not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn

from dsr_bot.config import ConsoleSettings
from dsr_bot.errors import ConfigError

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the bot handles SIGTERM and SIGINT


class ConsoleServer:
    def __init__(self, app: object, options: ConsoleSettings) -> None:
        self._app = app
        self._options = options
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = options.port

    @property
    def url(self) -> str:
        host = self._options.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def _bind(self) -> socket.socket:
        host = self._options.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, self._options.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"console: cannot listen on {self._options.addr}: {exc.strerror} "
                "(set [console] addr or DSR_BOT_CONSOLE_ADDR, or enabled = false)"
            ) from None
        sock.listen(128)
        sock.setblocking(False)
        return sock

    async def __aenter__(self) -> ConsoleServer:
        sock = self._bind()
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,  # type: ignore[arg-type]
            log_config=None,
            access_log=False,  # paths carry no personal data, but there is no need for them
            lifespan="off",
            proxy_headers=True,
            forwarded_allow_ips=self._options.forwarded_allow_ips,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="console")
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise ConfigError("console: the web server stopped at start")
            await asyncio.sleep(0.01)
        log.info("console on %s", self.url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, timeout=10)
        except TimeoutError:
            self._task.cancel()
