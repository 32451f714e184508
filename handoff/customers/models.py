"""A customer and the identities that recognise them on any channel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import relationship

from handoff.clock import isoformat, utcnow
from handoff.db import Base


class Customer(Base):
    """`verified` customers are found again by any of their verified
    identities; the others only by the conversation they wrote in, so a
    claimed e-mail never shows someone else's history as theirs."""

    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    name = Column(String(255), nullable=True)
    contact = Column(String(255), nullable=True)
    verified = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    identities = relationship(
        "CustomerIdentity",
        order_by="CustomerIdentity.id",
        cascade="all, delete-orphan",
        lazy="selectin",
        back_populates="customer",
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "contact": self.contact,
            "verified": self.verified,
            "identities": [identity.to_dict() for identity in self.identities],
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
        }


class CustomerIdentity(Base):
    """One key to a customer: a verified phone, e-mail, site or platform
    user id, or (for an unverified customer) their conversation. A key
    belongs to one customer."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_customer_identities_key"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(
        Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind = Column(String(32), nullable=False)
    value = Column(String(255), nullable=False)
    verified = Column(Boolean, nullable=False)
    # The channel that reported it first.
    channel = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    customer = relationship("Customer", back_populates="identities")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "verified": self.verified,
            "channel": self.channel,
            "created_at": isoformat(self.created_at),
        }
