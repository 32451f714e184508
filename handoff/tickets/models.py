"""Ticket, its append-only history and internal notes, and the wire schemas
for creating and changing them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictBool, conint, constr, validator
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.orm import relationship

import handoff.customers.models  # noqa: F401 - the table `Ticket.customer_id` refers to
from handoff.clock import isoformat, utcnow
from handoff.db import MAX_ID, Base
from handoff.tickets.attachments import IMAGES
from handoff.tickets.enums import Category, HandoffReason, Priority, TicketStatus

MAX_TEXT = 4000
# A record id as the wire carries it: a JSON number, not "3" nor 3.0 nor true.
RecordId = conint(strict=True, ge=1, le=MAX_ID)


def text(max_length: int, *, min_length: int = 0) -> type[str]:
    """Text the database can store as sent: a JSON string (123 or false is
    refused, not turned into "123"), without NUL, which PostgreSQL refuses."""
    return constr(strict=True, min_length=min_length, max_length=max_length, regex=r"^[^\x00]*\Z")


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_queue", "live", "status", "priority", "queued_at"),
        Index("ix_tickets_assignee_status", "assignee_id", "status"),
    )

    id = Column(Integer, primary_key=True)
    # The Rasa sender id: the link from the ticket to the conversation.
    conversation_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(64), nullable=False, default="rest")
    # Who it is from across channels (`handoff.customers`); None on tickets
    # older than that.
    customer_id = Column(
        Integer, ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    customer_name = Column(String(255), nullable=True)
    customer_contact = Column(String(255), nullable=True)
    title = Column(String(255), nullable=False)
    description = Column(Text, nullable=False, default="")
    category = Column(String(32), nullable=False, default=Category.GENERAL.value)
    priority = Column(String(16), nullable=False, default=Priority.NORMAL.value)
    language = Column(String(8), nullable=False, default="zh")
    order_id = Column(String(64), nullable=True)
    handoff_reason = Column(String(32), nullable=True)
    source = Column(String(32), nullable=False, default="assistant")
    skill_group = Column(String(32), nullable=False, default=Category.GENERAL.value)
    status = Column(String(16), nullable=False, default=TicketStatus.PENDING.value, index=True)
    # True while the customer is waiting on, or talking to, a human live.
    live = Column(Boolean, nullable=False, default=False)
    assignee_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    offered_to_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    offered_at = Column(DateTime, nullable=True)
    # Agents whose offer timed out or who transferred it away are skipped.
    skipped_agent_ids = Column(JSON, nullable=False, default=list)
    context = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    queued_at = Column(DateTime, nullable=True)
    assigned_at = Column(DateTime, nullable=True)
    first_response_at = Column(DateTime, nullable=True)
    resolved_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True)
    reopened_at = Column(DateTime, nullable=True)
    abandoned_at = Column(DateTime, nullable=True)
    last_customer_message_at = Column(DateTime, nullable=True)
    csat_score = Column(SmallInteger, nullable=True)
    csat_comment = Column(Text, nullable=True)
    csat_at = Column(DateTime, nullable=True)

    assignee = relationship("Agent", foreign_keys=[assignee_id], lazy="joined")
    history = relationship(
        "TicketEvent", order_by="TicketEvent.id", cascade="all, delete-orphan", lazy="noload"
    )

    def to_dict(self) -> dict[str, Any]:
        # Never lazy-load here: tickets are serialised after their session ends.
        assignee = None if "assignee" in inspect(self).unloaded else self.assignee
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "customer": {
                "id": self.customer_id,
                "name": self.customer_name,
                "contact": self.customer_contact,
            },
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "priority": self.priority,
            "language": self.language,
            "order_id": self.order_id,
            "handoff_reason": self.handoff_reason,
            "source": self.source,
            "skill_group": self.skill_group,
            "status": self.status,
            "live": self.live,
            "assignee_id": self.assignee_id,
            "assignee": None
            if assignee is None
            else {"id": assignee.id, "display_name": assignee.display_name},
            "offered_to_id": self.offered_to_id,
            "offered_at": isoformat(self.offered_at),
            "context": self.context or {},
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
            "queued_at": isoformat(self.queued_at),
            "assigned_at": isoformat(self.assigned_at),
            "first_response_at": isoformat(self.first_response_at),
            "resolved_at": isoformat(self.resolved_at),
            "closed_at": isoformat(self.closed_at),
            "abandoned_at": isoformat(self.abandoned_at),
            "csat": None
            if self.csat_at is None
            else {
                "score": self.csat_score,
                "comment": self.csat_comment,
                "at": isoformat(self.csat_at),
            },
        }


class TicketEvent(Base):
    """One change to a ticket. Rows are only ever inserted."""

    __tablename__ = "ticket_events"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    at = Column(DateTime, nullable=False, default=utcnow)
    name = Column(String(64), nullable=False)
    # `agent:<username>`, `service` (actions, broker), `system` (timeouts), `customer`.
    actor = Column(String(128), nullable=False)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    from_status = Column(String(16), nullable=True)
    to_status = Column(String(16), nullable=True)
    details = Column(JSON, nullable=False, default=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": isoformat(self.at),
            "name": self.name,
            "actor": self.actor,
            "agent_id": self.agent_id,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "details": self.details or {},
        }


class TicketNote(Base):
    """An internal note: agents only, never shown to the customer."""

    __tablename__ = "ticket_notes"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    author = Column(String(128), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": self.author,
            "text": self.text,
            "created_at": isoformat(self.created_at),
        }


class AgentReply(Base):
    """An agent reply the console named with its own id, so that sending it
    again reaches the customer once, even across a bridge restart.

    The row is written before the reply goes to Rasa and marked delivered
    after; a row left undelivered is a send that failed or was cut off, which
    may still have reached Rasa (see `handoff.replies`).
    """

    __tablename__ = "agent_replies"
    __table_args__ = (
        UniqueConstraint(
            "ticket_id", "agent_id", "client_message_id", name="uq_agent_replies_client_id"
        ),
    )

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False)
    client_message_id = Column(String(64), nullable=False)
    # The reply as the console received it; None until Rasa has logged it.
    delivered = Column(JSON, nullable=True)
    # Old records are forgotten (`handoff.replies.RETRY_WINDOW`).
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)


class Attachment(Base):
    """A customer's file kept on a ticket; its bytes are in the bridge's
    attachments directory under `storage_key` (`handoff.tickets.attachments`)."""

    __tablename__ = "attachments"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # The channel it came from (the customer may have switched since the handoff).
    channel = Column(String(64), nullable=False)
    name = Column(String(255), nullable=False)
    # What its bytes are, whatever the client declared.
    content_type = Column(String(128), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    storage_key = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "channel": self.channel,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            # Shown in the console, and served inline; other kinds download.
            "image": self.content_type in IMAGES,
            "url": f"/api/attachments/{self.id}",
            "created_at": isoformat(self.created_at),
        }


# --- wire schemas -------------------------------------------------------------


class CustomerIn(BaseModel):
    name: text(255) | None = None
    contact: text(255) | None = None
    # The site's or the platform's user id (a WeChat openid).
    customer_id: text(255) | None = None
    # The channel's word that `customer_id` is theirs: only then does the
    # ticket join that customer's tickets on other channels.
    identity_verified: StrictBool = False


class TicketIn(BaseModel):
    """A new ticket, from the assistant, an app or an email form."""

    conversation_id: text(255, min_length=1)
    channel: text(64) = "rest"
    customer: CustomerIn = Field(default_factory=CustomerIn)
    title: text(255, min_length=1)
    description: text(MAX_TEXT) = ""
    category: Category = Category.GENERAL
    priority: Priority = Priority.NORMAL
    language: str = Field("zh", regex=r"^(zh|en)\Z")
    order_id: text(64) | None = None
    handoff_reason: HandoffReason | None = None
    source: text(32) = "api"
    context: dict[str, Any] = Field(default_factory=dict)

    @validator("title", "description", pre=True)
    def _strip(cls, value: object) -> object:
        """Before the length checks, so a blank title is refused."""
        return value.strip() if isinstance(value, str) else value


class HandoffIn(TicketIn):
    """The assistant asks for a live human for this conversation."""

    source: text(32) = "assistant"
    # Sent later, from the assistant's outbox, when the bridge was down as the
    # customer asked: nobody waits in the chat, so it never goes live.
    follow_up: bool = False


class StatusIn(BaseModel):
    status: TicketStatus
    comment: text(MAX_TEXT) | None = None


class AssignIn(BaseModel):
    agent_id: RecordId


class TransferIn(BaseModel):
    """To one agent, or back to the queue of a skill group."""

    agent_id: RecordId | None = None
    skill_group: Category | None = None
    comment: text(MAX_TEXT) | None = None


class NoteIn(BaseModel):
    text: text(MAX_TEXT, min_length=1)


class MessageIn(BaseModel):
    text: text(MAX_TEXT, min_length=1)
    # The client's own id for this reply: sending it again with the same id
    # (after a timeout, say) reaches the customer once.
    client_message_id: str | None = Field(None, regex=r"^[A-Za-z0-9_-]{8,64}\Z")


class CsatIn(BaseModel):
    """No score means the customer skipped the survey. `conversation_id` is
    the conversation the answer comes from: only its own tickets take it."""

    conversation_id: str = Field(..., min_length=1, max_length=255)
    score: conint(strict=True, ge=1, le=5) | None = None  # 4.5 is refused, not truncated
    comment: text(MAX_TEXT) | None = None
