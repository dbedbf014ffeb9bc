"""Starting, checking and stopping the stand-in process, and the control calls to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx

from tests.servers.bot_api.api import BOT_USERNAME, DEFAULT_TOKEN, HOST, StubError, bot_user

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class StubProcess:
    """The stand-in as a subprocess: start, stop, the URLs a bot needs, the control calls."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, port: int | None = None) -> None:
        self.token = token
        # Chosen once, so stop() + start() comes back on the same port.
        self.port = port if port is not None else free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._http: httpx.Client | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        """For ``telegram.Bot(token, base_url=stub.api_url)``; PTB appends the token."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """For ``telegram.Bot(token, base_file_url=stub.file_url)``."""
        return f"{self.base_url}/file/bot"

    @property
    def bot_id(self) -> int:
        return int(bot_user(self.token)["id"])

    @property
    def bot_username(self) -> str:
        return BOT_USERNAME

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        if self.pid is not None:
            return
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.servers.bot_api",
                *("--port", str(self.port), "--token", self.token),
                *("--parent-pid", str(os.getpid())),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": python_path},
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        self._proc = proc
        self._http = httpx.Client(base_url=self.base_url, timeout=10.0, trust_env=False)
        deadline = time.monotonic() + timeout
        while not self._answers(proc.pid):
            if proc.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.stop()
                raise RuntimeError(
                    f"the Bot API stub did not come up on {self.base_url}:\n{output}"
                )
            time.sleep(0.02)

    def _answers(self, pid: int) -> bool:
        assert self._http is not None
        try:
            answer = self._http.get("/_stub/health", timeout=1.0).json()
        except (httpx.TransportError, ValueError):
            return False
        # Someone else's server on a reused port would answer otherwise.
        return isinstance(answer, dict) and answer.get("result") == {"pid": pid}

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def output(self) -> str:
        """What the stub process printed (uvicorn warnings, tracebacks)."""
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read()[-4000:].decode(errors="replace")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- transport ----------------------------------------------------------------------------

    def _call(self, action: str, http_timeout: float = 10.0, **body: Any) -> Any:
        if self._http is None:
            raise StubError("the Bot API stub is not running; call start() first")
        response = self._http.post(f"/_stub/{action}", json=body, timeout=http_timeout)
        return self._result(response)

    async def _call_async(self, action: str, http_timeout: float, **body: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.base_url, trust_env=False) as client:
            response = await client.post(f"/_stub/{action}", json=body, timeout=http_timeout)
        return self._result(response)

    @staticmethod
    def _result(response: httpx.Response) -> Any:
        data = response.json()
        if response.status_code != 200:
            raise StubError(data.get("error", response.text))
        return data["result"]
