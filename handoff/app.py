"""The bridge's application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import redis.asyncio as redis
from aiohttp import WSCloseCode, web
from sqlalchemy.ext.asyncio import AsyncSession

from handoff import api, migrations
from handoff.agents import service as agents
from handoff.agents.enums import AgentRole, Presence
from handoff.agents.security import PasswordWorkers
from handoff.agents.throttle import LoginThrottle, RedisLoginThrottle
from handoff.app_keys import (
    ATTACHMENTS,
    BUS,
    DATABASE,
    DISPATCHER,
    FANOUT,
    FLOWS,
    LOGIN_THROTTLE,
    PASSWORDS,
    PRESENCE,
    RASA,
    RASA_EVENTS,
    RELAY,
    SETTINGS,
    SHUTTING_DOWN,
    SOCKETS,
    TYPING,
)
from handoff.clock import utcnow
from handoff.cluster import (
    ConsoleRegistry,
    LocalConsoles,
    LocalRelayLog,
    RedisConsoles,
    RedisRelayLog,
    RelayLog,
)
from handoff.console import views as console
from handoff.console.views import GOING_AWAY
from handoff.customers import views as customer_views
from handoff.db import Database
from handoff.dispatcher import PresenceTracker, QueueDispatcher
from handoff.events import EventBus
from handoff.fanout import RedisFanout
from handoff.rasa import RasaClient
from handoff.rasa_events import RasaEventConsumer
from handoff.relay import CustomerRelay
from handoff.settings import Settings
from handoff.tickets.attachments import AttachmentStore
from handoff.tickets.flows import TicketFlows
from handoff.typing import AgentTyping
from handoff.web import (
    MAX_EVENTS_BODY_BYTES,
    Handler,
    authentication_middleware,
    error_middleware,
    origin_middleware,
)

logger = logging.getLogger(__name__)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", console.CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=max(MAX_EVENTS_BODY_BYTES, settings.max_body_bytes),
        middlewares=[
            security_headers,
            error_middleware,
            authentication_middleware(
                api_token=settings.api_token, idle_seconds=settings.session_idle_seconds
            ),
            origin_middleware,
        ],
    )
    app[SETTINGS] = settings
    app[LOGIN_THROTTLE] = LoginThrottle(
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        lockout_seconds=settings.login_lockout_seconds,
    )
    app[BUS] = EventBus()
    app[ATTACHMENTS] = AttachmentStore(settings.attachments_path())
    app[SOCKETS] = set()
    app[SHUTTING_DOWN] = asyncio.Event()
    app.on_shutdown.append(_close_sockets)
    app.cleanup_ctx.append(_services)
    app.router.add_routes(api.routes)
    app.router.add_routes(console.routes)
    app.router.add_routes(customer_views.routes)
    app.router.add_static("/console/static", console.STATIC, name="console_static")
    return app


async def _close_sockets(app: web.Application, *, shutting_down: bool = True) -> None:
    """Consoles learn at once that the bridge is going away, and reconnect
    (to another instance, or to this one to load everything again)."""
    if shutting_down:
        app[SHUTTING_DOWN].set()
    for socket in list(app[SOCKETS]):
        await socket.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY)


async def _services(app: web.Application) -> AsyncIterator[None]:
    """Database (migrated first), Rasa client, flows, the queue's background
    loop and, with several instances, what they share through Redis and
    RabbitMQ, for the app's lifetime."""
    settings = app[SETTINGS]
    await asyncio.to_thread(migrations.upgrade, settings.database_url)
    database = Database(settings.database_url)
    passwords = app[PASSWORDS] = PasswordWorkers(
        threads=settings.password_threads, max_waiting=settings.password_queue
    )
    session = aiohttp.ClientSession()
    rasa = RasaClient(url=settings.rasa_url, token=settings.rasa_token, session=session)
    flows = TicketFlows(
        database=database,
        bus=app[BUS],
        rasa=rasa,
        default_handling_seconds=settings.default_handling_seconds,
    )
    dispatcher = QueueDispatcher(database=database, bus=app[BUS], flows=flows, settings=settings)
    flows.on_queue_changed = dispatcher.request
    async with contextlib.AsyncExitStack() as shared:
        consoles, relayed = await _shared_state(app, shared)
        presence = PresenceTracker(
            dispatcher=dispatcher,
            grace_seconds=settings.disconnect_grace_seconds,
            consoles=consoles,
        )
        app[DATABASE], app[RASA], app[FLOWS] = database, rasa, flows
        app[DISPATCHER], app[PRESENCE] = dispatcher, presence
        app[TYPING] = AgentTyping(database=database, rasa=rasa)
        relay = app[RELAY] = CustomerRelay(
            flows=flows,
            bus=app[BUS],
            relayed=relayed,
            on_customer_activity=lambda ticket_id: dispatcher.activity.__setitem__(
                ticket_id, utcnow()
            ),
        )
        await relay.load_live()
        await _prepare_agents(database, presence, settings, passwords)
        interval = settings.sweep_interval_seconds
        background = [
            asyncio.create_task(dispatcher.run_forever()),
            asyncio.create_task(_every(interval, relay.load_live)),
            asyncio.create_task(_every(interval, presence.adopt_orphans)),
        ]
        if settings.rabbitmq_url:
            consumer = app[RASA_EVENTS] = RasaEventConsumer(
                url=settings.rabbitmq_url,
                exchange=settings.rabbitmq_exchange,
                queue=settings.rabbitmq_queue,
                relay=relay,
            )
            background.append(asyncio.create_task(consumer.run_forever()))
        dispatcher.request()
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await presence.close()
            await app[TYPING].close()
            try:
                await dispatcher.sweep()  # stores the customers' latest activity
            except Exception:
                logger.exception("Final sweep failed")
            finally:
                passwords.close()
                await session.close()
                await database.close()


async def _shared_state(
    app: web.Application, stack: contextlib.AsyncExitStack
) -> tuple[ConsoleRegistry, RelayLog]:
    """In memory for one bridge; in Redis, with the bus fanned out through
    it and sign-in failures counted there, when several instances share
    the work."""
    settings = app[SETTINGS]
    if not settings.redis_url:
        return LocalConsoles(), LocalRelayLog()
    client = redis.Redis.from_url(settings.redis_url)
    stack.push_async_callback(client.close)
    prefix, instance = settings.redis_prefix, settings.instance_id
    app[LOGIN_THROTTLE] = RedisLoginThrottle(
        client,
        prefix,
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        lockout_seconds=settings.login_lockout_seconds,
    )
    consoles = RedisConsoles(client, prefix, instance)
    await consoles.start()
    stack.push_async_callback(consoles.close)
    fanout = app[FANOUT] = RedisFanout(
        url=settings.redis_url,
        channel=f"{prefix}:events",
        instance_id=instance,
        bus=app[BUS],
        on_reconnect=lambda: _close_sockets(app, shutting_down=False),
    )
    fanout.start()
    stack.push_async_callback(fanout.close)
    return consoles, RedisRelayLog(client, prefix)


async def _every(interval: float, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except Exception:  # the next round may work; this one is logged
            logger.exception("%s failed", getattr(job, "__qualname__", job))


async def _prepare_agents(
    database: Database, presence: PresenceTracker, settings: Settings, passwords: PasswordWorkers
) -> None:
    """Agents shown online before a restart get the disconnect grace to come
    back; demo accounts are made on an empty database when asked for."""
    async with database.transaction() as db:
        staff = await agents.list_agents(db)
        if not staff and settings.demo_agents:
            accounts = await _create_demo_agents(db, passwords)
            _write_demo_accounts(accounts, settings.demo_accounts_path)
    for agent in staff:
        if agent.presence != Presence.OFFLINE:
            presence.watch(agent.id)


async def _create_demo_agents(
    db: AsyncSession, passwords: PasswordWorkers
) -> list[tuple[str, str, str]]:
    accounts = [
        ("admin", "管理员 Admin", AgentRole.ADMIN, [], ["zh", "en"]),
        ("agent1", "小王 Wang", AgentRole.AGENT, [], ["zh", "en"]),
        ("agent2", "Alice", AgentRole.AGENT, ["technical", "after_sales"], ["en"]),
        ("analyst", "分析师 Analyst", AgentRole.ANALYST, [], ["zh", "en"]),
    ]
    created = []
    for username, name, role, skills, languages in accounts:
        password = secrets.token_urlsafe(9)
        await agents.create(
            db,
            username=username,
            password=password,
            display_name=name,
            role=role,
            skills=skills,
            languages=languages,
            passwords=passwords,
        )
        created.append((username, password, role.value))
    return created


def _write_demo_accounts(accounts: list[tuple[str, str, str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lines = [f"{username}\t{password}\t{role}" for username, password, role in accounts]
    # Private from the start, whatever the umask: the file holds passwords.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write("# username\tpassword\trole\n" + "\n".join(lines) + "\n")
    path.chmod(0o600)
    logger.warning("Created demo agent accounts; their passwords are in %s", path)
