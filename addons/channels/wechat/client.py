"""The customer-service message API (客服消息) of an Official Account,
with its access token cached and refreshed one request at a time.

wechatpy's `WeChatClient` is built on `requests`, which would block Rasa's
event loop for every call (and for its token refresh), so this client is
its own, on one aiohttp session, and speaks only the endpoints the channel
uses: `/cgi-bin/token`, `/cgi-bin/message/custom/send`, and the download
of a customer's picture (PicUrl).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from addons.channels.http import LoopBoundSession

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.weixin.qq.com"
# WeChat answers within a second or two; a stuck API must not hold the
# delivery of an agent's message (the bridge waits on it) for long.
TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
# Refresh this long before the token expires, so no call carries a token
# that expires on the way.
REFRESH_MARGIN_SECONDS = 300.0
# Codes with which WeChat says the token is no longer valid: invalid
# credential (often a token another server refreshed), expired.
TOKEN_REJECTED = frozenset({40001, 40014, 42001})
# What the agent reads when a message did not reach the customer.
PLAIN_WORDS = {
    45015: (
        "微信：客户超过 48 小时没有发消息，公众号不能再主动回复，需等客户再次发消息。"
        " WeChat: the customer has not written for 48 hours, so the account may not"
        " message them until they write again."
    ),
    45047: (
        "微信：客户未回复前最多可连续发送 20 条消息，请等客户回复。"
        " WeChat: at most 20 messages may be sent before the customer replies."
    ),
    40003: "微信：该用户不存在或未关注本公众号。 WeChat: no such follower of this account.",
    48001: (
        "微信：公众号没有客服消息接口权限，请在公众平台开通。"
        " WeChat: this account has no permission for customer-service messages."
    ),
    40164: (
        "微信：服务器 IP 不在公众号的 IP 白名单中。"
        " WeChat: this server's IP address is not on the account's IP whitelist."
    ),
    45009: "微信：接口调用已达今日上限。 WeChat: the account's daily API quota is used up.",
}


class WeChatAPIError(Exception):
    """WeChat refused a call (`errcode`, `errmsg`), or could not be reached
    (`errcode` None)."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"{errcode}: {errmsg}" if errcode is not None else errmsg)

    @property
    def plain_words(self) -> str:
        """The error as the agent reads it."""
        if self.errcode is None:
            return (
                "微信接口无法访问，消息未送达。"
                f" WeChat could not be reached; not delivered ({self.errmsg})."
            )
        words = PLAIN_WORDS.get(self.errcode)
        if words:
            return words
        return f"微信拒绝了这条消息（{self.errcode}）。 WeChat refused the message: {self}."


@dataclass(frozen=True)
class AccessToken:
    value: str
    refresh_at: float


class CustomerServiceClient:
    """Sends 客服消息 to followers; one instance per Official Account."""

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        api_base_url: str = DEFAULT_API_BASE_URL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app_id = app_id
        self._app_secret = app_secret
        self.api_base_url = (api_base_url or DEFAULT_API_BASE_URL).rstrip("/")
        self._clock = clock
        self._token: AccessToken | None = None
        self._refreshing = asyncio.Lock()
        self._http = LoopBoundSession(timeout=TIMEOUT)

    async def send(self, openid: str, message: dict[str, Any]) -> None:
        """Sends one 客服消息, e.g. `{"msgtype": "text", "text": {"content": ...}}`.

        A token WeChat calls invalid or expired is refreshed and the message
        sent once more; any other refusal raises `WeChatAPIError`.
        """
        body = json.dumps({"touser": openid, **message}, ensure_ascii=False).encode()
        token = await self.access_token()
        try:
            await self._call_with_token(token, body)
        except WeChatAPIError as error:
            if error.errcode not in TOKEN_REJECTED:
                raise
            logger.info("WeChat rejected the access token (%s); refreshing it.", error.errcode)
            await self._call_with_token(await self.access_token(stale=token), body)

    async def send_text(self, openid: str, content: str) -> None:
        await self.send(openid, {"msgtype": "text", "text": {"content": content}})

    async def access_token(self, stale: str | None = None) -> str:
        """The cached token, fetched when missing, due or equal to `stale`
        (one WeChat rejected). Callers waiting meanwhile share the one fetch:
        WeChat invalidates the previous token on each fetch, and limits them
        to 2,000 a day."""
        if (current := self._valid_token(stale)) is not None:
            return current
        async with self._refreshing:
            if (current := self._valid_token(stale)) is not None:
                return current
            self._token = await self._fetch_token()
            return self._token.value

    def _valid_token(self, stale: str | None) -> str | None:
        token = self._token
        if token is None or token.value == stale or self._clock() >= token.refresh_at:
            return None
        return token.value

    async def _fetch_token(self) -> AccessToken:
        params = {
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self._app_secret,
        }
        body = await self._request("GET", "/cgi-bin/token", params=params)
        value, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not isinstance(expires_in, int | float):
            raise WeChatAPIError(None, "WeChat's token answer has no access_token.")
        margin = min(REFRESH_MARGIN_SECONDS, expires_in / 2)
        return AccessToken(value, self._clock() + expires_in - margin)

    async def _call_with_token(self, token: str, body: bytes) -> None:
        await self._request(
            "POST",
            "/cgi-bin/message/custom/send",
            params={"access_token": token},
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self._http.get().request(
                method, f"{self.api_base_url}{path}", **kwargs
            ) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise WeChatAPIError(None, str(error) or type(error).__name__) from error
        if not isinstance(body, dict):
            raise WeChatAPIError(None, f"WeChat answered {status} without a JSON object.")
        if body.get("errcode"):
            raise WeChatAPIError(int(body["errcode"]), str(body.get("errmsg", "")))
        if status >= 400:
            raise WeChatAPIError(None, f"WeChat answered {status}.")
        return body

    async def download(self, url: str, max_bytes: int) -> tuple[bytes, str]:
        """A customer's picture (PicUrl) and its content type, at most `max_bytes`."""
        try:
            async with self._http.get().get(url) as response:
                if response.status >= 400:
                    raise WeChatAPIError(None, f"The picture answered {response.status}.")
                data = await response.content.read(max_bytes + 1)
                content_type = response.content_type
        except (aiohttp.ClientError, TimeoutError) as error:
            raise WeChatAPIError(None, str(error) or type(error).__name__) from error
        if len(data) > max_bytes:
            raise WeChatAPIError(None, f"The picture is larger than {max_bytes} bytes.")
        return data, content_type

    async def close(self) -> None:
        await self._http.close()
