"""The Telegram Bot API methods the channel uses, over one aiohttp session.

Every method is `POST {api_url}/bot{token}/{method}` with a JSON body and
answers `{"ok": true, "result": ...}` or `{"ok": false, "error_code",
"description", "parameters"}`; files are fetched from
`{api_url}/file/bot{token}/{file_path}`.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from addons.channels.http import LoopBoundSession

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
# The Bot API serves bots files of at most 20 MB.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=30, connect=5)


class BotApiError(Exception):
    """Telegram answered `ok: false`; `error_code` is its HTTP-like code."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        super().__init__(f"{error_code}: {description}")


class BotApiUnavailable(Exception):
    """Telegram could not be reached, or answered something that is not the Bot API."""


class BotApi:
    def __init__(self, *, token: str, api_url: str = DEFAULT_API_URL) -> None:
        self._token = token
        self._api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self._http = LoopBoundSession(timeout=TIMEOUT)

    async def call(self, method: str, **params: Any) -> Any:
        """The method's `result`; parameters that are None are left out."""
        body = {key: value for key, value in params.items() if value is not None}
        url = f"{self._api_url}/bot{self._token}/{method}"
        try:
            async with self._http.get().post(url, json=body) as response:
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            logger.warning("Telegram %s failed: %s", method, error)
            raise BotApiUnavailable(f"Telegram could not be reached ({error}).") from error
        if not isinstance(answer, dict) or "ok" not in answer:
            raise BotApiUnavailable("Telegram answered something that is not the Bot API.")
        if not answer["ok"]:
            parameters = answer.get("parameters") or {}
            raise BotApiError(
                int(answer.get("error_code") or 0),
                str(answer.get("description") or ""),
                retry_after=parameters.get("retry_after"),
            )
        return answer.get("result")

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        reply_markup: dict[str, Any] | None = None,
        parse_mode: str | None = None,
    ) -> dict[str, Any]:
        return await self.call(
            "sendMessage",
            chat_id=chat_id,
            text=text,
            reply_markup=reply_markup,
            parse_mode=parse_mode,
        )

    async def answer_callback_query(self, callback_query_id: str, text: str | None = None) -> None:
        await self.call("answerCallbackQuery", callback_query_id=callback_query_id, text=text)

    async def edit_message_reply_markup(
        self, chat_id: int, message_id: int, reply_markup: dict[str, Any] | None
    ) -> None:
        await self.call(
            "editMessageReplyMarkup",
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=reply_markup,
        )

    async def send_chat_action(self, chat_id: int, action: str = "typing") -> None:
        await self.call("sendChatAction", chat_id=chat_id, action=action)

    async def download(self, file_id: str, limit: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """The file's bytes (getFile, then the file URL), at most `limit` of them."""
        file = await self.call("getFile", file_id=file_id)
        path = (file or {}).get("file_path")
        if not path:
            raise BotApiUnavailable("Telegram gave no path for the file.")
        if int(file.get("file_size") or 0) > limit:
            raise BotApiError(400, f"file is larger than {limit} bytes")
        url = f"{self._api_url}/file/bot{self._token}/{path}"
        try:
            async with self._http.get().get(url) as response:
                if response.status != 200:
                    raise BotApiError(response.status, "file download refused")
                chunks, size = [], 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise BotApiError(400, f"file is larger than {limit} bytes")
                    chunks.append(chunk)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise BotApiUnavailable(f"Telegram could not be reached ({error}).") from error
        return b"".join(chunks)

    async def close(self) -> None:
        await self._http.close()


def explain(error: BotApiError | BotApiUnavailable) -> str:
    """What a failed send means, in words an agent can act on."""
    if isinstance(error, BotApiUnavailable):
        return "Telegram could not be reached, so the message was not sent; try again shortly."
    description = error.description.lower()
    if error.error_code == 403:
        return (
            "The customer has blocked the bot on Telegram (or left it), so they cannot "
            "receive messages until they write to the bot again."
        )
    if error.error_code == 400 and "chat not found" in description:
        return "Telegram no longer knows this chat; the customer has to write to the bot again."
    if error.error_code == 429:
        return (
            "Telegram is limiting how fast the bot may send; "
            f"try again in {error.retry_after or 'a few'} seconds."
        )
    return f"Telegram refused the message: {error.description or error.error_code}."
