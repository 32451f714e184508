"""Console sessions and the websocket that pushes queue, ticket and message
events to signed-in staff."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, Field, StrictStr

from handoff.agents import service as agents
from handoff.agents.enums import AgentRole, Presence
from handoff.agents.models import Agent
from handoff.api import allowed, change_presence
from handoff.app_keys import (
    BUS,
    DATABASE,
    LOGIN_THROTTLE,
    PASSWORDS,
    PRESENCE,
    SETTINGS,
    SHUTTING_DOWN,
    SOCKETS,
    TYPING,
)
from handoff.channels import load_channels
from handoff.db import MAX_ID
from handoff.errors import NotAuthenticated
from handoff.events import Mailbox
from handoff.policy import Action, event_view
from handoff.web import (
    SESSION_COOKIE,
    check_origin,
    client_address,
    parse_body,
    require,
    secure_cookies,
)

logger = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
# Our own scripts and styles only; nothing inline, nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

GOING_AWAY = b"bridge shutting down"
SIGNED_OUT = b"signed out"

routes = web.RouteTableDef()


class LoginIn(BaseModel):
    username: StrictStr = Field(..., min_length=1, max_length=64)
    password: StrictStr = Field(..., min_length=1, max_length=256)


@routes.get("/", name="root")
async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


@routes.get("/console/", name="console")
async def console_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


@routes.get("/api/channels", name="channels")
async def list_channels(request: web.Request) -> web.Response:
    """Each channel's readable name (`channels.yml`): the console labels
    tickets with them."""
    allowed(request, Action.READ_TICKET)
    return web.json_response({"channels": [c.to_dict() for c in load_channels().values()]})


@routes.post("/api/session", name="login")
async def login(request: web.Request) -> web.Response:
    """Signs in. Attempts are throttled per account and per client address
    before the password is looked at (see `LoginThrottle`)."""
    data = await parse_body(request, LoginIn)
    settings = request.app[SETTINGS]
    throttle = request.app[LOGIN_THROTTLE]
    address = client_address(request)
    await throttle.attempt(username=data.username, address=address)
    try:
        async with request.app[DATABASE].reading() as db:
            agent = await agents.get_by_username(db, username=data.username)
        await agents.check_password(agent, data.password, passwords=request.app[PASSWORDS])
    except NotAuthenticated:
        raise
    except BaseException:
        await throttle.not_checked(username=data.username, address=address)
        raise
    await throttle.succeeded(username=data.username, address=address)
    async with request.app[DATABASE].transaction() as db:
        token = await agents.open_session(
            db, agent_id=agent.id, ttl_seconds=settings.session_ttl_seconds
        )
    response = web.json_response({"agent": agent.to_dict()})
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_ttl_seconds),
        httponly=True,
        samesite="Strict",
        secure=secure_cookies(request),
        path="/",
    )
    return response


@routes.get("/api/session", name="me")
async def me(request: web.Request) -> web.Response:
    agent = require(request, *AgentRole)
    return web.json_response({"agent": agent.to_dict()})


@routes.delete("/api/session", name="logout")
async def logout(request: web.Request) -> web.Response:
    if token := request.cookies.get(SESSION_COOKIE):
        async with request.app[DATABASE].transaction() as db:
            await agents.logout(db, token=token)
        # A console opened with this session would otherwise go on receiving
        # tickets and messages after signing out.
        for socket in list(request.app[SOCKETS]):
            if socket.get("session") == token:
                socket["signed_out"] = True
                await socket.close(code=WSCloseCode.POLICY_VIOLATION, message=SIGNED_OUT)
    response = web.json_response({"signed_out": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/console/ws", name="console_ws")
async def console_socket(request: web.Request) -> web.WebSocketResponse:
    check_origin(request)  # browsers send cookies with cross-site handshakes
    agent = allowed(request, Action.OPEN_CONSOLE)
    # The console sends only small actions; a message over the body limit
    # closes the socket (1009) instead of being read.
    socket = web.WebSocketResponse(heartbeat=20, max_msg_size=request.app[SETTINGS].max_body_bytes)
    await socket.prepare(request)
    socket["session"] = request.cookies.get(SESSION_COOKIE)
    mailbox = Mailbox()
    unsubscribe = request.app[BUS].subscribe(mailbox)
    handles = agent.role in (AgentRole.AGENT, AgentRole.ADMIN)
    presence = request.app[PRESENCE]
    if handles:
        presence.connected(agent.id)
    sender = asyncio.create_task(_forward(socket, mailbox, agent))
    request.app[SOCKETS].add(socket)
    try:
        settings = request.app[SETTINGS]
        hello = {
            "agent": agent.to_dict(),
            "accept_timeout_seconds": settings.accept_timeout_seconds,
        }
        await socket.send_json({"event": "hello", "data": hello})
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            await _on_client_message(request.app, agent, message.data, socket)
        # Whoever ended the loop closes with its reason before aiohttp closes
        # the socket plainly.
        if request.app[SHUTTING_DOWN].is_set():
            await socket.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY)
        elif socket.get("signed_out"):
            await socket.close(code=WSCloseCode.POLICY_VIOLATION, message=SIGNED_OUT)
    finally:
        request.app[SOCKETS].discard(socket)
        unsubscribe()
        sender.cancel()
        if handles:
            presence.disconnected(agent.id)
    return socket


async def _on_client_message(
    app: web.Application, agent: Agent, raw: str, socket: web.WebSocketResponse
) -> None:
    try:
        message = json.loads(raw)
        action = message.get("action")
    except (json.JSONDecodeError, AttributeError, RecursionError):
        await socket.send_json({"event": "error", "data": {"message": "Send JSON objects."}})
        return
    if action == "presence" and agent.role in (AgentRole.AGENT, AgentRole.ADMIN):
        try:
            presence = Presence(message.get("presence"))
        except ValueError:
            await socket.send_json({"event": "error", "data": {"message": "Unknown presence."}})
            return
        await change_presence(app, agent.id, presence)
    elif action == "typing" and agent.role in (AgentRole.AGENT, AgentRole.ADMIN):
        ticket_id, typing = message.get("ticket_id"), message.get("typing")
        if type(ticket_id) is int and 1 <= ticket_id <= MAX_ID and isinstance(typing, bool):
            app[TYPING].report(agent, ticket_id, typing)
    elif action == "ping":
        await socket.send_json({"event": "pong", "data": {}})


async def _forward(socket: web.WebSocketResponse, mailbox: Mailbox, agent: Agent) -> None:
    """Sends each event as `handoff.policy.event_view` lets this agent see it."""
    while not socket.closed:
        name, payload = await mailbox.queue.get()
        if (visible := event_view(agent, name, payload)) is not None:
            try:
                await socket.send_json({"event": name, "data": visible})
            except ConnectionResetError:
                return
