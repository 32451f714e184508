"""Who a ticket is from: verified identities find one customer on every
channel, unverified claims never reach someone else's history, and one
verified identity joins customers known apart until then."""

from __future__ import annotations

import pytest

from handoff.customers import service as customers
from handoff.customers.service import Claim, contact_key, user_key
from handoff.errors import Conflict, InvalidInput, NotFound
from handoff.tickets import service as tickets
from handoff.tickets.models import TicketIn

PHONE = "13800138000"


async def ticket_from(database, claim: Claim) -> tuple[int, int]:
    """Files a new ticket under the claim's customer, as `TicketFlows` does:
    (customer id, ticket id)."""
    async with database.transaction() as db:
        customer = await customers.identify(db, claim=claim)
        data = TicketIn(conversation_id=claim.conversation_id, channel=claim.channel, title="t")
        ticket = await tickets.create(db, data=data)
        ticket.customer_id = customer.id
        return customer.id, ticket.id


async def filed(database, customer_id: int) -> set[int]:
    async with database.reading() as db:
        return {t.id for t in await customers.tickets_of(db, customer_id=customer_id)}


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("13800138000", ("phone", PHONE)),
        ("+86 138-0013-8000", ("phone", PHONE)),
        ("0086 (138) 0013 8000", ("phone", PHONE)),
        ("+44 20 7946 0958", ("phone", "+442079460958")),
        (" Li.Na@Example.COM ", ("email", "li.na@example.com")),
        ("call me maybe", None),
        ("100861", None),  # digits, but no phone: a site's user id
    ],
)
def test_phones_and_emails_are_keys_in_one_spelling(written, key):
    assert contact_key(written) == key


def test_a_verified_id_is_a_key_of_its_kind():
    assert user_key("wechat", "oABC") == ("wechat", "oABC")
    assert user_key("telegram", "42") == ("telegram", "42")
    for channel in ("socketio", "rest", "app", "form", "a-new-channel"):
        assert user_key(channel, " 42 ") == ("user", "42")
    assert user_key("email", "Li@Example.com") == ("email", "li@example.com")
    assert user_key("app", "+86 13800138000") == ("phone", PHONE)


async def test_a_verified_id_finds_the_customer_on_every_channel(database):
    web = Claim("socketio", "web-1", name="李娜", contact=PHONE, customer_id="u-7", verified=True)
    first, ticket_1 = await ticket_from(database, web)
    app, ticket_2 = await ticket_from(
        database, Claim("app", "app-1", customer_id="u-7", verified=True)
    )
    rest, ticket_3 = await ticket_from(
        database, Claim("rest", "r-1", name="Li Na", customer_id="u-7", verified=True)
    )
    assert first == app == rest
    assert await filed(database, first) == {ticket_1, ticket_2, ticket_3}
    async with database.reading() as db:
        customer = await customers.get(db, customer_id=first)
    assert customer.verified and (customer.name, customer.contact) == ("Li Na", PHONE)
    assert [(i.kind, i.value, i.channel) for i in customer.identities] == [
        ("user", "u-7", "socketio")
    ]


async def test_a_site_keyed_by_email_and_a_verified_mail_sender_are_one_customer(database):
    web, _ = await ticket_from(
        database, Claim("socketio", "web-2", customer_id="li@example.com", verified=True)
    )
    mail, _ = await ticket_from(
        database, Claim("email", "mail-2", customer_id="LI@example.com", verified=True)
    )
    assert web == mail


async def test_an_unverified_claim_never_joins_a_verified_customer(database):
    verified, _ = await ticket_from(
        database,
        Claim("socketio", "web-1", contact="li@example.com", customer_id="u-7", verified=True),
    )
    # Someone types her e-mail into a REST conversation, and her site id.
    claim = Claim("rest", "mallory-1", contact="li@example.com", customer_id="u-7")
    claimed, mallorys = await ticket_from(database, claim)
    assert claimed != verified
    assert mallorys not in await filed(database, verified)
    # Their own conversation finds their own customer again, and nobody else's.
    again, _ = await ticket_from(database, claim)
    assert again == claimed
    stranger, _ = await ticket_from(database, Claim("rest", "other-2", customer_id="u-7"))
    assert stranger not in (claimed, verified)
    # A verified contact is still no key: the web widget signs the id only.
    contact_only, _ = await ticket_from(
        database, Claim("socketio", "web-3", contact="li@example.com", verified=True)
    )
    assert contact_only != verified
    async with database.reading() as db:
        unverified = await customers.get(db, customer_id=claimed)
    assert not unverified.verified
    assert [(i.kind, i.value, i.verified) for i in unverified.identities] == [
        ("conversation", "mallory-1", False)
    ]


async def test_the_same_id_on_two_platforms_is_two_customers(database):
    wechat, _ = await ticket_from(database, Claim("wechat", "w-1", customer_id="42", verified=True))
    telegram, _ = await ticket_from(
        database, Claim("telegram", "t-1", customer_id="42", verified=True)
    )
    site, _ = await ticket_from(database, Claim("socketio", "s-1", customer_id="42", verified=True))
    assert len({wechat, telegram, site}) == 3
    # A WeChat follower writing again, from a new session, is found again.
    assert (await ticket_from(database, Claim("wechat", "w-2", customer_id="42", verified=True)))[
        0
    ] == wechat


async def test_an_admin_joins_two_channels_customers_into_one(database):
    """A WeChat follower and a signed-in web customer are one person once an
    admin says so: the older keeps both ids and both tickets."""
    wechat, on_wechat = await ticket_from(
        database, Claim("wechat", "w-9", name="娜娜", customer_id="oFollower", verified=True)
    )
    web, on_web = await ticket_from(
        database, Claim("socketio", "web-9", name="李娜", customer_id="u-9", verified=True)
    )
    async with database.transaction() as db:
        kept = (await customers.merge(db, into_id=web, other_id=wechat)).id
    assert kept == min(wechat, web)
    assert await filed(database, kept) == {on_wechat, on_web}
    async with database.reading() as db:
        customer = await customers.get(db, customer_id=kept)
        assert {(i.kind, i.value) for i in customer.identities} == {
            ("wechat", "oFollower"),
            ("user", "u-9"),
        }
        with pytest.raises(NotFound):
            await customers.get(db, customer_id=max(wechat, web))
    # Either channel's next ticket finds the joined customer.
    for claim in (
        Claim("wechat", "w-10", customer_id="oFollower", verified=True),
        Claim("app", "a-10", customer_id="u-9", verified=True),
    ):
        assert (await ticket_from(database, claim))[0] == kept


async def test_a_customer_known_only_by_a_conversation_is_never_merged(database):
    verified, _ = await ticket_from(
        database, Claim("socketio", "s", customer_id="u", verified=True)
    )
    claimed, _ = await ticket_from(database, Claim("rest", "r", customer_id="u"))
    async with database.transaction() as db:
        with pytest.raises(Conflict):
            await customers.merge(db, into_id=verified, other_id=claimed)
        with pytest.raises(InvalidInput):
            await customers.merge(db, into_id=verified, other_id=verified)
        with pytest.raises(NotFound):
            await customers.merge(db, into_id=verified, other_id=verified + claimed + 1)
