"""engine.io's websocket transport, working on Sanic 21.12 under Python 3.11.

Why the web widget's websocket upgrade failed ("Invalid frame header" in
browsers, then about 265 polls a second from one idle tab):

- Sanic 21.12 was written for Python 3.10 and earlier. Its
  `WebsocketImplProtocol.recv` passes the coroutine
  `WebsocketFrameAssembler.get()` to `asyncio.wait`, which Python 3.11
  refuses (TypeError; the log says "coroutine 'WebsocketFrameAssembler.get'
  was never awaited"). Every websocket read failed, whatever the
  python-socketio/python-engineio versions: each of them reads through
  `recv`, so pinning older ones would not help.
- engine.io's upgrade handler sets the session "upgrading" and awaits the
  client's probe; the error left it "upgrading" for good, and an upgrading
  session answers each poll at once with a no-op, which the client polls
  again.
- engine.io's Sanic driver then returned an HTTP response, which Sanic
  wrote on the connection that was already a websocket: the browser read
  HTTP text as a websocket frame.

`install(server)` gives one engine.io server a websocket driver that reads
frames through a fixed `get`, caps a frame at the server's
`max_http_buffer_size` before it is assembled (Sanic's default is 16 MiB),
and writes nothing after the websocket ends.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from engineio.async_drivers import sanic as engineio_sanic
from sanic.server.websockets.frame import WebsocketFrameAssembler

_sanic_assembler_get = WebsocketFrameAssembler.get


@functools.wraps(_sanic_assembler_get)
def assembler_get(self: WebsocketFrameAssembler, timeout: float | None = None) -> asyncio.Task:
    """The next message as a task: `recv` hands it to `asyncio.wait`, which
    takes tasks only since Python 3.11, and awaiting a task gives the same
    message to every other caller."""
    return asyncio.ensure_future(_sanic_assembler_get(self, timeout))


class EngineIOWebSocket(engineio_sanic.WebSocket):
    """engine.io's Sanic websocket wrapper, bounded and silent once upgraded."""

    async def __call__(self, environ: dict[str, Any]) -> None:  # type: ignore[override]
        request = environ["sanic.request"]
        self._sock = await request.transport.get_protocol().websocket_handshake(request)
        # websockets refuses a longer frame (close 1009) before buffering it.
        self._sock.connection.max_size = self.server.max_http_buffer_size
        self.environ = environ
        await self.handler(self)
        # Returns nothing: Sanic then writes no HTTP response on the socket.


def install(engineio_server: Any) -> None:
    """Serves this engine.io server's websocket transport with our driver.

    engine.io picks its websocket class from the async mode's driver table
    (`_async`), per server; this server gets a copy with ours in it.
    """
    WebsocketFrameAssembler.get = assembler_get  # type: ignore[method-assign]
    engineio_server._async = {**engineio_server._async, "websocket": EngineIOWebSocket}
