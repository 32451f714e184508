"""The bridge on a fresh database per test, with Rasa's HTTP API faked by a
loopback server that records what the bridge sends and answers like Rasa.

Tests talk to the bridge only through its HTTP API and console websocket,
as the assistant, the event broker and agents do. Helpers live here and are
imported by the tests (`from tests.handoff.conftest import ...`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from handoff import migrations
from handoff.agents import security
from handoff.agents import service as agents
from handoff.agents.enums import AgentRole
from handoff.app import create_app
from handoff.app_keys import DATABASE
from handoff.settings import Settings
from handoff.web import SESSION_COOKIE
from tests.conftest import scratch_postgres_database

API_TOKEN = "test-api-token"
RASA_TOKEN = "test-rasa-token"
PASSWORD = "correct horse battery"
TABLES = (
    "attachments",
    "agent_replies",
    "ticket_notes",
    "ticket_events",
    "tickets",
    "customer_identities",
    "customers",
    "agent_sessions",
    "agents",
)
_UNSET: Any = object()


# --- speed -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its production cost takes a tenth of a second per hash or
    login; the tests make hundreds."""
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "_hasher", hasher)
    monkeypatch.setattr(security, "_DUMMY_HASH", hasher.hash("not-a-real-password"))


# --- databases -----------------------------------------------------------------------


@contextmanager
def scratch_directory(fallback: Path) -> Iterator[Path]:
    """On tmpfs where there is one: SQLite syncs every commit to disk, which
    on an ordinary disk is most of these tests' time."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield fallback
        return
    directory = Path(tempfile.mkdtemp(prefix="handoff-test-", dir=shm))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database the bridge's migrations brought to the latest schema, once."""
    with scratch_directory(tmp_path_factory.mktemp("template")) as directory:
        template = directory / "template.db"
        migrations.upgrade(f"sqlite:///{template}")
        yield template


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the migrated template (the bridge still runs its
    migrations at start-up, and finds nothing to do)."""
    with scratch_directory(tmp_path) as directory:
        shutil.copyfile(sqlite_template, directory / "h.db")
        yield f"sqlite:///{directory / 'h.db'}"


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """SQLite by default; `tickets/conftest.py` adds PostgreSQL, and a test
    picks one with `@pytest.mark.parametrize("database_url", [...], indirect=True)`."""
    return request.getfixturevalue(f"{getattr(request, 'param', 'sqlite')}_url")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own for this test session, dropped afterwards."""
    with scratch_postgres_database("handoff_test") as url:
        yield url


@pytest.fixture
def postgresql_url(postgres_database: str) -> str:
    """The session's database, emptied: the bridge's migrations create the
    tables on first start, and each test starts with none of their rows."""
    import psycopg2

    with psycopg2.connect(postgres_database) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.tickets')")
        if cursor.fetchone()[0] is not None:
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    connection.close()
    return postgres_database


# --- a fake Rasa -------------------------------------------------------------------------


@dataclass
class RasaCall:
    method: str
    path: str
    conversation_id: str | None
    query: dict[str, str]
    body: Any


def _rasa_admin(authorization: str) -> bool:
    """Rasa's check with `--jwt-secret`: a Bearer JWT it can verify, role admin."""
    scheme, _, token = authorization.partition(" ")
    try:
        payload = jwt.decode(token, RASA_TOKEN, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return False
    return scheme == "Bearer" and payload.get("user", {}).get("role") == "admin"


@dataclass
class FakeRasa:
    """Rasa's HTTP API as the bridge uses it (`--enable-api --jwt-secret`)."""

    url: str = ""
    calls: list[RasaCall] = field(default_factory=list)
    trackers: dict[str, dict[str, Any]] = field(default_factory=dict)
    parse_result: dict[str, Any] = field(default_factory=dict)
    domain: dict[str, Any] = field(default_factory=lambda: {"responses": {}})
    down: bool = False
    # Applies appended events, then fails as if its answer were lost.
    loses_answers: bool = False
    # Seconds Rasa takes before it applies appended events, as under load.
    append_delay: float = 0.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/conversations/{conversation_id}/tracker/events", self._append)
        app.router.add_post("/conversations/{conversation_id}/trigger_intent", self._trigger)
        app.router.add_get("/conversations/{conversation_id}/tracker", self._tracker)
        app.router.add_post("/model/parse", self._parse)
        app.router.add_get("/domain", self._domain)
        return app

    def calls_for(self, conversation_id: str) -> list[RasaCall]:
        return [call for call in self.calls if call.conversation_id == conversation_id]

    def sent_events(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every event the bridge appended to the conversation, in order."""
        return [
            event
            for call in self.calls_for(conversation_id)
            if call.path.endswith("/tracker/events")
            for event in call.body
        ]

    def agent_messages(self, conversation_id: str) -> list[str]:
        return _agent_texts(self.sent_events(conversation_id))

    def logged_agent_messages(self, conversation_id: str) -> list[str]:
        """Agent messages as the tracker holds them: without refused calls."""
        return _agent_texts(self._state(conversation_id)["events"])

    def trail(self, conversation_id: str) -> list[str]:
        """What happened to the conversation, compactly: `resume`, `bot`,
        `intent:<name>`."""
        steps = []
        for call in self.calls_for(conversation_id):
            if call.path.endswith("/tracker/events"):
                steps += [event["event"] for event in call.body]
            elif call.path.endswith("/trigger_intent"):
                steps.append(f"intent:{call.body['name']}")
        return steps

    async def _record(self, request: web.Request) -> RasaCall:
        body = await request.json() if request.can_read_body else None
        call = RasaCall(
            method=request.method,
            path=request.path,
            conversation_id=request.match_info.get("conversation_id"),
            query=dict(request.query),
            body=body,
        )
        self.calls.append(call)
        if self.down:
            raise web.HTTPServiceUnavailable(text="Rasa is restarting")
        if not _rasa_admin(request.headers.get("Authorization", "")):
            raise web.HTTPUnauthorized(text='{"status": "failure", "reason": "NotAuthenticated"}')
        return call

    def _state(self, conversation_id: str) -> dict[str, Any]:
        return self.trackers.setdefault(
            conversation_id,
            {"sender_id": conversation_id, "slots": {}, "events": [], "paused": False},
        )

    async def _append(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        await asyncio.sleep(self.append_delay)
        state = self._state(call.conversation_id)
        for event in call.body:
            state["events"].append({**event, "timestamp": time.time()})
            if event["event"] in ("pause", "resume"):
                state["paused"] = event["event"] == "pause"
        if self.loses_answers:
            raise web.HTTPGatewayTimeout(text="the answer was lost")
        return web.json_response(state)

    async def _trigger(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        state = self._state(call.conversation_id)
        return web.json_response({"tracker": state, "messages": []})

    async def _tracker(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        return web.json_response(self._state(call.conversation_id))

    async def _parse(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        return web.json_response({"text": call.body["text"], **self.parse_result})

    async def _domain(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response(self.domain)


def _agent_texts(events: list[dict[str, Any]]) -> list[str]:
    return [
        event["text"]
        for event in events
        if event["event"] == "bot" and (event.get("metadata") or {}).get("agent_id")
    ]


AnyRasa = TypeVar("AnyRasa", bound=FakeRasa)


async def serve_rasa(aiohttp_server, fake: AnyRasa) -> AnyRasa:
    """Serves `fake` on loopback and sets its `url`; a test module's own
    `rasa` fixture serves its subclass with this."""
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def rasa(aiohttp_server) -> FakeRasa:
    return await serve_rasa(aiohttp_server, FakeRasa())


# --- the bridge -----------------------------------------------------------------------


@dataclass
class Staff:
    id: int
    username: str
    display_name: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.token}"}


SERVICE = {"Authorization": f"Bearer {API_TOKEN}"}


@dataclass
class Bridge:
    """One running bridge and the people and machines that call it."""

    client: TestClient
    settings: Settings
    rasa: FakeRasa
    _admin: Staff | None = None
    _agents: int = 0

    @property
    def app(self) -> web.Application:
        return self.client.server.app

    async def call(
        self,
        method: str,
        path: str,
        who: dict[str, str] | Staff | None = None,
        *,
        json: Any = _UNSET,
        expect: int = 200,
        **kwargs: Any,
    ) -> Any:
        """Makes the request as `who` (headers, a signed-in Staff, or nobody),
        checks the status and returns the decoded JSON body."""
        status, body = await self.request(method, path, who, json=json, **kwargs)
        assert status == expect, f"{method} {path}: {status} {body}"
        return body

    async def request(
        self, method: str, path: str, who: Any = None, *, json: Any = _UNSET, **kwargs: Any
    ) -> tuple[int, Any]:
        """(status, decoded body), whatever the status."""
        headers = who.headers if isinstance(who, Staff) else dict(who or {})
        headers.update(kwargs.pop("headers", {}))
        if json is not _UNSET:
            kwargs["json"] = json
        async with self.client.request(method, path, headers=headers, **kwargs) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def get(self, path: str, who: Any = SERVICE, **kwargs: Any) -> Any:
        return await self.call("GET", path, who, **kwargs)

    async def post(self, path: str, who: Any = SERVICE, **kwargs: Any) -> Any:
        return await self.call("POST", path, who, **kwargs)

    async def patch(self, path: str, who: Any = SERVICE, **kwargs: Any) -> Any:
        return await self.call("PATCH", path, who, **kwargs)

    # -- people -------------------------------------------------------------------

    async def admin(self) -> Staff:
        """The first admin, made the way `python -m handoff create-agent` does."""
        if self._admin is None:
            self._admin = await self._account("admin", role="admin", display_name="Admin")
        return self._admin

    async def login(self, username: str, password: str = PASSWORD) -> Staff:
        """Signs in through the console's login."""
        async with self.client.post(
            "/api/session", json={"username": username, "password": password}
        ) as response:
            body = await response.json()
            assert response.status == 200, body
            token = response.cookies[SESSION_COOKIE].value
        agent = body["agent"]
        return Staff(agent["id"], agent["username"], agent["display_name"], agent["role"], token)

    async def add(
        self,
        username: str | None = None,
        *,
        role: str = "agent",
        online: bool = False,
        **fields: Any,
    ) -> Staff:
        """A new staff account, signed in; `online` also sets their presence.

        Made with the services `POST /api/agents` and `POST /api/session`
        call (those routes have tests of their own), which saves each test
        two round trips per person."""
        await self.admin()
        self._agents += 1
        username = username or f"agent{self._agents}"
        fields.setdefault("display_name", username.capitalize())
        staff = await self._account(username, role=role, **fields)
        if online:
            await self.presence(staff, "online")
        return staff

    async def _account(self, username: str, *, role: str, **fields: Any) -> Staff:
        settings = self.settings
        async with self.app[DATABASE].transaction() as db:
            agent = await agents.create(
                db, username=username, password=PASSWORD, role=AgentRole(role), **fields
            )
            token = await agents.open_session(
                db, agent_id=agent.id, ttl_seconds=settings.session_ttl_seconds
            )
        return Staff(agent.id, agent.username, agent.display_name, agent.role, token)

    async def presence(self, staff: Staff, presence: str) -> dict[str, Any]:
        return await self.call("PUT", "/api/agents/me/presence", staff, json={"presence": presence})

    async def agent(self, staff: Staff) -> dict[str, Any]:
        listing = await self.get("/api/agents", await self.admin())
        return next(agent for agent in listing["agents"] if agent["id"] == staff.id)

    # -- tickets ------------------------------------------------------------------

    async def handoff(
        self, conversation_id: str, *, expect: int = 201, **fields: Any
    ) -> dict[str, Any]:
        payload = {"conversation_id": conversation_id, "title": f"Help for {conversation_id}"}
        return await self.post("/api/handoffs", json={**payload, **fields}, expect=expect)

    async def open_ticket(self, conversation_id: str = "form-1", **fields: Any) -> dict[str, Any]:
        payload = {"conversation_id": conversation_id, "title": "A follow-up", **fields}
        return await self.post("/api/tickets", json=payload, expect=201)

    async def ticket(self, ticket_id: int) -> dict[str, Any]:
        return await self.get(f"/api/tickets/{ticket_id}")

    async def claim(self, ticket_id: int, staff: Staff, *, expect: int = 200) -> dict[str, Any]:
        return await self.post(f"/api/tickets/{ticket_id}/claim", staff, expect=expect)

    async def set_status(
        self, ticket_id: int, status: str, who: Any = SERVICE, *, expect: int = 200, **fields: Any
    ) -> dict[str, Any]:
        return await self.patch(
            f"/api/tickets/{ticket_id}/status",
            who,
            json={"status": status, **fields},
            expect=expect,
        )

    async def offered(self, ticket_id: int, staff: Staff) -> dict[str, Any]:
        """Waits until the dispatcher has offered the ticket to `staff`."""
        return await eventually(
            lambda: self._ticket_if(ticket_id, lambda t: t["offered_to_id"] == staff.id),
            what=f"ticket {ticket_id} offered to {staff.username}",
        )

    async def _ticket_if(self, ticket_id: int, check: Callable[[dict], bool]) -> dict | None:
        ticket = await self.ticket(ticket_id)
        return ticket if check(ticket) else None

    # -- the console ----------------------------------------------------------------

    async def console(self, staff: Staff, **headers: str) -> Console:
        socket = await self.client.ws_connect("/console/ws", headers={**staff.headers, **headers})
        console = Console(socket)
        hello = await console.next("hello")
        assert hello["agent"]["id"] == staff.id
        return console


@dataclass
class Console:
    """One open console websocket."""

    socket: aiohttp.ClientWebSocketResponse

    async def receive(self, timeout: float = 3.0) -> tuple[str, dict[str, Any]]:
        frame = await self.socket.receive_json(timeout=timeout)
        return frame["event"], frame["data"]

    async def next(self, name: str, timeout: float = 3.0) -> dict[str, Any]:
        """The data of the next `name` event, skipping others."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"no {name} event within {timeout} s"
            event, data = await self.receive(remaining)
            if event == name:
                return data

    async def until(
        self, check: Callable[[str, dict], bool], timeout: float = 3.0
    ) -> list[tuple[str, dict]]:
        """Every event up to and including the first that passes `check`."""
        seen: list[tuple[str, dict]] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"no matching event within {timeout} s; saw {seen}"
            event, data = await self.receive(remaining)
            seen.append((event, data))
            if check(event, data):
                return seen

    async def close(self) -> None:
        await self.socket.close()


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    *,
    timeout: float = 5.0,
    interval: float = 0.02,
    what: str = "",
) -> Any:
    """Polls `probe` until it returns something truthy, and returns that."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if result := await probe():
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or probe}")
        await asyncio.sleep(interval)


def history_names(ticket: dict[str, Any]) -> list[str]:
    return [event["name"] for event in ticket["history"]]


StartBridge = Callable[..., Awaitable[Bridge]]


@pytest.fixture
def start_bridge(database_url: str, rasa: FakeRasa, aiohttp_client) -> StartBridge:
    """start_bridge(**settings) -> a running Bridge on the test's database.
    Calling it again after `bridge.client.close()` is a restart.

    The database and Rasa come first so that they outlive the bridge: its
    shutdown still writes to the one and may call the other."""

    async def start(**overrides: Any) -> Bridge:
        values: dict[str, Any] = {
            "database_url": database_url,
            "api_token": API_TOKEN,
            "rasa_url": rasa.url,
            "rasa_token": RASA_TOKEN,
            "demo_agents": False,
            "default_handling_seconds": 120.0,
            **overrides,
        }
        settings = Settings(**values)
        client = await aiohttp_client(create_app(settings), cookie_jar=aiohttp.DummyCookieJar())
        return Bridge(client=client, settings=settings, rasa=rasa)

    return start


@pytest.fixture
async def bridge(start_bridge: StartBridge) -> Bridge:
    return await start_bridge()
