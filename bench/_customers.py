"""Simulated customers on loopback: each takes the next conversation from a
shared list and says its messages one after another, each as soon as the
last was answered (a closed loop), over the REST channel or the web
widget's socket.io. Every conversation is a new customer: a new sender over
REST, a new socket and session over socket.io, as a new visitor's widget
opens one.

A socket.io message counts as answered when at least one `bot_uttered`
arrived before the server acknowledged the event: both Rasa's channel and
ours acknowledge after the bot's turn is over, and the acknowledgement
travels behind the turn's messages on the same socket, so the time to it
is the whole turn, as a REST call's is.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import cycle, islice
from typing import Any

import aiohttp
import socketio

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=120)
TURN_TIMEOUT = 120.0
# python-engineio 4.15 builds aiohttp 3.10's ClientWSTimeout for every
# websocket it opens; Rasa 3.6 keeps aiohttp 3.9, whose ws_connect takes the
# close timeout as a float. engineio lets the caller's websocket options win
# over its own, so the float below is what aiohttp gets, and the name only
# has to exist. Gone by itself once aiohttp has the class.
if not hasattr(aiohttp, "ClientWSTimeout"):

    @dataclass(frozen=True)
    class _ClientWSTimeout:
        ws_receive: float | None = None
        ws_close: float | None = None

    aiohttp.ClientWSTimeout = _ClientWSTimeout  # type: ignore[attr-defined]
WEBSOCKET_OPTIONS = {"timeout": 10.0}


class Channel(StrEnum):
    REST = "rest"
    SOCKETIO = "socketio"


@dataclass
class Sample:
    """What one batch of customers measured."""

    latencies: list[float] = field(default_factory=list)  # each finished turn, seconds
    answered: int = 0  # turns with at least one bot message
    failed: int = 0  # errors, refusals and timeouts
    seconds: float = 0.0  # wall time of the batch

    @property
    def messages(self) -> int:
        return len(self.latencies) + self.failed

    def add(self, other: Sample) -> None:
        self.latencies += other.latencies
        self.answered += other.answered
        self.failed += other.failed
        self.seconds += other.seconds


Conversation = list[str]
Converse = Callable[[Conversation, Sample], Awaitable[None]]


def conversations_for(scripts: list[Conversation], messages: int) -> list[Conversation]:
    """The scripts in turn, as many as make `messages` messages (the last cut short)."""
    batch: list[Conversation] = []
    left = messages
    for script in cycle(scripts):
        if left <= 0:
            return batch
        batch.append(list(islice(script, left)))
        left -= len(batch[-1])
    return batch


async def run_customers(
    channel: Channel,
    url: str,
    *,
    scripts: list[Conversation],
    messages: int,
    customers: int,
    transport: str = "websocket",
) -> Sample:
    """`customers` customers at once say `messages` messages in all;
    `transport` is socket.io's, "websocket" or "polling"."""
    queue: asyncio.Queue[Conversation] = asyncio.Queue()
    for conversation in conversations_for(scripts, messages):
        queue.put_nowait(conversation)
    sample = Sample()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT, connector=connector) as http:
        converse = _CONVERSE[channel](http, url, transport)

        async def customer() -> None:
            while not queue.empty():
                await converse(queue.get_nowait(), sample)

        started = time.monotonic()
        await asyncio.gather(*(customer() for _ in range(customers)))
        sample.seconds = time.monotonic() - started
    return sample


def _rest(http: aiohttp.ClientSession, url: str, transport: str) -> Converse:
    async def converse(conversation: Conversation, sample: Sample) -> None:
        sender = f"bench-{uuid.uuid4().hex[:16]}"
        # The customer's own connection, kept for their conversation, as a
        # new visitor's app opens one: with connections pooled across
        # customers, the first few carried the whole run, and so did the
        # Rasa processes that happened to accept them.
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as own:
            for text in conversation:
                started = time.monotonic()
                try:
                    async with own.post(
                        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
                    ) as response:
                        answer = await response.json() if response.status == 200 else None
                except (aiohttp.ClientError, TimeoutError):
                    answer = None
                _record(sample, answer, time.monotonic() - started)

    return converse


def _socketio(http: aiohttp.ClientSession, url: str, transport: str) -> Converse:
    async def converse(conversation: Conversation, sample: Sample) -> None:
        client = socketio.AsyncClient(
            reconnection=False, http_session=http, websocket_extra_options=WEBSOCKET_OPTIONS
        )
        replies: list[Any] = []
        confirmations: list[Any] = []
        client.on("bot_uttered", replies.append)
        client.on("session_confirm", confirmations.append)
        client.on("message_rejected", lambda data: replies.append(None))
        try:
            await client.connect(url, transports=[transport], wait_timeout=30)
            await client.call("session_request", {"session_id": None})
            # Rasa's channel confirms a plain id (its messages need none, as
            # its sessions do not persist); ours a signed token to send back.
            confirmed = confirmations[0] if confirmations else None
            token = confirmed.get("session_id") if isinstance(confirmed, dict) else None
        except (socketio.exceptions.SocketIOError, TimeoutError):
            sample.failed += len(conversation)
            await _leave(client)
            return
        try:
            for text in conversation:
                before = len(replies)
                started = time.monotonic()
                try:
                    await client.call(
                        "user_uttered",
                        {"message": text, "session_id": token},
                        timeout=TURN_TIMEOUT,
                    )
                except (socketio.exceptions.SocketIOError, TimeoutError):
                    sample.failed += 1
                    continue
                said = replies[before:]
                _record(sample, None if None in said else said, time.monotonic() - started)
        finally:
            await _leave(client)

    return converse


async def _leave(client: socketio.AsyncClient) -> None:
    """Closes the socket without waiting for a long poll in flight to return."""
    await client.eio.disconnect(abort=True)


def _record(sample: Sample, answer: list[Any] | None, seconds: float) -> None:
    """A turn the bot finished counts with its time, answered or not (the
    moodbot stays silent on what it has no rule for)."""
    if answer is None:
        sample.failed += 1
        return
    sample.latencies.append(seconds)
    sample.answered += bool(answer)


_CONVERSE: dict[Channel, Callable[[aiohttp.ClientSession, str, str], Converse]] = {
    Channel.REST: _rest,
    Channel.SOCKETIO: _socketio,
}
