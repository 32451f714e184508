"""Who may do what in the bridge: one table of role × action × the caller's
relation to the ticket, and what of a ticket each caller gets to see.

Views check the role before they read a body (`authorize` without a ticket);
flows check the relation inside the transaction that changes the ticket, so
the decision and the change see the same row. `docs/handoff.md` prints this
table; `tests/handoff/test_authorization.py` walks every route against it.

A caller is an `Agent`, or None for a machine client holding the API token
(the assistant, the event broker, apps and forms). Anonymous callers never
get here: the authentication middleware and `web.require` stop them first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from handoff.agents.enums import AgentRole
from handoff.errors import Forbidden
from handoff.events import TICKET_OFFERED
from handoff.tickets.enums import WAITING_STATUSES

if TYPE_CHECKING:
    from handoff.agents.models import Agent
    from handoff.tickets.models import Ticket

SERVICE = "service"  # the pseudo-role of machine clients holding the API token
ADMIN, AGENT, ANALYST = AgentRole.ADMIN.value, AgentRole.AGENT.value, AgentRole.ANALYST.value


class Action(StrEnum):
    OPEN_TICKET = "open_ticket"
    READ_TICKET = "read_ticket"
    # What the customer wrote or is, as the ticket holds it: title,
    # description, contact, order, context, notes, comments, messages.
    READ_CONTENT = "read_content"
    # The conversation itself, from Rasa: transcript, slots, answer
    # suggestions. The console's, so not the API token's.
    READ_CONVERSATION = "read_conversation"
    # Who the customer is across channels, and their tickets on every one:
    # for those who may read one of that customer's conversations.
    READ_CUSTOMER = "read_customer"
    # Two customers' ids are one person's: staff who checked it, not a channel.
    MERGE_CUSTOMERS = "merge_customers"
    CLAIM = "claim"
    DECLINE = "decline"
    ASSIGN = "assign"  # to someone else; to oneself it is a claim
    CHANGE_STATUS = "change_status"
    TRANSFER = "transfer"
    RELEASE = "release"
    MESSAGE = "message"
    ADD_NOTE = "add_note"
    RECORD_CSAT = "record_csat"
    REQUEST_HANDOFF = "request_handoff"
    RELAY_EVENTS = "relay_events"
    # A customer's file, which a channel keeps on the conversation's ticket.
    UPLOAD_ATTACHMENT = "upload_attachment"
    READ_QUEUE = "read_queue"
    LIST_AGENTS = "list_agents"
    CREATE_AGENT = "create_agent"
    SET_PRESENCE = "set_presence"
    # One's own display name and avatar, which customers see.
    EDIT_PROFILE = "edit_profile"
    OPEN_CONSOLE = "open_console"


class Relation(StrEnum):
    """How a signed-in agent (or admin) stands to one ticket."""

    ASSIGNEE = "assignee"
    OFFERED = "offered"  # the dispatcher offered it to them
    # Waiting, nobody's yet, and within their skills and languages.
    UNASSIGNED = "unassigned"
    OTHER = "other"  # someone else's, finished, or outside their skills


EVERY = frozenset(Relation)
OWN = frozenset({Relation.ASSIGNEE})
TAKEABLE = frozenset({Relation.ASSIGNEE, Relation.OFFERED, Relation.UNASSIGNED})
NONE: frozenset[Relation] = frozenset()

# action -> role -> the relations in which that role may do it. A role
# missing from a row may not do it at all. The service token owns no ticket,
# so its rows are all or nothing.
RULES: dict[Action, dict[str, frozenset[Relation]]] = {
    Action.OPEN_TICKET: {SERVICE: EVERY, ADMIN: EVERY},
    # Everyone reads tickets; who gets the content is READ_CONTENT's row.
    Action.READ_TICKET: {SERVICE: EVERY, ADMIN: EVERY, AGENT: EVERY, ANALYST: EVERY},
    Action.READ_CONTENT: {SERVICE: EVERY, ADMIN: EVERY, AGENT: TAKEABLE},
    Action.READ_CONVERSATION: {ADMIN: EVERY, AGENT: TAKEABLE},
    Action.READ_CUSTOMER: {ADMIN: EVERY, AGENT: TAKEABLE},
    Action.MERGE_CUSTOMERS: {ADMIN: EVERY},
    Action.CLAIM: {ADMIN: EVERY, AGENT: TAKEABLE},
    # Declining what is not (or no longer) offered to you is a 409 from the
    # flow: offers move on while an agent clicks, so it is a race, not a breach.
    Action.DECLINE: {ADMIN: EVERY, AGENT: EVERY},
    Action.ASSIGN: {ADMIN: EVERY},
    Action.CHANGE_STATUS: {SERVICE: EVERY, ADMIN: EVERY, AGENT: OWN},
    Action.TRANSFER: {ADMIN: EVERY, AGENT: OWN},
    Action.RELEASE: {ADMIN: EVERY, AGENT: OWN},
    # Talking to the customer stays with the assignee, admins included.
    Action.MESSAGE: {ADMIN: OWN, AGENT: OWN},
    Action.ADD_NOTE: {SERVICE: EVERY, ADMIN: EVERY, AGENT: TAKEABLE},
    Action.RECORD_CSAT: {SERVICE: EVERY},
    Action.REQUEST_HANDOFF: {SERVICE: EVERY},
    Action.RELAY_EVENTS: {SERVICE: EVERY},
    Action.UPLOAD_ATTACHMENT: {SERVICE: EVERY},
    Action.READ_QUEUE: {SERVICE: EVERY, ADMIN: EVERY, AGENT: EVERY, ANALYST: EVERY},
    Action.LIST_AGENTS: {ADMIN: EVERY, AGENT: EVERY, ANALYST: EVERY},
    Action.CREATE_AGENT: {ADMIN: EVERY},
    Action.SET_PRESENCE: {ADMIN: EVERY, AGENT: EVERY},
    Action.EDIT_PROFILE: {ADMIN: EVERY, AGENT: EVERY},
    Action.OPEN_CONSOLE: {ADMIN: EVERY, AGENT: EVERY, ANALYST: EVERY},
}

REFUSALS = {
    Action.ASSIGN: "Only an admin can assign tickets to someone else.",
    Action.MESSAGE: "Only the assignee talks to the customer.",
    Action.CLAIM: "This ticket is someone else's, or outside your skills and languages.",
}
NOT_YOURS = "This ticket is assigned to someone else."

# Ticket fields that are conversation content; callers without READ_CONTENT
# get them as null.
CONTENT_FIELDS = (
    "conversation_id",
    "customer",
    "title",
    "description",
    "order_id",
    "context",
)
# Free text in history details (status and transfer comments).
CONTENT_DETAILS = ("comment",)


def role_of(caller: Agent | None) -> str:
    return SERVICE if caller is None else str(caller.role)


def relation(caller: Agent | None, ticket: Ticket | Mapping[str, Any]) -> Relation:
    if caller is None:
        return Relation.OTHER
    assignee_id = _field(ticket, "assignee_id")
    if assignee_id == caller.id:
        return Relation.ASSIGNEE
    if _field(ticket, "offered_to_id") == caller.id:
        return Relation.OFFERED
    if (
        assignee_id is None
        and _field(ticket, "status") in WAITING_STATUSES
        and caller.can_handle(_field(ticket, "skill_group"), _field(ticket, "language"))
    ):
        return Relation.UNASSIGNED
    return Relation.OTHER


def permits(
    caller: Agent | None, action: Action, ticket: Ticket | Mapping[str, Any] | None = None
) -> bool:
    """Without a ticket: whether the role may do it to any ticket at all."""
    allowed = RULES[action].get(role_of(caller), NONE)
    if ticket is None:
        return bool(allowed)
    return relation(caller, ticket) in allowed


def authorize(
    caller: Agent | None, action: Action, ticket: Ticket | Mapping[str, Any] | None = None
) -> None:
    """Raises Forbidden unless `caller` may do `action` (to `ticket`)."""
    if not permits(caller, action):
        if caller is None:
            raise Forbidden("This endpoint is for signed-in staff, not the API token.")
        raise Forbidden()
    if ticket is not None and not permits(caller, action, ticket):
        raise Forbidden(REFUSALS.get(action, NOT_YOURS))


def authorize_customer(caller: Agent | None, tickets: Iterable[Ticket]) -> None:
    """A customer is the caller's to read through any of the customer's
    tickets they may read as a customer's (see READ_CUSTOMER)."""
    authorize(caller, Action.READ_CUSTOMER)
    if not any(permits(caller, Action.READ_CUSTOMER, ticket) for ticket in tickets):
        raise Forbidden("None of this customer's tickets is yours to read.")


# --- what each caller sees ------------------------------------------------------------


def ticket_view(caller: Agent | None, ticket: dict[str, Any]) -> dict[str, Any]:
    """The ticket as `caller` may see it: whole, or without its content."""
    if permits(caller, Action.READ_CONTENT, ticket):
        return ticket
    csat = ticket.get("csat")
    return {
        **ticket,
        **dict.fromkeys(CONTENT_FIELDS),
        "csat": None if csat is None else {**csat, "comment": None},
    }


def detail_view(
    caller: Agent | None,
    ticket: dict[str, Any],
    history: Iterable[dict[str, Any]],
    notes: Iterable[dict[str, Any]],
) -> dict[str, Any]:
    """A ticket with its history and notes; notes and comments are content."""
    if permits(caller, Action.READ_CONTENT, ticket):
        return {**ticket, "history": list(history), "notes": list(notes)}
    history = [
        {
            **event,
            "details": {
                key: value for key, value in event["details"].items() if key not in CONTENT_DETAILS
            },
        }
        for event in history
    ]
    return {**ticket_view(caller, ticket), "history": history, "notes": []}


def queue_view(caller: Agent | None, waiting: Iterable[Ticket]) -> list[dict[str, Any]]:
    """The live queue: agents see what they may take, the others all of it."""
    if role_of(caller) == AGENT:
        waiting = [ticket for ticket in waiting if permits(caller, Action.CLAIM, ticket)]
    return [ticket_view(caller, ticket.to_dict()) for ticket in waiting]


def event_view(viewer: Agent, name: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """What of a bus event one console receives; None for nothing. Offers go
    to the agent offered (and admins); ticket changes to everyone, without
    content where the viewer may not read it; messages and notes only to
    those who may read the conversation."""
    if name == TICKET_OFFERED and viewer.role != ADMIN and payload.get("agent_id") != viewer.id:
        return None
    if isinstance(payload.get("ticket"), Mapping):
        return {**payload, "ticket": ticket_view(viewer, payload["ticket"])}
    if "ticket_id" in payload:
        # Messages and notes name the ticket's owner: its assignee, or the
        # agent it is offered to.
        owned_by = {"assignee_id": payload.get("owner_id")}
        return payload if permits(viewer, Action.READ_CONTENT, owned_by) else None
    return payload


def _field(ticket: Ticket | Mapping[str, Any], name: str) -> Any:
    if isinstance(ticket, Mapping):
        return ticket.get(name)
    return getattr(ticket, name)
