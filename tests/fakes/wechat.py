"""A loopback WeChat: the Official Account API the channel calls, and the
WeChat server's side of the webhook (signed, optionally sealed, messages).

`FakeWeChat` serves the documented endpoints the channel uses:
`GET /cgi-bin/token` (client_credential), `POST /cgi-bin/message/custom/send`
(客服消息) and the pictures a message's PicUrl points at. It records what it
was sent, and can be told to expire its tokens (40001/42001), to refuse a
follower with 45015 (the 48-hour window), or to answer slowly.

`WeChatServer` builds what WeChat POSTs to the channel, signed with
wechatpy's signer and, in safe mode, sealed with wechatpy's `WeChatCrypto`,
and opens the channel's answers; tests and `bench/_wechat_load.py` use it.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from scripts.stack import LOOPBACK, free_port

# The official documentation's example account (消息加解密 sample code).
APP_ID = "wx5823bf96d3bd56c7"
TOKEN = "QDG6eK"
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
APP_SECRET = "fake-wechat-app-secret"
ACCOUNT = "gh_fake_account"
TOKEN_LIFETIME_SECONDS = 7200


def sign(token: str, *parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(token, *parts)
    return signer.signature


@dataclass
class WeChatServer:
    """What WeChat's servers send to the channel's webhook."""

    token: str = TOKEN
    app_id: str = APP_ID
    encoding_aes_key: str = ENCODING_AES_KEY
    account: str = ACCOUNT
    _ids: itertools.count = field(default_factory=lambda: itertools.count(int(time.time() * 1000)))

    def message(self, openid: str, msg_type: str, **fields: Any) -> dict[str, Any]:
        """A message's fields as WeChat sends them, with a fresh MsgId."""
        return {
            "ToUserName": self.account,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": msg_type,
            **fields,
            **({"MsgId": next(self._ids)} if msg_type != "event" else {}),
        }

    def text(self, openid: str, content: str) -> dict[str, Any]:
        return self.message(openid, "text", Content=content)

    @staticmethod
    def xml(fields: dict[str, Any]) -> str:
        return xmltodict.unparse({"xml": fields}, full_document=False)

    def request(
        self, fields: dict[str, Any] | str, *, safe: bool, timestamp: int | None = None
    ) -> tuple[str, bytes]:
        """The query string and body of WeChat's POST for a message."""
        xml = fields if isinstance(fields, str) else self.xml(fields)
        timestamp_text, nonce = str(timestamp or int(time.time())), secrets.token_hex(5)
        query = {
            "signature": sign(self.token, timestamp_text, nonce),
            "timestamp": timestamp_text,
            "nonce": nonce,
            "openid": fields.get("FromUserName", "") if isinstance(fields, dict) else "",
        }
        if not safe:
            return urlencode(query), xml.encode()
        envelope = xmltodict.parse(self.crypto().encrypt_message(xml, nonce, timestamp_text))
        encrypted = envelope["xml"]["Encrypt"]
        query |= {
            "encrypt_type": "aes",
            "msg_signature": sign(self.token, timestamp_text, nonce, encrypted),
        }
        body = self.xml({"ToUserName": self.account, "Encrypt": encrypted})
        return urlencode(query), body.encode()

    def verification(self, echostr: str) -> str:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        return urlencode(
            {
                "signature": sign(self.token, timestamp, nonce),
                "timestamp": timestamp,
                "nonce": nonce,
                "echostr": echostr,
            }
        )

    def open_reply(self, body: str, *, safe: bool) -> dict[str, Any] | None:
        """The channel's passive reply as its fields, or None for `success`."""
        if body in ("", "success"):
            return None
        reply = xmltodict.parse(body)["xml"]
        if safe:
            signature = sign(self.token, reply["TimeStamp"], reply["Nonce"], reply["Encrypt"])
            assert signature == reply["MsgSignature"], "the reply's MsgSignature is wrong"
            reply = xmltodict.parse(
                self.crypto().decrypt_message(body, signature, reply["TimeStamp"], reply["Nonce"])
            )["xml"]
        return reply

    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.encoding_aes_key, self.app_id)


class WeChatWebhook:
    """WeChat's servers POSTing one follower's messages to a channel's webhook
    (`.../webhooks/wechat/webhook`)."""

    def __init__(
        self, url: str, http: aiohttp.ClientSession, openid: str, server: WeChatServer | None = None
    ) -> None:
        self.url, self.http, self.openid = url, http, openid
        self.server = server or WeChatServer()

    async def post(self, query: str, body: bytes) -> tuple[int, str]:
        async with self.http.post(f"{self.url}?{query}", data=body) as response:
            return response.status, await response.text()

    async def send(
        self, fields: dict[str, Any], *, safe: bool = False
    ) -> tuple[int, dict[str, Any] | None]:
        """The status and the opened passive reply (None for `success`)."""
        status, body = await self.post(*self.server.request(fields, safe=safe))
        return status, self.server.open_reply(body, safe=safe) if status == 200 else None


class FakeWeChat:
    """WeChat's Official Account API on loopback."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.server = WeChatServer()
        self.environment = {
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_APP_ID": APP_ID,
            "WECHAT_APP_SECRET": APP_SECRET,
            "WECHAT_ENCODING_AES_KEY": ENCODING_AES_KEY,
            "WECHAT_API_BASE_URL": self.url,
            # The session stack's channel is in safe mode and takes
            # plaintext too, so both modes run against one Rasa.
            "WECHAT_ACCEPT_PLAINTEXT": "true",
        }
        self.token_requests = 0
        self.sent: list[dict[str, Any]] = []
        self.delay = 0.0
        self._tokens: dict[str, int] = {}  # token -> errcode it now gets (0: valid)
        self._new_token_errcode = 0
        self._refused: dict[str, int] = {}
        self._pictures: dict[str, tuple[bytes, str]] = {}
        self._sent_event = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom_send)
        app.router.add_get("/pictures/{name}", self._picture)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, LOOPBACK, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # What tests tell the fake.
    async def expire_tokens(self, errcode: int = 42001, *, new_ones_too: bool = False) -> None:
        """Every token issued so far (and, if told, every later one) is now
        refused with `errcode`."""
        self._tokens = dict.fromkeys(self._tokens, errcode)
        self._new_token_errcode = errcode if new_ones_too else 0

    async def refuse(self, openid: str, errcode: int = 45015) -> None:
        self._refused[openid] = errcode

    async def accept(self, openid: str) -> None:
        self._refused.pop(openid, None)

    async def set_delay(self, seconds: float) -> None:
        self.delay = seconds

    async def add_picture(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Serves a picture; returns its URL, for a message's PicUrl."""
        self._pictures[name] = (data, content_type)
        return f"{self.url}/pictures/{name}"

    async def texts_to(self, openid: str) -> list[str]:
        return [m["text"]["content"] for m in self.sent if m["touser"] == openid]

    async def wait_for_text(self, openid: str, containing: str, timeout: float = 30) -> str:
        """The first text sent to `openid` containing `containing`."""

        async def find() -> str:
            while True:
                for text in await self.texts_to(openid):
                    if containing in text:
                        return text
                self._sent_event.clear()
                await self._sent_event.wait()

        try:
            return await asyncio.wait_for(find(), timeout)
        except TimeoutError:
            sent = await self.texts_to(openid)
            raise AssertionError(f"No text to {openid} with {containing!r}; sent: {sent}") from None

    # The endpoints.
    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        await asyncio.sleep(self.delay)
        query = request.query
        if query.get("grant_type") != "client_credential" or query.get("appid") != APP_ID:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        if query.get("secret") != APP_SECRET:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        token = base64.urlsafe_b64encode(secrets.token_bytes(24)).decode()
        self._tokens[token] = self._new_token_errcode
        return web.json_response({"access_token": token, "expires_in": TOKEN_LIFETIME_SECONDS})

    async def _custom_send(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        errcode = self._tokens.get(request.query.get("access_token", ""), 40001)
        if errcode:
            return web.json_response({"errcode": errcode, "errmsg": "access_token invalid"})
        message = await request.json()
        if not isinstance(message.get("touser"), str) or message.get("msgtype") != "text":
            return web.json_response({"errcode": 40008, "errmsg": "invalid message type"})
        if not (message.get("text") or {}).get("content"):
            return web.json_response({"errcode": 44004, "errmsg": "empty content"})
        if errcode := self._refused.get(message["touser"], 0):
            return web.json_response({"errcode": errcode, "errmsg": "response out of time limit"})
        self.sent.append(message)
        self._sent_event.set()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _picture(self, request: web.Request) -> web.Response:
        picture = self._pictures.get(request.match_info["name"])
        if picture is None:
            raise web.HTTPNotFound()
        return web.Response(body=picture[0], content_type=picture[1])
