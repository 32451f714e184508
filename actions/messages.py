"""Values the order responses in domain.yml are filled with."""

from __future__ import annotations

from datetime import timedelta

from actions.language import format_date
from actions.shop.catalog import localize
from actions.shop.orders import DISPATCH_DAYS, Order, OrderPolicy

# The response that explains each problem an order may have, and whether a
# human agent could still help (the customer is then offered one).
PROBLEM_RESPONSES: dict[str, tuple[str, bool]] = {
    "unpaid": ("utter_refund_ineligible_unpaid", False),
    "not_shipped": ("utter_refund_ineligible_not_shipped", False),
    "in_transit": ("utter_refund_ineligible_in_transit", False),
    "cancelled": ("utter_refund_ineligible_cancelled", False),
    "already": ("utter_refund_ineligible_already", False),
    "window_passed": ("utter_refund_ineligible_window_passed", True),
    "changed_mind_window_passed": ("utter_refund_changed_mind_window_passed", False),
    "locked": ("utter_address_locked", True),
    "not_possible": ("utter_cancel_not_possible", True),
    "not_available": ("utter_invoice_not_available", False),
    "invoice_window_passed": ("utter_invoice_window_passed", True),
}


def order_values(order: Order, language: str, policy: OrderPolicy) -> dict[str, str]:
    """Every value an order response may mention, in the customer's language."""
    today = policy.today()
    values = {
        "order_id": order.id,
        "order_items": order.items_summary(language),
        "order_amount": str(order.amount),
        "refund_amount": str(order.amount),
        "status_label": localize(order.status.label, language),
        "ship_by": format_date(order.placed_on + timedelta(days=DISPATCH_DAYS), language),
        "delivered_on": "",
        "days_since_delivery": "",
        "carrier": "",
        "tracking_number": "",
        "last_checkpoint": "",
        "eta": "",
    }
    if order.delivered_on is not None:
        values["delivered_on"] = format_date(order.delivered_on, language)
        values["days_since_delivery"] = str(order.days_since_delivery(today))
    if order.shipment is not None:
        values["carrier"] = localize(order.shipment.carrier, language)
        values["tracking_number"] = order.shipment.tracking_number
        values["last_checkpoint"] = localize(order.shipment.last_checkpoint, language)
        values["eta"] = format_date(order.shipment.eta, language)
    return values
