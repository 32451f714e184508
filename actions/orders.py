"""What happens when an order form completes: status, refund, address, cancellation, invoice."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.language import customer_language
from actions.messages import PROBLEM_RESPONSES, order_values
from actions.shop.errors import OrderStateError
from actions.shop.orders import (
    Order,
    OrderStatus,
    OrderStore,
    RefundReason,
    default_store,
)
from actions.tickets import open_ticket

# Slots that only live for one run of a form. The order number stays, so the
# customer can check an order and then return it without typing it again.
FORM_SLOTS = (
    "refund_reason",
    "refund_confirm",
    "new_address",
    "address_confirm",
    "cancel_confirm",
    "invoice_type",
    "invoice_title",
    "tax_id",
    "order_problem",
)


def reset_form_slots() -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS]


class OrderFormSubmission(Action, ABC):
    """Runs when an order form ends, whether it completed or stopped early.

    A form stops early when its validation found an `order_problem`; the
    customer has been told why, and is offered a human where one could still
    help. Either way the form's slots are cleared for the next run.
    """

    #: Slots besides `order_id` the form must have filled to submit.
    required: tuple[str, ...] = ()

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def submit(
        self,
        order: Order,
        store: OrderStore,
        tracker: Tracker,
        dispatcher: CollectingDispatcher,
    ) -> list[dict[str, Any]]:
        """Does the operation and tells the customer; returns extra events."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events = reset_form_slots()
        problem = tracker.get_slot("order_problem")
        if problem:
            if PROBLEM_RESPONSES[problem][1]:
                # A human has to look at it either way: the ticket records it
                # even if the customer declines to talk to one now.
                if ticket := await open_ticket(tracker, "form_failure"):
                    dispatcher.utter_message(response="utter_ticket_opened", ticket_id=ticket["id"])
                    events.append(SlotSet("ticket_id", str(ticket["id"])))
                events += [
                    SlotSet("handoff_reason", "form_failure"),
                    FollowupAction("utter_offer_human"),
                ]
            return events
        order_id = tracker.get_slot("order_id")
        if not order_id or any(tracker.get_slot(slot) is None for slot in self.required):
            return events
        store = default_store()
        order = store.get(order_id)
        try:
            return self.submit(order, store, tracker, dispatcher) + events
        except OrderStateError as error:
            # The order changed since the form checked it (e.g. it just shipped).
            response, _ = PROBLEM_RESPONSES[error.problem]
            dispatcher.utter_message(
                response=response,
                **order_values(store.get(order_id), customer_language(tracker), store.policy),
            )
            return events


class ActionOrderStatus(OrderFormSubmission):
    def name(self) -> str:
        return "action_order_status"

    def submit(
        self,
        order: Order,
        store: OrderStore,
        tracker: Tracker,
        dispatcher: CollectingDispatcher,
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(
            response=f"utter_order_status_{order.status.value}",
            **order_values(order, customer_language(tracker), store.policy),
        )
        return []


class ActionSubmitRefund(OrderFormSubmission):
    required = ("refund_reason", "refund_confirm")

    def name(self) -> str:
        return "action_submit_refund"

    def submit(
        self,
        order: Order,
        store: OrderStore,
        tracker: Tracker,
        dispatcher: CollectingDispatcher,
    ) -> list[dict[str, Any]]:
        if not tracker.get_slot("refund_confirm"):
            dispatcher.utter_message(response="utter_refund_not_submitted")
            return []
        reason = RefundReason.from_text(tracker.get_slot("refund_reason"))
        refund = store.request_refund(order.id, reason)
        response = (
            "utter_refund_submitted"
            if reason.shop_pays_return_shipping
            else "utter_refund_submitted_customer_pays"
        )
        values = order_values(order, customer_language(tracker), store.policy)
        dispatcher.utter_message(
            response=response,
            **{**values, "refund_id": refund.id, "refund_amount": str(refund.amount)},
        )
        return []


class ActionChangeAddress(OrderFormSubmission):
    required = ("new_address", "address_confirm")

    def name(self) -> str:
        return "action_change_address"

    def submit(
        self,
        order: Order,
        store: OrderStore,
        tracker: Tracker,
        dispatcher: CollectingDispatcher,
    ) -> list[dict[str, Any]]:
        if not tracker.get_slot("address_confirm"):
            dispatcher.utter_message(response="utter_address_not_changed")
            return []
        changed = store.change_address(order.id, tracker.get_slot("new_address"))
        dispatcher.utter_message(
            response="utter_address_changed",
            order_id=changed.id,
            new_address=changed.address,
        )
        return []


class ActionCancelOrder(OrderFormSubmission):
    required = ("cancel_confirm",)

    def name(self) -> str:
        return "action_cancel_order"

    def submit(
        self,
        order: Order,
        store: OrderStore,
        tracker: Tracker,
        dispatcher: CollectingDispatcher,
    ) -> list[dict[str, Any]]:
        if not tracker.get_slot("cancel_confirm"):
            dispatcher.utter_message(response="utter_order_not_cancelled")
            return []
        was_unpaid = order.status is OrderStatus.PENDING_PAYMENT
        store.cancel(order.id)
        dispatcher.utter_message(
            response="utter_order_cancelled_unpaid" if was_unpaid else "utter_order_cancelled",
            **order_values(order, customer_language(tracker), store.policy),
        )
        return []


class ActionRequestInvoice(OrderFormSubmission):
    required = ("invoice_type", "email")

    def name(self) -> str:
        return "action_request_invoice"

    def submit(
        self,
        order: Order,
        store: OrderStore,
        tracker: Tracker,
        dispatcher: CollectingDispatcher,
    ) -> list[dict[str, Any]]:
        company = tracker.get_slot("invoice_type") == "company"
        invoice = store.request_invoice(
            order.id,
            company=company,
            title=tracker.get_slot("invoice_title") if company else order.customer_name,
            tax_id=tracker.get_slot("tax_id") if company else None,
            email=tracker.get_slot("email"),
        )
        dispatcher.utter_message(
            response="utter_invoice_requested" if company else "utter_invoice_requested_personal",
            order_id=order.id,
            invoice_title=invoice.title,
            tax_id=invoice.tax_id or "",
            email=invoice.email,
        )
        return []


class ActionCancelForm(Action):
    """The customer gave up ("算了", "never mind"): stop the form, forget its slots."""

    def name(self) -> str:
        return "action_cancel_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_form_cancelled")
        return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_form_slots()]
