"""A loopback Telegram Bot API: the methods our channel calls, answered as
Telegram documents them (`{"ok": true, "result": ...}` or `{"ok": false,
"error_code", "description"}`), file downloads, and updates built as
Telegram would POST them to a bot's webhook. It records every call and can
be told to fail a method, e.g. 403 "bot was blocked by the user"."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from scripts.stack import LOOPBACK

BLOCKED = (403, "Forbidden: bot was blocked by the user")


@dataclass
class Failure:
    method: str
    error_code: int
    description: str
    chat_id: int | None
    times: int | None  # None: until cleared


class FakeTelegram:
    BOT_USERNAME = "cloudpick_test_bot"

    def __init__(self) -> None:
        self.token = f"{secrets.randbelow(10**9)}:{secrets.token_urlsafe(24)}"
        self.webhook_secret = secrets.token_urlsafe(32)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.failures: list[Failure] = []
        self.environment: dict[str, str] = {}
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{LOOPBACK}:{port}"
        self.environment = {
            "TELEGRAM_API_URL": self.url,
            "TELEGRAM_ACCESS_TOKEN": self.token,
            "TELEGRAM_VERIFY": self.BOT_USERNAME,
            "TELEGRAM_WEBHOOK_SECRET": self.webhook_secret,
        }

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests tell it --------------------------------------------------

    async def fail(
        self,
        method: str,
        error: tuple[int, str] = BLOCKED,
        *,
        chat_id: int | None = None,
        times: int | None = None,
    ) -> None:
        self.failures.append(Failure(method, error[0], error[1], chat_id, times))

    async def clear_failures(self) -> None:
        self.failures.clear()

    async def add_file(self, data: bytes, path: str) -> str:
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = (path, data)
        return file_id

    # --- what tests read -----------------------------------------------------

    def sent(self, chat_id: int, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [
            params
            for name, params in list(self.calls)
            if name == method and params.get("chat_id") == chat_id
        ]

    def called(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in list(self.calls) if name == method]

    async def wait_for_message(
        self, chat_id: int, containing: str = "", *, after: int = 0, timeout: float = 30
    ) -> dict[str, Any]:
        """The first message to the chat (from index `after`) whose text holds `containing`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.sent(chat_id)[after:]:
                if containing in message.get("text", ""):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"No message with {containing!r} to {chat_id}; sent: {self.sent(chat_id)[after:]}"
        )

    # --- updates, as Telegram POSTs them -------------------------------------

    @staticmethod
    def user(
        user_id: int, first_name: str = "Lei", last_name: str = "Li", language_code: str = "zh-hans"
    ) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "last_name": last_name,
            "language_code": language_code,
        }

    def message_update(
        self, user: dict[str, Any], text: str | None = None, *, edited: bool = False, **fields: Any
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "from": user,
            **fields,
        }
        if text is not None:
            message["text"] = text
        if edited:
            message["edit_date"] = int(time.time())
        return {"update_id": next(self._ids), "edited_message" if edited else "message": message}

    def press_update(
        self, user: dict[str, Any], sent: dict[str, Any], title: str
    ) -> dict[str, Any]:
        """The customer presses the button titled `title` on a message the bot sent."""
        keyboard = sent["reply_markup"]
        data = next(
            button["callback_data"]
            for row in keyboard["inline_keyboard"]
            for button in row
            if button["text"] == title
        )
        message = {
            "message_id": sent["message_id"],
            "date": int(time.time()),
            "chat": {"id": user["id"], "type": "private"},
            "from": {"id": 1, "is_bot": True, "first_name": "bot"},
            "text": sent["text"],
            "reply_markup": keyboard,
        }
        return {
            "update_id": next(self._ids),
            "callback_query": {
                "id": str(next(self._ids)),
                "from": user,
                "message": message,
                "chat_instance": "1",
                "data": data,
            },
        }

    # --- the Bot API ---------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        try:
            params = await request.json()
        except ValueError:
            params = dict(await request.post())
        self.calls.append((method, params))
        failure = self._failure(method, params.get("chat_id"))
        if failure:
            return _error(failure.error_code, failure.description)
        match method:
            case "sendMessage":
                if not params.get("text"):
                    return _error(400, "Bad Request: message text is empty")
                sent = {
                    "message_id": next(self._ids),
                    "date": int(time.time()),
                    "chat": {"id": params["chat_id"], "type": "private"},
                    "text": params["text"],
                }
                if "reply_markup" in params:
                    sent["reply_markup"] = params["reply_markup"]
                params["message_id"] = sent["message_id"]
                return _ok(sent)
            case "getFile":
                file_id = params.get("file_id")
                if file_id not in self.files:
                    return _error(400, "Bad Request: invalid file_id")
                path, data = self.files[file_id]
                return _ok({"file_id": file_id, "file_size": len(data), "file_path": path})
            case "answerCallbackQuery" | "editMessageReplyMarkup" | "sendChatAction":
                return _ok(True)
        return _error(404, "Not Found")

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for stored_path, data in self.files.values():
            if stored_path == path:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    def _failure(self, method: str, chat_id: Any) -> Failure | None:
        for failure in self.failures:
            if failure.method == method and failure.chat_id in (None, chat_id):
                if failure.times is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        self.failures.remove(failure)
                return failure
        return None


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=code
    )
