"""Typed keys for what `create_app` puts on the application."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from handoff.agents.security import PasswordWorkers
    from handoff.agents.throttle import Throttle
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

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DATABASE: web.AppKey[Database] = web.AppKey("database")
BUS: web.AppKey[EventBus] = web.AppKey("bus")
RASA: web.AppKey[RasaClient] = web.AppKey("rasa")
FLOWS: web.AppKey[TicketFlows] = web.AppKey("flows")
DISPATCHER: web.AppKey[QueueDispatcher] = web.AppKey("dispatcher")
PRESENCE: web.AppKey[PresenceTracker] = web.AppKey("presence")
RELAY: web.AppKey[CustomerRelay] = web.AppKey("relay")
TYPING: web.AppKey[AgentTyping] = web.AppKey("typing")
# Only with several instances (Redis configured).
FANOUT: web.AppKey[RedisFanout] = web.AppKey("fanout")
# Only when Rasa's events come through RabbitMQ.
RASA_EVENTS: web.AppKey[RasaEventConsumer] = web.AppKey("rasa_events")
PASSWORDS: web.AppKey[PasswordWorkers] = web.AppKey("passwords")
LOGIN_THROTTLE: web.AppKey[Throttle] = web.AppKey("login_throttle")
ATTACHMENTS: web.AppKey[AttachmentStore] = web.AppKey("attachments")
# Open console sockets, closed with "going away" when the bridge shuts down.
SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sockets")
SHUTTING_DOWN: web.AppKey[asyncio.Event] = web.AppKey("shutting_down")
