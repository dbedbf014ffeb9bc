"""The HTTP side: parameter decoding, routing, the Starlette app and the process entry point."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers.bot_api.api import HOST, ApiError, ControlError, JSONDict, bad_request
from tests.servers.bot_api.controls import State
from tests.servers.bot_api.files import Upload

# How form values are typed: PTB sends strings as-is and everything else JSON-encoded.
_JSON_PARAMS = frozenset(
    "reply_markup reply_parameters allowed_updates entities caption_entities commands scope"
    " link_preview_options".split()
)
_INT_PARAMS = frozenset(
    "message_id offset limit timeout reply_to_message_id message_thread_id cache_time".split()
)
_BOOL_PARAMS = frozenset(
    "disable_notification protect_content show_alert drop_pending_updates has_spoiler"
    " allow_sending_without_reply disable_web_page_preview disable_content_type_detection"
    " show_caption_above_media".split()
)


def _coerce(name: str, value: Any) -> Any:
    """Types a parameter the way the API does, whichever encoding it came in."""
    if not isinstance(value, str):
        return value
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            if name == "reply_markup":
                raise bad_request("can't parse reply keyboard markup JSON object") from None
            raise bad_request(f"can't parse {name} JSON object") from None
    if name in ("chat_id", "from_chat_id"):
        return int(value) if re.fullmatch(r"-?\d+", value) else value
    if name in _INT_PARAMS:
        try:
            return int(float(value))
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None
    if name in _BOOL_PARAMS:
        return value.lower() in ("true", "1")
    return value


async def _read_params(request: Request) -> JSONDict:
    raw: JSONDict = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                raise bad_request("can't parse JSON encoded request") from None
            if not isinstance(data, dict):
                raise bad_request("JSON request must be an Object")
            raw.update(data)
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        async with request.form() as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    raw[key] = Upload(
                        value.filename or key,
                        value.content_type or "application/octet-stream",
                        await value.read(),
                    )
                else:
                    raw[key] = value
    return {key: _coerce(key, value) for key, value in raw.items()}


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def build_app(token: str) -> Starlette:
    state = State(token)
    canonical = {name.lower(): name for name in [*state.methods, "getUpdates"]}
    controls: dict[str, Callable[[JSONDict], Awaitable[Any]]] = {
        name.removeprefix("c_"): getattr(state, name)
        for name in dir(state)
        if name.startswith("c_")
    }

    async def bot_method(request: Request) -> Response:
        name = request.path_params["method"]
        method = canonical.get(name.lower(), name)
        params: JSONDict = {}

        def abandoned() -> Response:
            # A long poll its client gave up (a bot stopping): nobody reads the answer.
            state.record(method, 499, params, "client closed the request")
            return Response(status_code=499)

        try:
            if request.path_params["token"] != state.token:
                raise ApiError(401, "Unauthorized")
            if method not in canonical.values():
                raise ApiError(404, "Not Found")
            params = await _read_params(request)
            if fault := state.take_fault(method):
                raise fault
            if method == "getUpdates":
                result = await state.get_updates(params, request.is_disconnected)
            else:
                result = await state.methods[method](params)
        except ApiError as exc:
            if method == "getUpdates" and await request.is_disconnected():
                return abandoned()
            state.record(method, exc.status, params, exc.description)
            return _error(exc)
        if method == "getUpdates" and await request.is_disconnected():
            return abandoned()
        state.record(method, 200, params, None)
        return JSONResponse({"ok": True, "result": result})

    async def download(request: Request) -> Response:
        try:
            if request.path_params["token"] != state.token:
                raise ApiError(401, "Unauthorized")
            if fault := state.take_fault("download"):
                raise fault
            file_id = state.paths.get(request.path_params["file_path"])
            if file_id is None:
                raise ApiError(404, "Not Found")
        except ApiError as exc:
            state.record("download", exc.status, {}, exc.description)
            return _error(exc)
        stored = state.files[file_id]
        state.record("download", 200, {"file_path": stored.file_path}, None)
        return Response(stored.data, media_type="application/octet-stream")

    async def control(request: Request) -> Response:
        handler = controls.get(request.path_params["action"])
        if handler is None:
            return JSONResponse({"error": "no such control"}, status_code=404)
        body = await request.body()
        try:
            return JSONResponse({"result": await handler(json.loads(body) if body else {})})
        except (ControlError, KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=400)

    async def health(request: Request) -> Response:
        return JSONResponse({"result": {"pid": os.getpid()}})

    return Starlette(
        routes=[
            Route("/bot{token}/{method}", bot_method, methods=["GET", "POST"]),
            Route("/file/bot{token}/{file_path:path}", download, methods=["GET"]),
            Route("/_stub/health", health, methods=["GET"]),
            Route("/_stub/{action}", control, methods=["POST"]),
        ]
    )


def _exit_with(parent: int) -> None:
    """Stop when the test process that started us is gone, even if it was SIGKILLed."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for the Telegram Bot API")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        threading.Thread(target=_exit_with, args=(args.parent_pid,), daemon=True).start()
    config = uvicorn.Config(
        build_app(args.token),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,  # request paths carry the token
        lifespan="off",
        timeout_graceful_shutdown=1,  # long polls would hold the shutdown for their timeout
    )
    uvicorn.Server(config).run()
