"""One input channel on a real Sanic server on loopback, in the test's own
event loop, with a stand-in for Rasa's agent: every message that reaches it
is recorded, and `answer` (if any) speaks through the message's output
channel as the bot would."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic

from scripts.stack import LOOPBACK, free_port

Answer = Callable[[UserMessage], Awaitable[None]]


class ChannelServer:
    def __init__(self, channel: InputChannel, answer: Answer | None = None) -> None:
        self.channel = channel
        self.answer = answer
        self.received: list[UserMessage] = []
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}/webhooks/{channel.name()}"
        self._server: Any = None

    async def _on_new_message(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.answer:
            await self.answer(message)

    async def __aenter__(self) -> ChannelServer:
        # Sanic 21.12 rewrites its HTTP class on an app's first start; in
        # test mode a second app in the same process starts from the original.
        self._test_mode, Sanic.test_mode = Sanic.test_mode, True
        app = Sanic(f"channel-{uuid.uuid4().hex}")
        app.blueprint(
            self.channel.blueprint(self._on_new_message),
            url_prefix=f"/webhooks/{self.channel.name()}",
        )
        self._server = await app.create_server(
            host=LOOPBACK, port=self.port, return_asyncio_server=True
        )
        await self._server.startup()
        await self._server.start_serving()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()
        Sanic.test_mode = self._test_mode
