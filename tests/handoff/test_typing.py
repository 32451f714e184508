"""The agent's typing reaches web-widget customers through Rasa's socket.io
channel, with the bridge's JWT; only the assignee's, only on channels that
show it, a repeat within two seconds dropped, and a failing Rasa never
troubles the agent's console."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from tests.handoff.conftest import Bridge, FakeRasa, eventually, serve_rasa

TYPING_PATH = "/webhooks/socketio/typing"


class WidgetRasa(FakeRasa):
    """Rasa with the web channel's typing route (addons.channels.socketio)."""

    typing_fails: bool = False

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_post(TYPING_PATH, self._typing)
        return app

    async def _typing(self, request: web.Request) -> web.Response:
        await self._record(request)
        if self.typing_fails:
            raise web.HTTPInternalServerError(text="boom")
        return web.json_response({"status": "ok"})

    def typing(self) -> list[dict]:
        return [call.body for call in self.calls if call.path == TYPING_PATH]


@pytest.fixture
async def rasa(aiohttp_server) -> WidgetRasa:
    return await serve_rasa(aiohttp_server, WidgetRasa())


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


async def claimed(bridge: Bridge, conversation_id: str, channel: str, agent) -> int:
    ticket_id = (await bridge.handoff(conversation_id, channel=channel))["ticket"]["id"]
    await bridge.claim(ticket_id, agent)
    return ticket_id


async def test_the_assignees_typing_reaches_the_widget_customer_once_per_burst(bridge):
    agent = await bridge.add(online=True, display_name="小王")
    ticket_id = await claimed(bridge, "web-1", "socketio", agent)
    console = await bridge.console(agent)
    for _ in range(3):
        await console.socket.send_json({"action": "typing", "ticket_id": ticket_id, "typing": True})
    await eventually(lambda: _async(bridge.rasa.typing()), what="typing at Rasa")
    await console.socket.send_json({"action": "typing", "ticket_id": ticket_id, "typing": False})
    await eventually(lambda: _async(len(bridge.rasa.typing()) == 2), what="the stop")
    assert bridge.rasa.typing() == [
        {"conversation_id": "web-1", "typing": True, "agent_name": "小王"},
        {"conversation_id": "web-1", "typing": False, "agent_name": "小王"},
    ]
    await console.close()


async def test_nothing_goes_for_other_channels_other_agents_or_bad_frames(bridge):
    agent = await bridge.add(online=True, capacity=5)
    other = await bridge.add("other")
    on_rest = await claimed(bridge, "rest-1", "rest", agent)
    on_web = await claimed(bridge, "web-2", "socketio", agent)
    theirs = await bridge.console(other)
    mine = await bridge.console(agent)
    await theirs.socket.send_json({"action": "typing", "ticket_id": on_web, "typing": True})
    for frame in (
        {"action": "typing", "ticket_id": on_rest, "typing": True},
        {"action": "typing", "ticket_id": str(on_web), "typing": True},
        {"action": "typing", "ticket_id": on_web, "typing": "yes"},
        {"action": "typing", "ticket_id": 10**12, "typing": True},
        {"action": "typing", "ticket_id": 99999, "typing": True},
    ):
        await mine.socket.send_json(frame)
    await mine.socket.send_json({"action": "ping"})
    await mine.next("pong")
    await asyncio.sleep(0.2)
    assert bridge.rasa.typing() == []
    await theirs.close()
    await mine.close()


async def test_a_failing_rasa_does_not_trouble_the_console(bridge):
    agent = await bridge.add(online=True)
    ticket_id = await claimed(bridge, "web-3", "socketio", agent)
    bridge.rasa.typing_fails = True
    console = await bridge.console(agent)
    await console.socket.send_json({"action": "typing", "ticket_id": ticket_id, "typing": True})
    await eventually(lambda: _async(bridge.rasa.typing()), what="the attempt")
    await console.socket.send_json({"action": "ping"})
    await console.next("pong")
    await bridge.post(f"/api/tickets/{ticket_id}/messages", agent, json={"text": "hi"}, expect=201)
    await console.close()


async def _async(value):
    return value
