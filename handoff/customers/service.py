"""Customers in the database: recognising who a new ticket is from by the
id a channel verified, joining two verified customers an admin knows to be
one person, and listing a customer's tickets from every channel."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.channels import channel as channel_named
from handoff.clock import utcnow
from handoff.customers.enums import IdentityKind
from handoff.customers.models import Customer, CustomerIdentity
from handoff.errors import Conflict, InvalidInput, NotFound
from handoff.tickets.models import Ticket, TicketIn

Key = tuple[str, str]  # (kind, value)

# A phone as customers write it: digits, with spaces, dashes, dots or
# brackets between them. Only a mainland mobile number or one with its
# country code is taken for a phone; other digits are a site's user id.
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_PHONE = re.compile(r"\+\d{6,19}|1[3-9]\d{9}")
_CHINA_PREFIX = re.compile(r"^(\+86|0086)(?=1[3-9]\d{9}$)")
TICKETS_SHOWN = 50


@dataclass(frozen=True)
class Claim:
    """Who a new ticket says its customer is. `verified` is the channel's
    word that `customer_id` is really theirs (a signed site identity, a
    WeChat openid). A name or a contact is what the customer says, never a
    key: the web widget's signature covers the user id only."""

    channel: str
    conversation_id: str
    name: str | None = None
    contact: str | None = None
    customer_id: str | None = None
    verified: bool = False


def contact_key(contact: str) -> Key | None:
    """A phone or an e-mail address in one spelling, or None for anything else."""
    contact = contact.strip()
    if "@" in contact:
        return IdentityKind.EMAIL.value, contact.lower()
    phone = _CHINA_PREFIX.sub("", _PHONE_SEPARATORS.sub("", contact))
    return (IdentityKind.PHONE.value, phone) if _PHONE.fullmatch(phone) else None


def user_key(channel: str, customer_id: str) -> Key:
    """A verified id as a key: a platform's user ids (openids) are a kind of
    their own; an id that is a phone or an e-mail (a site keyed by them, a
    phone an app confirmed) is one, in one spelling, whichever channel
    verified it; anything else is our site's user id."""
    customer_id = customer_id.strip()
    if channel_named(channel).platform_ids:
        return channel, customer_id
    return contact_key(customer_id) or (IdentityKind.USER.value, customer_id)


def keys(claim: Claim) -> list[Key]:
    """What the claim finds its customer by: its verified id, or, without
    one, its conversation."""
    if claim.verified and claim.customer_id and claim.customer_id.strip():
        return [user_key(claim.channel, claim.customer_id)]
    return [(IdentityKind.CONVERSATION.value, claim.conversation_id)]


async def identify(db: AsyncSession, *, claim: Claim) -> Customer:
    """The customer the claim names, created the first time. Callers
    serialise on `keys(claim)` first (see `TicketFlows`), so two first
    tickets of one customer do not both create them."""
    ((kind, value),) = keys(claim)
    verified = kind != IdentityKind.CONVERSATION.value
    known = await db.execute(
        select(CustomerIdentity).where(
            CustomerIdentity.kind == kind, CustomerIdentity.value == value
        )
    )
    if identity := known.scalar_one_or_none():
        customer = await get(db, customer_id=identity.customer_id)
    else:
        customer = Customer(verified=verified, created_at=utcnow())
        customer.identities.append(
            CustomerIdentity(kind=kind, value=value, verified=verified, channel=claim.channel)
        )
        db.add(customer)
    customer.name = claim.name or customer.name
    customer.contact = claim.contact or customer.contact
    await db.flush()
    return customer


async def merge(db: AsyncSession, *, into_id: int, other_id: int) -> Customer:
    """An admin's word that two customers known by verified ids are one
    person (a WeChat follower who is also a site user): the older keeps the
    identities and tickets of both, and every later ticket with any of those
    ids finds them. A customer known only by a conversation is no one's to
    merge: that would file a stranger's next claim under a real customer."""
    if into_id == other_id:
        raise InvalidInput("A customer cannot be merged with themselves.")
    keep, gone = sorted(
        [await get(db, customer_id=into_id), await get(db, customer_id=other_id)],
        key=lambda customer: customer.id,
    )
    if not (keep.verified and gone.verified):
        raise Conflict("Only customers known by verified ids can be merged.")
    for identity in list(gone.identities):
        gone.identities.remove(identity)
        keep.identities.append(identity)
    await db.execute(
        update(Ticket)
        .where(Ticket.customer_id == gone.id)
        .values(customer_id=keep.id)
        .execution_options(synchronize_session=False)
    )
    keep.name = keep.name or gone.name
    keep.contact = keep.contact or gone.contact
    await db.flush()
    await db.delete(gone)
    await db.flush()
    return keep


async def get(db: AsyncSession, *, customer_id: int) -> Customer:
    customer = await db.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"Customer {customer_id} does not exist.")
    return customer


async def tickets_of(db: AsyncSession, *, customer_id: int) -> list[Ticket]:
    """Their newest tickets, from every channel."""
    rows = await db.execute(
        select(Ticket)
        .where(Ticket.customer_id == customer_id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(TICKETS_SHOWN)
    )
    return list(rows.unique().scalars())


def claim_of(data: TicketIn) -> Claim:
    return Claim(
        channel=data.channel,
        conversation_id=data.conversation_id,
        name=data.customer.name,
        contact=data.customer.contact,
        customer_id=data.customer.customer_id,
        verified=data.customer.identity_verified,
    )
