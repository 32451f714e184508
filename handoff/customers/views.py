"""The customer routes: who a ticket's customer is, and their tickets on
every channel, for the console's customer panel; an admin joining two."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel

from handoff.api import allowed
from handoff.app_keys import DATABASE
from handoff.customers import service as customers
from handoff.policy import Action, authorize, authorize_customer, permits, ticket_view
from handoff.tickets import service as tickets
from handoff.tickets.models import RecordId
from handoff.web import int_param, parse_body

if TYPE_CHECKING:
    from handoff.agents.models import Agent
    from handoff.customers.models import Customer
    from handoff.tickets.models import Ticket

logger = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/api/tickets/{ticket_id}/customer", name="ticket_customer")
async def ticket_customer(request: web.Request) -> web.Response:
    caller = allowed(request, Action.READ_CUSTOMER)
    ticket_id = int_param(request, "ticket_id")
    async with request.app[DATABASE].reading() as db:
        ticket = await tickets.get(db, ticket_id=ticket_id)
        authorize(caller, Action.READ_CUSTOMER, ticket)
        if ticket.customer_id is None:  # a ticket from before customers were kept
            return web.json_response({"customer": None, "tickets": []})
        customer = await customers.get(db, customer_id=ticket.customer_id)
        filed = await customers.tickets_of(db, customer_id=customer.id)
    return web.json_response(_customer_view(caller, customer, filed))


@routes.get("/api/customers/{customer_id}", name="customer")
async def get_customer(request: web.Request) -> web.Response:
    caller = allowed(request, Action.READ_CUSTOMER)
    customer_id = int_param(request, "customer_id")
    async with request.app[DATABASE].reading() as db:
        customer = await customers.get(db, customer_id=customer_id)
        filed = await customers.tickets_of(db, customer_id=customer_id)
    authorize_customer(caller, filed)
    return web.json_response(_customer_view(caller, customer, filed))


class MergeIn(BaseModel):
    """The customer to fold into the one in the path."""

    customer_id: RecordId


@routes.post("/api/customers/{customer_id}/merge", name="customer_merge")
async def merge_customers(request: web.Request) -> web.Response:
    caller = allowed(request, Action.MERGE_CUSTOMERS)
    data = await parse_body(request, MergeIn)
    async with request.app[DATABASE].transaction() as db:
        customer = await customers.merge(
            db, into_id=int_param(request, "customer_id"), other_id=data.customer_id
        )
        logger.info("%s merged customer %s and %s", caller.username, customer.id, data.customer_id)
        filed = await customers.tickets_of(db, customer_id=customer.id)
        view = _customer_view(caller, customer, filed)
    return web.json_response(view)


def _customer_view(caller: Agent | None, customer: Customer, filed: list[Ticket]) -> dict[str, Any]:
    """`openable`: whether the caller may open that ticket's conversation;
    the others they see here as the customer's history, without the content
    of tickets that are not theirs to read (as every ticket list shows them)."""
    return {
        "customer": customer.to_dict(),
        "tickets": [
            {
                **ticket_view(caller, ticket.to_dict()),
                "openable": permits(caller, Action.READ_CONVERSATION, ticket),
            }
            for ticket in filed
        ],
    }
