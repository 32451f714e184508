"""The bridge's JSON API (described in `openapi.yaml`). Views only parse,
call a flow or service, and serialise."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Extra, Field, StrictStr, conint, constr

from handoff import transcript
from handoff.agents import service as agents
from handoff.agents.enums import AgentRole, Presence
from handoff.agents.models import Agent
from handoff.app_keys import (
    ATTACHMENTS,
    BUS,
    DATABASE,
    DISPATCHER,
    FANOUT,
    FLOWS,
    PASSWORDS,
    RASA,
    RASA_EVENTS,
    RELAY,
    SETTINGS,
)
from handoff.assist import AnswerSuggester
from handoff.db import MAX_ID, storable
from handoff.errors import (
    AttachmentTooLarge,
    InvalidInput,
    NotFound,
    UnsupportedMediaType,
)
from handoff.events import AGENT_PRESENCE_CHANGED
from handoff.policy import Action, authorize, detail_view, queue_view, ticket_view
from handoff.tickets import attachments
from handoff.tickets import service as tickets
from handoff.tickets.enums import Category, Priority, TicketStatus
from handoff.tickets.models import (
    AssignIn,
    CsatIn,
    HandoffIn,
    MessageIn,
    NoteIn,
    StatusIn,
    TicketIn,
    TransferIn,
    text,
)
from handoff.web import (
    ASCII_NUMBER,
    MAX_EVENTS_BODY_BYTES,
    SERVICE,
    int_param,
    parse_body,
    parse_id,
    require,
)

logger = logging.getLogger(__name__)

OPENAPI = Path(__file__).with_name("openapi.yaml")
MAX_EVENTS_PER_POST = 1000
# Room for the multipart framing around an upload's file.
FORM_OVERHEAD_BYTES = 16 * 1024
UPLOAD_CHUNK_BYTES = 64 * 1024
# A download never runs as a page: no script, no plugins, no forms, and
# (sandbox) no origin of its own to act with.
ATTACHMENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

routes = web.RouteTableDef()


def allowed(request: web.Request, action: Action) -> Agent | None:
    """The caller (None for the API token) if their role may do `action` at
    all; checked before the body is read. Whether they may do it to this
    ticket is `handoff.policy`'s call too, once the ticket is loaded."""
    caller = require(request, SERVICE, *AgentRole)  # 401 for nobody
    authorize(caller, action)
    return caller


@routes.get("/health", name="health")
async def health(request: web.Request) -> web.Response:
    """Liveness, and which instance answered; with Redis, whether it is
    reached; with RabbitMQ, whether this
    instance is connected and how many of Rasa's events it has taken (the
    active consumer's count grows)."""
    health: dict[str, Any] = {"status": "ok", "instance": request.app[SETTINGS].instance_id}
    if (fanout := request.app.get(FANOUT)) is not None:
        health["redis"] = {"connected": fanout.reachable}
    if (consumer := request.app.get(RASA_EVENTS)) is not None:
        health["rabbitmq"] = {"connected": consumer.reachable, "consumed": consumer.consumed}
    return web.json_response(health)


@routes.get("/api/openapi.yaml", name="openapi")
async def openapi(request: web.Request) -> web.FileResponse:
    return web.FileResponse(OPENAPI, headers={"Content-Type": "application/yaml"})


# --- tickets --------------------------------------------------------------------


@routes.post("/api/tickets", name="tickets_create")
async def create_ticket(request: web.Request) -> web.Response:
    agent = allowed(request, Action.OPEN_TICKET)
    data = await parse_body(request, TicketIn)
    ticket = await request.app[FLOWS].create(data, actor=tickets.actor_name(agent))
    return web.json_response(ticket.to_dict(), status=201)


@routes.get("/api/tickets", name="tickets_list")
async def list_tickets(request: web.Request) -> web.Response:
    caller = allowed(request, Action.READ_TICKET)
    query = request.query
    filters = {
        name: _filter_values(name, query.getall(name))
        for name in tickets.LIST_FILTERS
        if name in query
    }
    async with request.app[DATABASE].reading() as db:
        rows, total = await tickets.list_tickets(
            db,
            filters=filters,
            live=_bool(query.get("live")),
            created_from=_datetime(query.get("created_from")),
            created_until=_datetime(query.get("created_until")),
            limit=_int(query.get("limit"), 50),
            offset=_int(query.get("offset"), 0),
        )
    return web.json_response(
        {"total": total, "tickets": [ticket_view(caller, t.to_dict()) for t in rows]}
    )


@routes.get("/api/tickets/{ticket_id}", name="ticket")
async def get_ticket(request: web.Request) -> web.Response:
    caller = allowed(request, Action.READ_TICKET)
    ticket_id = int_param(request, "ticket_id")
    async with request.app[DATABASE].reading() as db:
        ticket = await tickets.get(db, ticket_id=ticket_id)
        history = await tickets.history(db, ticket_id=ticket_id)
        notes = await tickets.notes(db, ticket_id=ticket_id)
    return web.json_response(
        detail_view(
            caller,
            ticket.to_dict(),
            history=[event.to_dict() for event in history],
            notes=[note.to_dict() for note in notes],
        )
    )


@routes.get("/api/tickets/{ticket_id}/context", name="ticket_context")
async def ticket_context(request: web.Request) -> web.Response:
    """Everything the console shows when an agent opens a conversation."""
    caller = allowed(request, Action.READ_CONVERSATION)
    ticket_id = int_param(request, "ticket_id")
    async with request.app[DATABASE].reading() as db:
        ticket = await tickets.get(db, ticket_id=ticket_id)
        authorize(caller, Action.READ_CONVERSATION, ticket)
        history = await tickets.history(db, ticket_id=ticket_id)
        notes = await tickets.notes(db, ticket_id=ticket_id)
        files = await tickets.attachments(db, ticket_id=ticket_id)
    conversation = await transcript.read_conversation(request.app[RASA], ticket)
    past = await request.app[FLOWS].customer_history(ticket.conversation_id, exclude=ticket_id)
    return web.json_response(
        {
            "ticket": ticket.to_dict(),
            "history": [event.to_dict() for event in history],
            "notes": [note.to_dict() for note in notes],
            **conversation,
            "attachments": [attachment.to_dict() for attachment in files],
            "past_tickets": past,
        }
    )


@routes.get("/api/tickets/{ticket_id}/suggestions", name="ticket_suggestions")
async def suggestions(request: web.Request) -> web.Response:
    caller = allowed(request, Action.READ_CONVERSATION)
    ticket_id = int_param(request, "ticket_id")
    async with request.app[DATABASE].reading() as db:
        ticket = await tickets.get(db, ticket_id=ticket_id)
    authorize(caller, Action.READ_CONVERSATION, ticket)
    suggester = AnswerSuggester(rasa=request.app[RASA])
    return web.json_response(await suggester.for_ticket(ticket, text=request.query.get("text")))


@routes.patch("/api/tickets/{ticket_id}/status", name="ticket_status")
async def update_status(request: web.Request) -> web.Response:
    agent = allowed(request, Action.CHANGE_STATUS)
    data = await parse_body(request, StatusIn)
    ticket = await request.app[FLOWS].set_status(
        int_param(request, "ticket_id"), to=data.status, by=agent, comment=data.comment
    )
    return web.json_response(ticket.to_dict())


@routes.post("/api/tickets/{ticket_id}/claim", name="ticket_claim")
async def claim(request: web.Request) -> web.Response:
    agent = allowed(request, Action.CLAIM)
    ticket = await request.app[FLOWS].claim(int_param(request, "ticket_id"), agent=agent)
    return web.json_response(ticket.to_dict())


@routes.post("/api/tickets/{ticket_id}/decline", name="ticket_decline")
async def decline(request: web.Request) -> web.Response:
    agent = allowed(request, Action.DECLINE)
    await request.app[FLOWS].decline(int_param(request, "ticket_id"), agent=agent)
    return web.json_response({"declined": True})


@routes.post("/api/tickets/{ticket_id}/assign", name="ticket_assign")
async def assign(request: web.Request) -> web.Response:
    agent = allowed(request, Action.CLAIM)
    data = await parse_body(request, AssignIn)
    ticket = await request.app[FLOWS].assign(
        int_param(request, "ticket_id"), agent_id=data.agent_id, by=agent
    )
    return web.json_response(ticket.to_dict())


@routes.post("/api/tickets/{ticket_id}/transfer", name="ticket_transfer")
async def transfer(request: web.Request) -> web.Response:
    agent = allowed(request, Action.TRANSFER)
    data = await parse_body(request, TransferIn)
    ticket = await request.app[FLOWS].transfer(
        int_param(request, "ticket_id"),
        by=agent,
        to_agent_id=data.agent_id,
        skill_group=data.skill_group.value if data.skill_group else None,
        comment=data.comment,
    )
    return web.json_response(ticket.to_dict())


@routes.post("/api/tickets/{ticket_id}/release", name="ticket_release")
async def release(request: web.Request) -> web.Response:
    agent = allowed(request, Action.RELEASE)
    ticket = await request.app[FLOWS].release(int_param(request, "ticket_id"), by=agent)
    return web.json_response(ticket.to_dict())


@routes.post("/api/tickets/{ticket_id}/messages", name="ticket_messages")
async def send_message(request: web.Request) -> web.Response:
    agent = allowed(request, Action.MESSAGE)
    data = await parse_body(request, MessageIn)
    message = await request.app[FLOWS].send_message(
        int_param(request, "ticket_id"),
        agent=agent,
        text=data.text,
        client_message_id=data.client_message_id,
    )
    return web.json_response(message, status=201)


@routes.post("/api/tickets/{ticket_id}/notes", name="ticket_notes")
async def add_note(request: web.Request) -> web.Response:
    agent = allowed(request, Action.ADD_NOTE)
    data = await parse_body(request, NoteIn)
    note = await request.app[FLOWS].add_note(
        int_param(request, "ticket_id"), by=agent, text=data.text
    )
    return web.json_response(note, status=201)


@routes.post("/api/tickets/{ticket_id}/csat", name="ticket_csat")
async def record_csat(request: web.Request) -> web.Response:
    allowed(request, Action.RECORD_CSAT)
    data = await parse_body(request, CsatIn)
    ticket = await request.app[FLOWS].record_csat(
        int_param(request, "ticket_id"),
        conversation_id=data.conversation_id,
        score=data.score,
        comment=data.comment,
    )
    return web.json_response(ticket.to_dict())


# --- the assistant's side ----------------------------------------------------------


@routes.post("/api/handoffs", name="handoffs")
async def request_handoff(request: web.Request) -> web.Response:
    allowed(request, Action.REQUEST_HANDOFF)
    data = await parse_body(request, HandoffIn)
    result = await request.app[FLOWS].request_handoff(data)
    return web.json_response(result.to_dict(), status=200 if result.linked else 201)


class IntentIn(BaseModel):
    name: StrictStr | None = None
    confidence: float | None = None


class ParseDataIn(BaseModel, extra=Extra.allow):
    intent: IntentIn | None = None


class RasaEventIn(BaseModel, extra=Extra.allow):
    """A tracker event as Rasa's broker posts it. The fields the relay reads
    are checked; the others pass through untouched."""

    event: StrictStr
    sender_id: StrictStr | None = None
    timestamp: float | None = None
    text: StrictStr | None = None
    message_id: StrictStr | None = None
    metadata: dict[str, Any] | None = None
    parse_data: ParseDataIn | None = None


class RasaEvents(BaseModel):
    __root__: list[RasaEventIn] = Field(..., max_items=MAX_EVENTS_PER_POST)


@routes.post("/api/rasa/events", name="rasa_events")
async def rasa_events(request: web.Request) -> web.Response:
    """Rasa's event broker (`addons.broker`) posts tracker events here."""
    allowed(request, Action.RELAY_EVENTS)
    batch = await parse_body(request, RasaEvents, max_bytes=MAX_EVENTS_BODY_BYTES)
    relayed = await request.app[RELAY].receive([event.dict() for event in batch.__root__])
    return web.json_response({"received": len(batch.__root__), "relayed": relayed})


# --- customers' files -------------------------------------------------------------------


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes
    channel: str | None


@routes.post("/api/conversations/{conversation_id}/attachments", name="attachments_upload")
async def upload_attachment(request: web.Request) -> web.Response:
    """A channel keeps a customer's file on the conversation's live (else
    newest open) ticket; the ticket is looked up before the file is read."""
    allowed(request, Action.UPLOAD_ATTACHMENT)
    conversation_id = request.match_info["conversation_id"]
    if not 1 <= len(conversation_id) <= 255 or not storable(conversation_id):
        raise InvalidInput("conversation_id must be 1 to 255 characters without NUL.")
    flows = request.app[FLOWS]
    await flows.attachment_ticket(conversation_id)
    upload = await _read_upload(request, max_bytes=request.app[SETTINGS].max_attachment_bytes)
    kind = attachments.kind_of(upload.data, declared=upload.content_type, filename=upload.filename)
    store = request.app[ATTACHMENTS]
    key = await store.save(upload.data)
    try:
        added = await flows.attach(
            conversation_id,
            channel=upload.channel,
            name=attachments.display_name(upload.filename, kind),
            content_type=kind,
            size=len(upload.data),
            sha256=hashlib.sha256(upload.data).hexdigest(),
            storage_key=key,
        )
    except BaseException:
        await store.discard(key)
        raise
    return web.json_response(added, status=201)


@routes.get("/api/attachments/{attachment_id}", name="attachment")
async def download_attachment(request: web.Request) -> web.FileResponse:
    """For whoever may read the conversation; served so that it can never
    run as a page of the console's origin (see ATTACHMENT_CSP)."""
    caller = allowed(request, Action.READ_CONVERSATION)
    async with request.app[DATABASE].reading() as db:
        attachment = await tickets.get_attachment(
            db, attachment_id=int_param(request, "attachment_id")
        )
        ticket = await tickets.get(db, ticket_id=attachment.ticket_id)
    authorize(caller, Action.READ_CONVERSATION, ticket)
    path = request.app[ATTACHMENTS].path(attachment.storage_key)
    if not path.is_file():
        logger.error("Attachment %s has no file at %s", attachment.id, path)
        raise NotFound(f"Attachment {attachment.id}'s file is missing.")
    inline = attachment.content_type in attachments.IMAGES
    disposition = attachments.content_disposition(attachment.name, inline=inline)
    return web.FileResponse(
        path,
        headers={
            hdrs.CONTENT_TYPE: attachment.content_type,
            hdrs.CONTENT_DISPOSITION: disposition,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": ATTACHMENT_CSP,
            hdrs.CACHE_CONTROL: "private, max-age=300",
        },
    )


async def _read_upload(request: web.Request, *, max_bytes: int) -> Upload:
    """The form's `file` part (read only up to `max_bytes`) and optional
    `channel` field; anything else in the form is refused."""
    too_large = AttachmentTooLarge(
        f"The file is larger than {max_bytes // (1024 * 1024) or 1} MB.", limit_bytes=max_bytes
    )
    if (request.content_length or 0) > max_bytes + FORM_OVERHEAD_BYTES:
        raise too_large
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data, in a part named file.")
    fields: dict[str, tuple[BodyPartReader, bytes]] = {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name not in ("file", "channel"):
                raise InvalidInput("The form may hold only a file part and a channel field.")
            if part.name in fields:
                raise InvalidInput(f"The form holds {part.name} twice.")
            limit = max_bytes if part.name == "file" else 64
            if (data := await _read_part(part, limit)) is None:
                if part.name == "file":
                    raise too_large
                raise InvalidInput(f"The {part.name} field is longer than {limit} bytes.")
            fields[part.name] = (part, data)
    except (HttpProcessingError, ValueError, AssertionError, RuntimeError, LookupError) as error:
        raise InvalidInput(f"The multipart body is malformed: {error}.") from error
    if "file" not in fields:
        raise InvalidInput("The form has no part named file.")
    part, data = fields["file"]
    channel = None
    if "channel" in fields:
        try:
            channel = fields["channel"][1].decode() or None
        except UnicodeDecodeError as error:
            raise InvalidInput("The channel field is not UTF-8.") from error
        if channel is not None and not storable(channel):
            raise InvalidInput("The channel field holds NUL.")
    return Upload(
        filename=part.filename or "",
        content_type=part.headers.get(hdrs.CONTENT_TYPE, ""),
        data=data,
        channel=channel,
    )


async def _read_part(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's bytes; None as soon as they pass `limit`."""
    chunks, size = [], 0
    while chunk := await part.read_chunk(UPLOAD_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# --- queue and agents -------------------------------------------------------------------


@routes.get("/api/queue", name="queue")
async def queue(request: web.Request) -> web.Response:
    caller = allowed(request, Action.READ_QUEUE)
    async with request.app[DATABASE].reading() as db:
        waiting = await tickets.waiting_queue(db)
    return web.json_response({"tickets": queue_view(caller, waiting)})


# A picture customers' channels load from the web pages they are on: HTTPS
# only (no http: mixed content, no javascript: or data: URLs).
AvatarUrl = constr(strict=True, max_length=512, regex=r"^https://[^\s\"'<>\\]+\Z")


class AgentIn(BaseModel):
    username: constr(strict=True, min_length=2, max_length=64, regex=r"^[A-Za-z0-9_.@-]+\Z")
    password: text(256, min_length=8)
    display_name: text(128) | None = None
    role: AgentRole = AgentRole.AGENT
    skills: list[text(64)] = Field(default_factory=list)
    languages: list[text(8)] = Field(default_factory=lambda: ["zh", "en"])
    capacity: conint(strict=True, ge=1, le=50) = 3
    avatar_url: AvatarUrl | None = None


class PresenceIn(BaseModel):
    presence: Presence


class ProfileIn(BaseModel):
    """What an agent changes of themselves; a null avatar_url removes it."""

    display_name: text(128, min_length=1) | None = None
    avatar_url: AvatarUrl | None = None


@routes.get("/api/agents", name="agents")
async def list_agents(request: web.Request) -> web.Response:
    allowed(request, Action.LIST_AGENTS)
    async with request.app[DATABASE].reading() as db:
        staff = await agents.list_agents(db)
        load = await agents.active_counts(db)
    return web.json_response(
        {"agents": [{**agent.to_dict(), "active": load.get(agent.id, 0)} for agent in staff]}
    )


@routes.post("/api/agents", name="agents_create")
async def create_agent(request: web.Request) -> web.Response:
    allowed(request, Action.CREATE_AGENT)
    data = await parse_body(request, AgentIn)
    async with request.app[DATABASE].transaction() as db:
        agent = await agents.create(db, **data.dict(), passwords=request.app[PASSWORDS])
    return web.json_response(agent.to_dict(), status=201)


@routes.patch("/api/agents/me", name="profile")
async def edit_profile(request: web.Request) -> web.Response:
    agent = allowed(request, Action.EDIT_PROFILE)
    data = await parse_body(request, ProfileIn)
    async with request.app[DATABASE].transaction() as db:
        agent = await agents.get(db, agent_id=agent.id)
        if data.display_name is not None:
            agent.display_name = data.display_name.strip() or agent.display_name
        if "avatar_url" in data.__fields_set__:
            agent.avatar_url = data.avatar_url
        snapshot = agent.to_dict()
    return web.json_response(snapshot)


@routes.put("/api/agents/me/presence", name="presence")
async def set_presence(request: web.Request) -> web.Response:
    agent = allowed(request, Action.SET_PRESENCE)
    data = await parse_body(request, PresenceIn)
    snapshot = await change_presence(request.app, agent.id, data.presence)
    return web.json_response(snapshot)


async def change_presence(app: web.Application, agent_id: int, presence: Presence) -> dict:
    async with app[DATABASE].transaction() as db:
        agent = await agents.get(db, agent_id=agent_id)
        changed = await agents.set_presence(db, agent=agent, presence=presence)
        snapshot = agent.to_dict()
    if changed:
        app[BUS].publish(AGENT_PRESENCE_CHANGED, {"agent": snapshot})
        app[DISPATCHER].request()
    return snapshot


# --- query parsing -----------------------------------------------------------------


FILTER_ENUMS: dict[str, type[StrEnum]] = {
    "status": TicketStatus,
    "category": Category,
    "priority": Priority,
}


def _filter_values(name: str, values: list[str]) -> list[Any]:
    if name == "assignee_id":
        return [parse_id(value, name) for value in values]
    if enum := FILTER_ENUMS.get(name):
        allowed = {member.value for member in enum}
        if unknown := [value for value in values if value not in allowed]:
            raise InvalidInput(
                f"Unknown {name} {unknown[0]!r}; use one of {', '.join(sorted(allowed))}."
            )
    return values


def _int(value: str | None, default: int) -> int:
    """A count or offset: ASCII digits, at most `MAX_ID` (databases refuse
    larger numbers with an error, not an empty page)."""
    if value is None:
        return default
    if ASCII_NUMBER.fullmatch(value) and (number := int(value)) <= MAX_ID:
        return number
    raise InvalidInput(f"{value!r} is not a whole number from 0 to {MAX_ID}.")


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise InvalidInput(f"{value!r} is not true or false.")


def _datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is not None:  # 9999-12-31T23:59-23:59 is past year 9999 in UTC
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError) as error:
        raise InvalidInput(f"{value!r} is not an ISO 8601 date within years 1 to 9999.") from error
    return moment
