"""Multi-step work on tickets with side effects: the handoff itself, claims,
transfers, messages to the customer, resolution and CSAT.

Each flow changes the database in one transaction and only then talks to
Rasa and publishes events, so nothing is announced that did not happen.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff import channels, events, transcript
from handoff.agents import service as agents
from handoff.agents.enums import AgentRole, Presence
from handoff.agents.models import Agent
from handoff.clock import from_timestamp, isoformat, utcnow
from handoff.customers import service as customers
from handoff.db import Database
from handoff.errors import (
    Conflict,
    DeliveryFailed,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NoOpenTicket,
    NotFound,
    RasaUnavailable,
)
from handoff.events import EventBus
from handoff.notices import HandoffState, notice
from handoff.policy import Action, authorize
from handoff.rasa import RasaClient
from handoff.replies import SentReplies, delivered_reply
from handoff.routing import estimated_wait_seconds
from handoff.tickets import service as tickets
from handoff.tickets.enums import WAITING_STATUSES, Priority, TicketStatus
from handoff.tickets.models import MAX_TEXT, HandoffIn, Ticket, TicketIn

logger = logging.getLogger(__name__)

# Sent by the bridge as external intents when it gives the conversation back.
INTENT_RESOLVED = "EXTERNAL_handoff_resolved"
INTENT_RELEASED = "EXTERNAL_handoff_released"
HANDLING_ROLES = (AgentRole.AGENT.value, AgentRole.ADMIN.value)


@dataclass
class HandoffResult:
    ticket: Ticket
    linked: bool
    agents_online: int
    queue_position: int | None
    estimated_wait_seconds: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket.to_dict(),
            "linked": self.linked,
            "live": self.ticket.live,
            "agents_online": self.agents_online,
            "queue_position": self.queue_position,
            "estimated_wait_seconds": self.estimated_wait_seconds,
        }


class TicketFlows:
    def __init__(
        self,
        *,
        database: Database,
        bus: EventBus,
        rasa: RasaClient,
        default_handling_seconds: float,
        on_queue_changed: Any = None,
    ) -> None:
        self._db = database
        self._bus = bus
        self._rasa = rasa
        self._default_handling_seconds = default_handling_seconds
        self._replies = SentReplies(database)
        # The dispatcher offers waiting conversations whenever the queue or
        # an agent's load changes.
        self.on_queue_changed = on_queue_changed or (lambda: None)

    # --- creation ----------------------------------------------------------

    async def create(self, data: TicketIn, *, actor: str) -> Ticket:
        async with self._db.transaction() as db:
            ticket = await tickets.create(db, data=data)
            await self._link_customer(db, ticket, data)
            tickets.record(
                db, ticket=ticket, name=events.TICKET_CREATED, actor=actor, source=data.source
            )
        self._publish(events.TICKET_CREATED, ticket)
        return ticket

    async def request_handoff(self, data: HandoffIn) -> HandoffResult:
        """Creates or links the conversation's ticket and, if an agent able
        to take it is online, puts the conversation in the live queue."""
        async with self._db.transaction() as db:
            await self._db.serialise(db, f"handoff:{data.conversation_id}")
            # A follow-up never goes live, so nobody need be online for it.
            able = (
                []
                if data.follow_up
                else [
                    agent
                    for agent in await agents.list_agents(db)
                    if agent.role in HANDLING_ROLES
                    and agent.presence == Presence.ONLINE
                    and agent.can_handle(data.category.value, data.language)
                ]
            )
            ticket = await tickets.open_ticket_for(db, conversation_id=data.conversation_id)
            linked = ticket is not None
            if ticket is None:
                ticket = await tickets.create(db, data=data, live=bool(able))
                await self._link_customer(db, ticket, data)
                tickets.record(
                    db,
                    ticket=ticket,
                    name=events.TICKET_CREATED,
                    actor="service",
                    source=data.source,
                )
            else:
                _merge_handoff(ticket, data)
                if (
                    able
                    and ticket.status == TicketStatus.IN_PROGRESS
                    and not ticket.live
                    and ticket.assignee_id not in {agent.id for agent in able}
                ):
                    # Released earlier by an agent who is not here now: queue it.
                    await tickets.transition(
                        db,
                        ticket=ticket,
                        to=TicketStatus.PENDING,
                        actor="service",
                        comment="asked again; the assignee is away",
                    )
                if able and not ticket.live:
                    now = utcnow()
                    ticket.live = True
                    ticket.queued_at = now
                    ticket.last_customer_message_at = now
                    ticket.abandoned_at = None
            tickets.record(
                db,
                ticket=ticket,
                name=events.TICKET_HANDOFF_REQUESTED,
                actor="service",
                reason=data.handoff_reason.value if data.handoff_reason else None,
                live=ticket.live,
                linked=linked,
            )
            await db.flush()
            position = wait = None
            if ticket.live and TicketStatus(ticket.status) in WAITING_STATUSES:
                position = await tickets.queue_position(db, ticket=ticket)
                handling = await tickets.average_handling_seconds(
                    db, default=self._default_handling_seconds
                )
                wait = estimated_wait_seconds(position, len(able), handling)
            elif ticket.live:
                position, wait = 0, 0
        self._publish(events.TICKET_UPDATED if linked else events.TICKET_CREATED, ticket)
        if ticket.live:
            self.on_queue_changed()
        return HandoffResult(ticket, linked, len(able), position, wait)

    async def _link_customer(self, db: AsyncSession, ticket: Ticket, data: TicketIn) -> None:
        """Files the new ticket under its customer, whichever channel they
        came on; transactions about the same identities run one at a time."""
        claim = customers.claim_of(data)
        for kind, value in customers.keys(claim):
            await self._db.serialise(db, f"customer:{kind}:{value}")
        ticket.customer_id = (await customers.identify(db, claim=claim)).id

    # --- agents taking and passing on work ---------------------------------

    async def claim(self, ticket_id: int, *, agent: Agent, by: Agent | None = None) -> Ticket:
        """`agent` takes the ticket; `by` an admin giving it to them."""
        _require_handler(agent)
        async with self._db.transaction() as db:
            ticket = await tickets.get(db, ticket_id=ticket_id)
            if TicketStatus(ticket.status) in WAITING_STATUSES:
                # A ticket already taken is answered 409 by the claim below,
                # naming who has it, as to the loser of a race.
                if by is None or by.id == agent.id:
                    authorize(agent, Action.CLAIM, ticket)
                else:
                    authorize(by, Action.ASSIGN, ticket)
            agent = await agents.get(db, agent_id=agent.id)
            await tickets.claim(db, ticket=ticket, agent=agent)
        self._publish(events.TICKET_ASSIGNED, ticket)
        self.on_queue_changed()
        if ticket.live:
            await self._notify_customer(
                ticket,
                notice("agent_joined", ticket.language, agent=agent.display_name),
                agent,
                handoff_state=HandoffState.CONNECTED,
            )
        return ticket

    async def assign(self, ticket_id: int, *, agent_id: int, by: Agent) -> Ticket:
        """An admin gives a ticket to an agent: a claim on their behalf for a
        waiting ticket, a transfer for one already in progress."""
        if by.id != agent_id:
            authorize(by, Action.ASSIGN)
        async with self._db.reading() as db:
            ticket = await tickets.get(db, ticket_id=ticket_id)
            target = await agents.get(db, agent_id=agent_id)
        if ticket.status == TicketStatus.IN_PROGRESS:
            return await self.transfer(ticket_id, by=by, to_agent_id=agent_id)
        return await self.claim(ticket_id, agent=target, by=by)

    async def transfer(
        self,
        ticket_id: int,
        *,
        by: Agent,
        to_agent_id: int | None = None,
        skill_group: str | None = None,
        comment: str | None = None,
    ) -> Ticket:
        if (to_agent_id is None) == (skill_group is None):
            raise InvalidInput("Transfer to exactly one of: an agent, a skill group.")
        async with self._db.transaction() as db:
            ticket = await tickets.get(db, ticket_id=ticket_id)
            authorize(by, Action.TRANSFER, ticket)
            if ticket.status != TicketStatus.IN_PROGRESS:
                raise InvalidTransition(f"Ticket {ticket_id} is {ticket.status}; claim it first.")
            skipped = sorted({*(ticket.skipped_agent_ids or []), by.id})
            if to_agent_id is not None:
                target = await agents.get(db, agent_id=to_agent_id)
                _require_handler(target)
                if target.id == ticket.assignee_id:
                    raise InvalidInput("The ticket is already theirs.")
                await db.execute(
                    update(Ticket)
                    .where(Ticket.id == ticket.id, Ticket.assignee_id == ticket.assignee_id)
                    .values(assignee_id=target.id, assigned_at=utcnow(), skipped_agent_ids=skipped)
                    .execution_options(synchronize_session=False)
                )
                target.last_assigned_at = utcnow()
            else:
                ticket.skill_group = skill_group
                ticket.skipped_agent_ids = skipped
                await tickets.transition(
                    db,
                    ticket=ticket,
                    to=TicketStatus.PENDING,
                    actor=tickets.actor_name(by),
                    agent_id=by.id,
                    comment=comment,
                )
            await db.flush()
            await db.refresh(ticket)
            tickets.record(
                db,
                ticket=ticket,
                name=events.TICKET_TRANSFERRED,
                actor=tickets.actor_name(by),
                agent_id=by.id,
                to_agent_id=to_agent_id,
                skill_group=skill_group,
                comment=comment,
            )
        self._publish(events.TICKET_TRANSFERRED, ticket, from_agent_id=by.id)
        self.on_queue_changed()
        if ticket.live:
            await self._notify_customer(
                ticket, notice("transferred", ticket.language), by, HandoffState.TRANSFERRED
            )
        return ticket

    async def requeue(
        self, ticket_id: int, *, reason: str, declined_by: Agent | None = None
    ) -> Ticket | None:
        """Puts a live conversation back in the queue (agent gone or silent,
        or `declined_by` the agent it is offered to); it keeps its place in line."""
        async with self._db.transaction() as db:
            ticket = await tickets.get(db, ticket_id=ticket_id)
            # Checked in the transaction: the offer may have been accepted or
            # passed to someone else since the agent clicked.
            if declined_by is not None and ticket.offered_to_id != declined_by.id:
                raise Conflict("This conversation is not offered to you (any more).")
            if not ticket.live or ticket.status not in (
                TicketStatus.IN_PROGRESS,
                *WAITING_STATUSES,
            ):
                return None
            previous = ticket.assignee_id or ticket.offered_to_id
            if previous is not None:
                ticket.skipped_agent_ids = sorted({*(ticket.skipped_agent_ids or []), previous})
            if ticket.status == TicketStatus.IN_PROGRESS:
                await tickets.transition(
                    db, ticket=ticket, to=TicketStatus.PENDING, actor="system", comment=reason
                )
            else:
                ticket.offered_to_id = ticket.offered_at = None
            tickets.record(
                db,
                ticket=ticket,
                name=events.TICKET_REQUEUED,
                actor="system",
                agent_id=previous,
                reason=reason,
            )
            await db.flush()
        self._publish(events.TICKET_REQUEUED, ticket, from_agent_id=previous)
        self.on_queue_changed()
        return ticket

    async def decline(self, ticket_id: int, *, agent: Agent) -> Ticket | None:
        """The agent passes on an offer; it goes to the next agent at once."""
        return await self.requeue(ticket_id, reason="offer_declined", declined_by=agent)

    # --- talking -------------------------------------------------------------

    async def send_message(
        self, ticket_id: int, *, agent: Agent, text: str, client_message_id: str | None = None
    ) -> dict[str, Any]:
        """The agent's reply goes to the customer through Rasa, which logs it
        in the tracker and sends it on the customer's latest channel: while
        they are live, or at any time on a channel that reaches them then
        (mail; channels.yml `delivers_offline`). With a `client_message_id`,
        sending the same reply again delivers it once."""
        key = None if client_message_id is None else (ticket_id, agent.id, client_message_id)
        async with self._db.reading() as db:
            sent = None if key is None else await delivered_reply(db, key)
            ticket = await tickets.get(db, ticket_id=ticket_id)
        if sent is not None:
            # Answered as first sent, even if the ticket has moved on since.
            return _same_reply(sent, text)
        authorize(agent, Action.MESSAGE, ticket)
        reachable = ticket.live or channels.channel(ticket.channel).delivers_offline
        if not reachable or ticket.status != TicketStatus.IN_PROGRESS:
            raise InvalidTransition("The customer is no longer connected to you on this ticket.")
        if key is None:
            message = await self._tell_customer(ticket, text, agent)
        else:
            message = _same_reply(
                await self._replies.send_once(
                    key,
                    send=lambda: self._tell_customer(ticket, text, agent, client_message_id),
                    find_delivered=lambda: self._delivered_reply(ticket, agent, client_message_id),
                ),
                text,
            )
        if ticket.first_response_at is None:
            async with self._db.transaction() as db:
                await db.execute(
                    update(Ticket)
                    .where(Ticket.id == ticket.id, Ticket.first_response_at.is_(None))
                    .values(first_response_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
        return message

    async def _notify_customer(
        self, ticket: Ticket, text: str, agent: Agent, handoff_state: HandoffState | None = None
    ) -> None:
        """A courtesy notice: the ticket change it follows stands even if
        Rasa cannot deliver it. `handoff_state` tells channels that show the
        handoff (the web widget) where it stands."""
        try:
            await self._tell_customer(ticket, text, agent, handoff_state=handoff_state)
        except (RasaUnavailable, DeliveryFailed):
            logger.warning("Could not tell conversation %s: %s", ticket.conversation_id, text)

    async def _tell_customer(
        self,
        ticket: Ticket,
        text: str,
        agent: Agent,
        client_message_id: str | None = None,
        *,
        handoff_state: HandoffState | None = None,
    ) -> dict[str, Any]:
        """Rasa hands the metadata to the customer's channel with the text
        (`BotUttered.message()`), so channels show who wrote it."""
        metadata = {
            "agent_id": agent.id,
            "agent_name": agent.display_name,
            "agent_avatar": agent.avatar_url,
            "ticket_id": ticket.id,
            "message_id": uuid.uuid4().hex,
        }
        if client_message_id is not None:
            metadata["client_message_id"] = client_message_id
        if handoff_state is not None:
            metadata["handoff_state"] = handoff_state.value
        await self._rasa.append_events(
            ticket.conversation_id, [{"event": "bot", "text": text, "metadata": metadata}]
        )
        return self._publish_reply(ticket, agent, text, metadata["message_id"], utcnow())

    async def _delivered_reply(
        self, ticket: Ticket, agent: Agent, client_message_id: str
    ) -> dict[str, Any] | None:
        """The reply as Rasa logged it, if an earlier, failed-looking send got through."""
        tracker = await self._rasa.tracker(ticket.conversation_id)
        event = transcript.agent_reply(
            tracker, agent_id=agent.id, client_message_id=client_message_id
        )
        if event is None:
            return None
        return self._publish_reply(
            ticket,
            agent,
            event["text"],
            event["metadata"]["message_id"],
            from_timestamp(event["timestamp"]),
        )

    def _publish_reply(
        self, ticket: Ticket, agent: Agent, text: str, message_id: str, at: datetime
    ) -> dict[str, Any]:
        message = {
            "ticket_id": ticket.id,
            "owner_id": ticket.assignee_id,
            "conversation_id": ticket.conversation_id,
            "message_id": message_id,
            "sender": "agent",
            "agent_id": agent.id,
            "agent_name": agent.display_name,
            "text": text,
            "at": isoformat(at),
        }
        self._bus.publish(events.MESSAGE_FROM_AGENT, message)
        return message

    # --- giving the conversation back ----------------------------------------

    async def set_status(
        self, ticket_id: int, *, to: TicketStatus, by: Agent | None, comment: str | None = None
    ) -> Ticket:
        if to is TicketStatus.RESOLVED:
            return await self.resolve(ticket_id, by=by, comment=comment)
        if to is TicketStatus.IN_PROGRESS:
            if by is None:
                raise InvalidInput("Only an agent can take a ticket into progress.")
            async with self._db.reading() as db:
                tickets.check_transition(await tickets.get(db, ticket_id=ticket_id), to)
            return await self.claim(ticket_id, agent=by)
        async with self._db.transaction() as db:
            ticket = await tickets.get(db, ticket_id=ticket_id)
            was_live = ticket.live
            authorize(by, Action.CHANGE_STATUS, ticket)
            await tickets.transition(
                db,
                ticket=ticket,
                to=to,
                actor=tickets.actor_name(by),
                agent_id=by.id if by else None,
                comment=comment,
            )
            if to is TicketStatus.CLOSED:
                ticket.live = False
            if to is TicketStatus.REOPENED:
                ticket.queued_at = utcnow()
        self._publish(events.TICKET_STATUS_CHANGED, ticket)
        self.on_queue_changed()
        if to is TicketStatus.CLOSED and was_live:
            await self._resume(ticket, intent=None)
        return ticket

    async def resolve(self, ticket_id: int, *, by: Agent | None, comment: str | None) -> Ticket:
        async with self._db.transaction() as db:
            ticket = await tickets.get(db, ticket_id=ticket_id)
            authorize(by, Action.CHANGE_STATUS, ticket)
            was_live = ticket.live
            await tickets.transition(
                db,
                ticket=ticket,
                to=TicketStatus.RESOLVED,
                actor=tickets.actor_name(by),
                agent_id=by.id if by else None,
                comment=comment,
            )
            ticket.live = False
        self._publish(events.TICKET_STATUS_CHANGED, ticket)
        self.on_queue_changed()
        if was_live and by is not None:
            await self._notify_customer(
                ticket, notice("resolved", ticket.language), by, HandoffState.RESOLVED
            )
        if was_live or ticket.source == "assistant":
            await self._resume(ticket, intent=INTENT_RESOLVED, paused=was_live)
        return ticket

    async def release(self, ticket_id: int, *, by: Agent) -> Ticket:
        """Hands the conversation back to the bot; the ticket stays the
        agent's, open for follow-up."""
        async with self._db.transaction() as db:
            ticket = await tickets.get(db, ticket_id=ticket_id)
            authorize(by, Action.RELEASE, ticket)
            if not ticket.live:
                raise Conflict("The conversation is already with the bot.")
            ticket.live = False
            tickets.record(
                db,
                ticket=ticket,
                name=events.TICKET_RELEASED,
                actor=tickets.actor_name(by),
                agent_id=by.id,
            )
        self._publish(events.TICKET_RELEASED, ticket)
        self.on_queue_changed()
        await self._notify_customer(
            ticket, notice("released", ticket.language), by, HandoffState.RELEASED
        )
        await self._resume(ticket, intent=INTENT_RELEASED)
        return ticket

    async def abandon(self, ticket_id: int) -> Ticket | None:
        """The customer left: the ticket stays open for follow-up, marked."""
        async with self._db.transaction() as db:
            ticket = await tickets.get(db, ticket_id=ticket_id)
            if not ticket.live:
                return None
            ticket.live = False
            ticket.abandoned_at = utcnow()
            ticket.offered_to_id = ticket.offered_at = None
            tickets.record(db, ticket=ticket, name=events.TICKET_ABANDONED, actor="system")
        self._publish(events.TICKET_ABANDONED, ticket)
        self.on_queue_changed()
        await self._resume(ticket, intent=None)
        return ticket

    async def _resume(self, ticket: Ticket, *, intent: str | None, paused: bool = True) -> None:
        """Gives the conversation back to the bot. A Rasa failure here must not
        undo the ticket change, so it is logged, not raised."""
        try:
            if paused:
                # The bot ran nothing while paused; logging that it listens
                # again lets its rules match the next turn as usual.
                await self._rasa.append_events(
                    ticket.conversation_id,
                    [{"event": "resume"}, {"event": "action", "name": "action_listen"}],
                )
            if intent:
                await self._rasa.trigger_intent(
                    ticket.conversation_id, intent, {"ticket_id": str(ticket.id)}
                )
        except Exception:
            logger.exception("Could not resume conversation %s", ticket.conversation_id)

    # --- notes and CSAT --------------------------------------------------------

    async def add_note(self, ticket_id: int, *, by: Agent | None, text: str) -> dict[str, Any]:
        async with self._db.transaction() as db:
            ticket = await tickets.get(db, ticket_id=ticket_id)
            authorize(by, Action.ADD_NOTE, ticket)
            note = await tickets.add_note(db, ticket=ticket, agent=by, text=text)
        self._bus.publish(
            events.TICKET_NOTE_ADDED,
            {"ticket_id": ticket_id, "owner_id": ticket.assignee_id, **note.to_dict()},
        )
        return note.to_dict()

    async def attachment_ticket(self, conversation_id: str) -> Ticket:
        """The ticket a customer's file would go to; NoOpenTicket if none.
        Asked before the file is read, so a refused upload costs nothing."""
        async with self._db.reading() as db:
            ticket = await tickets.attachment_ticket(db, conversation_id=conversation_id)
        if ticket is None:
            raise NoOpenTicket()
        return ticket

    async def attach(
        self, conversation_id: str, *, channel: str | None, **file: Any
    ) -> dict[str, Any]:
        """Keeps a stored file (`name`, `content_type`, `size`, `sha256`,
        `storage_key`) on the conversation's ticket and shows it to the
        agents who may read the conversation."""
        async with self._db.transaction() as db:
            ticket = await tickets.attachment_ticket(db, conversation_id=conversation_id)
            if ticket is None:
                raise NoOpenTicket()
            attachment = await tickets.add_attachment(
                db, ticket=ticket, channel=channel or ticket.channel, **file
            )
            tickets.record(
                db,
                ticket=ticket,
                name=events.TICKET_ATTACHMENT_ADDED,
                actor="customer",
                attachment_id=attachment.id,
                content_type=attachment.content_type,
                size=attachment.size,
            )
            added = attachment.to_dict()
        self._bus.publish(
            events.TICKET_ATTACHMENT_ADDED,
            {
                "ticket_id": ticket.id,
                "owner_id": ticket.assignee_id or ticket.offered_to_id,
                "conversation_id": ticket.conversation_id,
                "attachment": added,
            },
        )
        return added

    async def record_csat(
        self, ticket_id: int, *, conversation_id: str, score: int | None, comment: str | None
    ) -> Ticket:
        """The survey's answer, from the conversation the ticket belongs to,
        once, after the ticket was resolved (which is what offers the survey).
        Another conversation's ticket is answered as missing, so that ids
        cannot be probed from a chat."""
        async with self._db.transaction() as db:
            try:
                ticket = await tickets.get(db, ticket_id=ticket_id)
            except NotFound:
                ticket = None
            if ticket is None or ticket.conversation_id != conversation_id:
                raise NotFound(f"Ticket {ticket_id} does not exist in this conversation.")
            if ticket.resolved_at is None or ticket.status not in (
                TicketStatus.RESOLVED,
                TicketStatus.CLOSED,
            ):
                raise InvalidTransition("CSAT is collected once a ticket is resolved.")
            await tickets.rate(db, ticket=ticket, score=score, comment=comment)
            tickets.record(
                db,
                ticket=ticket,
                name=events.TICKET_CSAT_RECORDED,
                actor="service",
                score=score,
                skipped=score is None or None,
            )
        self._publish(events.TICKET_CSAT_RECORDED, ticket)
        return ticket

    # --- customer side (from Rasa's event broker) ------------------------------

    async def live_tickets(self, conversation_ids: set[str]) -> dict[str, Ticket]:
        async with self._db.reading() as db:
            return await tickets.live_tickets_for(db, conversation_ids=conversation_ids)

    async def live_ticket_ids(self) -> list[tuple[str, int]]:
        """(conversation, ticket) of every live ticket."""
        async with self._db.reading() as db:
            rows = await db.execute(
                select(Ticket.conversation_id, Ticket.id).where(Ticket.live.is_(True))
            )
            return [(row.conversation_id, row.id) for row in rows]

    async def touch(self, activity: dict[int, Any]) -> None:
        """Stores when customers last wrote (kept in memory between sweeps)."""
        if not activity:
            return
        async with self._db.transaction() as db:
            for ticket_id, moment in activity.items():
                await db.execute(
                    update(Ticket)
                    .where(Ticket.id == ticket_id)
                    .values(last_customer_message_at=moment)
                    .execution_options(synchronize_session=False)
                )

    async def customer_history(self, conversation_id: str, *, exclude: int) -> list[dict]:
        async with self._db.reading() as db:
            rows = await db.execute(
                select(Ticket)
                .where(Ticket.conversation_id == conversation_id, Ticket.id != exclude)
                .order_by(Ticket.id.desc())
                .limit(20)
            )
            return [ticket.to_dict() for ticket in rows.unique().scalars()]

    def _publish(self, name: str, ticket: Ticket, **extra: Any) -> None:
        self._bus.publish(name, {"ticket": ticket.to_dict(), **extra})


def _merge_handoff(ticket: Ticket, data: HandoffIn) -> None:
    """A second request for the same open problem updates the ticket rather
    than opening a duplicate; urgency only ever goes up."""
    if data.priority == Priority.URGENT:
        ticket.priority = Priority.URGENT.value
    if data.handoff_reason:
        ticket.handoff_reason = data.handoff_reason.value
    ticket.order_id = data.order_id or ticket.order_id
    ticket.context = {**(ticket.context or {}), **data.context}
    if data.description:
        # Each request describes the conversation's latest lines, which mostly
        # repeat the last request's: add what follows the overlap, and when
        # the text grows too long keep the newest.
        known = (ticket.description or "").splitlines()
        latest = data.description.splitlines()
        added = latest[_overlap(known, latest) :]
        ticket.description = "\n".join([*known, *added]).strip()[-MAX_TEXT:]


def _overlap(earlier: list[str], later: list[str]) -> int:
    """How many lines `later` begins with that `earlier` ends with. Lines
    repeat in a conversation ("转人工" twice), so only the overlap is known."""
    for size in range(min(len(earlier), len(later)), 0, -1):
        if earlier[-size:] == later[:size]:
            return size
    return 0


def _require_handler(agent: Agent) -> None:
    if agent.role not in HANDLING_ROLES:
        raise Forbidden("Only agents can take conversations.")


def _same_reply(reply: dict[str, Any], text: str) -> dict[str, Any]:
    if reply["text"] != text:
        raise Conflict("This client_message_id was already used for a different reply.")
    return reply
