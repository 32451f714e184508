"""The production topology end to end, on this machine's real PostgreSQL,
Redis and RabbitMQ: two Rasa workers (SANIC_WORKERS), two action-server
workers and two bridge instances sharing one port, started by the launcher
(`Topology`), each test stack with databases, keys and queues of its own.

- A web customer (python-socketio's client) is handed to an agent whose
  console is on the bridge instance that does *not* consume Rasa's events:
  the customer's messages cross instances through Redis, the agent's
  replies cross Rasa workers through socket.io's Redis manager.
- The bridge instance holding the agent's console and consuming the
  events is killed mid-conversation: the console reconnects to the other,
  which takes over the queue, and nothing is lost.
- RabbitMQ is restarted mid-conversation: what the customer said meanwhile
  reaches the agent afterwards, each message once and in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
import requests

from scripts.servers import SharedServers
from scripts.stack import Stack, Topology, free_port
from scripts.supervisor import Supervisor
from tests.addons.channels.web_client import WebCustomer
from tests.fakes import FakePlatforms, every_fake
from tests.integration import test_app_channel as app
from tests.integration import test_form_channel as form
from tests.integration import test_mail_channel as mail
from tests.integration import test_telegram_channel as telegram
from tests.integration import test_web_channel as web
from tests.integration import test_wechat_channel as wechat
from tests.integration import test_widget_browser as widget
from tests.integration.conftest import (
    STARTUP_TIMEOUT,
    HandoffStack,
    running,
    stack_on_free_ports,
    wait_for,
)
from tests.integration.test_handoff import ConsoleAgent
from tests.integration.test_web_channel import wait
from tests.integration.test_widget_browser import browser, site  # noqa: F401  (fixtures)

# The servers' own commands: the tests start a Redis of their own, and
# restart RabbitMQ and PostgreSQL (Debian's packages, on every machine here).
SERVER_COMMANDS = ("redis-server", "rabbitmqctl", "pg_lsclusters", "pg_ctlcluster")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not all(shutil.which(command) for command in SERVER_COMMANDS),
        reason=f"the production topology's tests need {', '.join(SERVER_COMMANDS)}",
    ),
]

BRIDGES = ("bridge-1", "bridge-2")


class PrivateRedis:
    """A Redis server of the test's own, so that stopping it disturbs
    nobody else on the machine."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        wait_for(lambda: _answers(client), timeout=10, what="the test's Redis")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@dataclasses.dataclass
class Production:
    """The stack and its controls: which instance does what, killing one,
    stopping Redis."""

    handoff: HandoffStack
    stack: Stack
    supervisor: Supervisor
    redis: PrivateRedis

    def instance_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.stack.ports.instance_port(BRIDGES.index(name))}"

    def health(self, name: str) -> dict[str, Any] | None:
        try:
            return requests.get(f"{self.instance_url(name)}/health", timeout=5).json()
        except requests.RequestException:
            return None

    def consumer(self) -> str:
        """The instance RabbitMQ gives Rasa's events to: the one whose
        count grows (the queue has one active consumer)."""
        self.handoff.assistant.say(f"probe-{uuid.uuid4().hex[:8]}", "你好")

        def consuming() -> str | None:
            counts = {name: (self.health(name) or {}).get("rabbitmq", {}) for name in BRIDGES}
            active = [name for name, state in counts.items() if state.get("consumed")]
            return active[0] if len(active) == 1 else None

        return wait_for(consuming, timeout=30, what="one instance consuming Rasa's events")

    def on_instance(self, name: str) -> HandoffStack:
        """The same stack, reached through one instance's own port."""
        return dataclasses.replace(self.handoff, bridge_url=self.instance_url(name))


@pytest.fixture(scope="module")
def production(trained_model: Path, tmp_path_factory) -> Iterator[Production]:
    private_redis = PrivateRedis()
    private_redis.start()
    servers = SharedServers.from_environment({"REDIS_PORT": str(private_redis.port)}).isolated(
        f"t{uuid.uuid4().hex[:10]}"
    )
    fakes = FakePlatforms(every_fake())
    fakes.start()
    stack = stack_on_free_ports(
        tmp_path_factory.mktemp("production"),
        trained_model,
        Topology(rasa_workers=2, action_workers=2, bridges=len(BRIDGES), servers=servers),
        HANDOFF_SWEEP_INTERVAL_SECONDS="1",
        HANDOFF_DISCONNECT_GRACE_SECONDS="20",
        **fakes.environment,
    )
    try:
        with running(stack, fakes) as (handoff, supervisor):
            yield Production(handoff, stack, supervisor, private_redis)
    finally:
        fakes.stop()
        private_redis.start()  # a test may have left it stopped
        servers.discard()
        private_redis.stop()


@pytest.fixture(scope="module")
def handoff_stack(production: Production) -> HandoffStack:
    """The session's stack, for the fixtures borrowed from other modules
    (the widget's page): here it is this topology's."""
    return production.handoff


def other(name: str) -> str:
    return next(bridge for bridge in BRIDGES if bridge != name)


async def handed_over(
    production: Production, console_on: str, agent_name: str
) -> tuple[WebCustomer, ConsoleAgent, dict[str, Any]]:
    """A web customer greeted and handed to `agent_name`, whose console is on
    instance `console_on`; the console is open (the caller closes both)."""
    stack = production.handoff
    agent = await asyncio.to_thread(stack.create_agent, agent_name, "password-123")
    customer = await asyncio.to_thread(WebCustomer, stack.assistant.url, ["websocket"])
    await asyncio.to_thread(customer.session, None, customData={"language": "zh"})
    await wait(customer, "智能客服")
    console = ConsoleAgent(production.on_instance(console_on), agent_name, "password-123")
    await console.__aenter__()
    customer.say("我要转人工")
    queued = await wait(customer, "转接人工客服")
    ticket = await console.offered(
        agent["id"], lambda t: t["id"] == queued["metadata"]["handoff"]["ticket_id"]
    )
    claimed = await console.claim(ticket["id"])
    await wait(customer, agent_name)
    return customer, console, claimed


async def reconnected(stack: HandoffStack, agent_name: str) -> ConsoleAgent:
    """The console after its bridge went away: it retries, as the page does
    (a connection the dying instance had accepted is reset)."""
    for _ in range(20):
        console = ConsoleAgent(stack, agent_name, "password-123")
        try:
            return await console.__aenter__()
        except aiohttp.ClientError:
            await console.http.close()
            await asyncio.sleep(0.5)
    raise AssertionError("The console could not reconnect to the surviving instance")


async def heard(console: ConsoleAgent, ticket_id: int, texts: list[str]) -> None:
    """The console receives each customer message once, in order."""
    got = []
    while len(got) < len(texts):
        message = await console.next_event("message.customer", ticket_id=ticket_id)
        got.append(message["text"])
    assert got == texts
    with pytest.raises(TimeoutError):  # and nothing twice
        await console.next_event("message.customer", timeout=2, ticket_id=ticket_id)


async def test_a_handoff_crosses_rasa_workers_and_bridge_instances(production: Production):
    consumer = production.consumer()
    name = f"prod-agent-{uuid.uuid4().hex[:6]}"
    customer, console, ticket = await handed_over(production, other(consumer), name)
    try:
        said = ["我的订单还没到", "订单号是 20240101", "麻烦尽快处理"]
        for text in said:
            customer.say(text)
        await heard(console, ticket["id"], said)

        # Each reply reaches Rasa through whichever worker takes the bridge's
        # call; the customer's socket is open on one of them.
        for number in range(4):
            status, sent = await console.reply(ticket["id"], f"第 {number} 条回复")
            assert status == 201, sent
            reply = await wait(customer, f"第 {number} 条回复")
            assert reply["metadata"]["sender"] == "agent"

        # Calls on connections of their own, which the kernel may give to
        # either worker (an idle machine tends to give them all to one; the
        # fork test in tests/addons/channels/test_cluster.py is the exact one).
        for number in range(8):
            typing = await asyncio.to_thread(
                requests.post,
                f"{production.stack.rasa_url}/webhooks/socketio/typing",
                json={"conversation_id": ticket["conversation_id"], "typing": number % 2 == 0},
                headers=production.handoff.assistant.api_headers(),
                timeout=10,
            )
            assert typing.status_code == 200, typing.text
            shown = await asyncio.to_thread(
                customer.wait_for, "typing", 10, lambda data: data["who"] == "agent"
            )
            assert shown["typing"] is (number % 2 == 0)

        await console.resolve(ticket["id"])
        await wait(customer, "打分")
    finally:
        customer.close()
        if console.socket is not None:
            await console.__aexit__()


async def test_a_killed_bridge_instance_loses_no_message(production: Production):
    consumer = production.consumer()
    name = f"prod-kill-{uuid.uuid4().hex[:6]}"
    customer, console, ticket = await handed_over(production, consumer, name)
    try:
        killed = production.supervisor.process(consumer)
        killed.kill()  # SIGKILL: no goodbye to anyone
        await asyncio.to_thread(killed.wait)
        killed_at = asyncio.get_running_loop().time()
        customer.say("还在吗")  # while the console has no bridge
        # The console reconnects through the shared port, to the survivor,
        # which took over Rasa's queue; its session is in the database.
        await console.__aexit__()
        console = await reconnected(production.handoff, name)
        customer.say("我等着呢")
        await heard(console, ticket["id"], ["我等着呢"])
        # What came in between is in the conversation the console reloads.
        status, context = await console.call("GET", f"/api/tickets/{ticket['id']}/context")
        said = [turn["text"] for turn in context["transcript"] if turn["sender"] == "customer"]
        assert (said.count("还在吗"), said.count("我等着呢")) == (1, 1), said
        status, sent = await console.reply(ticket["id"], "抱歉久等")
        assert status == 201, sent
        await wait(customer, "抱歉久等")
        # Past the disconnect grace and the dead instance's heartbeat, the
        # agent is still online and still has the conversation.
        grace = float(production.stack.environment["HANDOFF_DISCONNECT_GRACE_SECONDS"])
        await asyncio.sleep(max(killed_at + grace + 5 - asyncio.get_running_loop().time(), 0))
        after = production.handoff.ticket(ticket["id"])
        assert (after["status"], after["assignee_id"]) == ("in_progress", ticket["assignee_id"])
        status, me = await console.call("GET", "/api/session")
        assert me["agent"]["presence"] == "online", me
        await console.resolve(ticket["id"])
        # Back to two instances for the tests after this one; started from
        # this (the main) thread, which outlives it (scripts/supervisor.py).
        service = next(s for s in production.stack.services() if s.name == consumer)
        production.supervisor.start([service], STARTUP_TIMEOUT)
    finally:
        customer.close()
        if console.socket is not None:
            await console.__aexit__()


def rabbitmq(command: str) -> None:
    subprocess.run(["rabbitmqctl", command], check=True, capture_output=True, timeout=120)


async def test_rabbitmq_restarted_mid_conversation_loses_and_repeats_nothing(
    production: Production,
):
    name = f"prod-mq-{uuid.uuid4().hex[:6]}"
    customer, console, ticket = await handed_over(production, production.consumer(), name)
    try:
        await asyncio.to_thread(rabbitmq, "stop_app")
        try:
            said = ["消息一", "消息二", "消息三"]
            for text in said:
                customer.say(text)
                await asyncio.sleep(0.5)
        finally:
            await asyncio.to_thread(rabbitmq, "start_app")
        await heard(console, ticket["id"], said)
        await console.resolve(ticket["id"])
    finally:
        customer.close()
        if console.socket is not None:
            await console.__aexit__()


# Every channel's own end-to-end flow, run again on this topology: the
# platform's message reaches one Rasa worker, the agent's reply leaves
# through another, retries may reach either.
CHANNEL_FLOWS = {
    "web": lambda stack, session: web.test_a_web_customer_is_greeted_handed_to_an_agent_and_back(
        stack, "websocket"
    ),
    "wechat": wechat.test_a_follower_goes_through_bot_agent_and_survey_in_safe_mode,
    "wechat-retries": wechat.test_plaintext_buttons_retries_and_bad_requests,
    "telegram": lambda stack, session: (
        telegram.test_a_telegram_customer_is_greeted_handed_to_an_agent_and_back(stack)
    ),
    "app": lambda stack, session: app.test_an_app_customer_is_handed_to_an_agent_and_back(stack),
    "app-retries": lambda stack, session: (
        app.test_a_callback_the_app_fails_is_retried_with_the_same_delivery_id(stack)
    ),
    "mail": lambda stack, session: mail.test_buttons_handoff_agent_reply_and_survey_all_by_mail(
        stack
    ),
    "form": lambda stack,
    session: form.test_a_form_ticket_is_answered_by_mail_and_continued_by_mail(stack),
}


@pytest.mark.parametrize("channel", CHANNEL_FLOWS)
async def test_every_channel_hands_off_on_this_topology(production: Production, channel: str):
    async with aiohttp.ClientSession() as session:
        await CHANNEL_FLOWS[channel](production.handoff, session)


def rest(production: Production, sender: str, text: str) -> requests.Response:
    return requests.post(
        f"{production.stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )


def test_with_redis_down_customers_are_told_and_all_recovers_when_it_is_back(
    production: Production,
):
    sender = f"redis-down-{uuid.uuid4().hex[:8]}"
    production.redis.stop()
    try:
        # Rasa's lock store is away: the message is not taken, and the
        # customer's client is told so (Rasa itself answers 200 and nothing).
        refused = rest(production, sender, "你好")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "assistant_unavailable"
        wait_for(
            lambda: all(
                (production.health(name) or {}).get("redis") == {"connected": False}
                for name in BRIDGES
            ),
            what="every bridge instance saying Redis is away",
        )
    finally:
        production.redis.start()
    wait_for(
        lambda: all(
            (production.health(name) or {}).get("redis") == {"connected": True} for name in BRIDGES
        ),
        what="every bridge instance back on Redis",
    )
    answered = rest(production, sender, "你好")
    assert answered.status_code == 200 and answered.json(), answered.text


def postgresql(command: str) -> None:
    clusters = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout.split()
    version, cluster = clusters[0], clusters[1]
    subprocess.run(
        ["pg_ctlcluster", version, cluster, command], check=True, capture_output=True, timeout=120
    )


async def test_after_a_postgresql_restart_every_process_reconnects(production: Production):
    stack = production.handoff
    sender = f"pg-restart-{uuid.uuid4().hex[:8]}"
    assert rest(production, sender, "你好").json()
    await asyncio.to_thread(postgresql, "restart")
    # Rasa's tracker store: the conversation goes on and is kept.
    answered = rest(production, sender, "我想查一下订单")
    assert answered.status_code == 200 and answered.json(), answered.text
    events = stack.assistant.tracker(sender)["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["你好", "我想查一下订单"]
    # The bridge (through every instance) and the actions' path to it.
    for name in BRIDGES:
        listed = requests.get(
            f"{production.instance_url(name)}/api/tickets",
            headers={"Authorization": f"Bearer {stack.api_token}"},
            timeout=30,
        )
        assert listed.status_code == 200, listed.text
    handed = rest(production, sender, "转人工")
    assert handed.status_code == 200, handed.text
    ticket_id = stack.assistant.slots(sender)["ticket_id"]
    assert stack.ticket(int(ticket_id))["conversation_id"] == sender


def test_the_widget_in_chromium_talks_to_bot_and_agent(
    request: pytest.FixtureRequest, production: Production, tmp_path: Path
):
    """Our widget, in a real browser, on a page of the shop's site: its
    websocket stays on one Rasa worker, the agent's replies come through
    either."""
    widget.test_a_customer_is_helped_by_bot_and_agent_on_a_desktop(
        request.getfixturevalue("browser"),
        request.getfixturevalue("site"),
        production.handoff,
        tmp_path,
    )
