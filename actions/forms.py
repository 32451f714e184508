"""Slot validation for the forms that act on an order, and their custom questions."""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.language import customer_language
from actions.messages import PROBLEM_RESPONSES, order_values
from actions.shop.catalog import localize
from actions.shop.errors import OrderNotFound
from actions.shop.orders import (
    MOBILE_PATTERN,
    ORDER_ID_PATTERN,
    Order,
    OrderPolicy,
    OrderStatus,
    RefundReason,
    default_store,
)

# Echo at most this much of what the customer typed back to them.
_ECHO_LIMIT = 40
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ADDRESS_HINTS = re.compile(
    r"[省市区县镇乡村路街道巷弄号栋幢楼室单元]|\b(road|rd|street|st|avenue|ave|lane|district|city|no)\b",
    re.IGNORECASE,
)
# GB 32100-2015: 18 characters from this alphabet, the last one a check character.
_CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_INVOICE_TYPE_WORDS = {
    "personal": ("个人", "自己", "本人", "personal", "individual", "myself", "me"),
    "company": (
        "公司",
        "单位",
        "企业",
        "company",
        "business",
        "corporate",
        "organisation",
        "organization",
    ),
}


def _first(value: Any) -> str:
    """Slots may hold a list when a message repeats an entity; use the first."""
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value is None else str(value)


def _echo(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ECHO_LIMIT else text[:_ECHO_LIMIT] + "…"


def normalize_order_number(text: str) -> str:
    """ "２４１１ 0830-2211" -> "241108302211": width, spaces and dashes don't count."""
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\-]", "", folded)


def is_valid_credit_code(code: str) -> bool:
    if len(code) != 18 or any(c not in _CREDIT_CODE_ALPHABET for c in code):
        return False
    total = sum(
        _CREDIT_CODE_ALPHABET.index(c) * w
        for c, w in zip(code[:17], _CREDIT_CODE_WEIGHTS, strict=True)
    )
    return _CREDIT_CODE_ALPHABET[(31 - total % 31) % 31] == code[-1]


class OrderFormValidation(FormValidationAction, ABC):
    """Order-number handling shared by every form that acts on one order.

    A form stops early when the order can't have the operation (already
    shipped, return window passed…): the validation explains why and records
    the reason in `order_problem`, which also tells the form's submit action.
    """

    @abstractmethod
    def name(self) -> str: ...

    def order_problem(self, order: Order, policy: OrderPolicy) -> str | None:
        """Why this form's operation is impossible for the order, if it is."""
        return None

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("order_problem"):
            return []
        return domain_slots

    async def validate_order_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        typed = _first(slot_value)
        candidate = normalize_order_number(typed)
        if not ORDER_ID_PATTERN.fullmatch(candidate):
            looks_like_phone = MOBILE_PATTERN.fullmatch(candidate)
            response = (
                "utter_order_id_looks_like_phone" if looks_like_phone else "utter_invalid_order_id"
            )
            dispatcher.utter_message(response=response, value=_echo(typed))
            return {"order_id": None}
        store = default_store()
        try:
            order = store.get(candidate)
        except OrderNotFound:
            dispatcher.utter_message(response="utter_order_not_found", order_id=candidate)
            return {"order_id": None}
        problem = self.order_problem(order, store.policy)
        if problem:
            response, _ = PROBLEM_RESPONSES[problem]
            values = order_values(order, customer_language(tracker), store.policy)
            dispatcher.utter_message(response=response, **values)
            return {
                "order_id": candidate,
                "order_problem": problem,
                "requested_slot": None,
            }
        return {"order_id": candidate, "order_problem": None}


class ValidateOrderStatusForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_order_status_form"


class ValidateRefundForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_refund_form"

    def order_problem(self, order: Order, policy: OrderPolicy) -> str | None:
        return policy.refund_problem(order)

    async def validate_refund_reason(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        reason = RefundReason.from_text(_first(slot_value))
        order_id = tracker.get_slot("order_id")
        if order_id:
            store = default_store()
            order = store.get(order_id)
            if problem := store.policy.reason_problem(order, reason):
                response, _ = PROBLEM_RESPONSES[problem]
                values = order_values(order, customer_language(tracker), store.policy)
                dispatcher.utter_message(response=response, **values)
                return {"refund_reason": None}
        return {"refund_reason": reason.value}


class ValidateAddressForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_address_form"

    def order_problem(self, order: Order, policy: OrderPolicy) -> str | None:
        return policy.address_problem(order)

    async def validate_new_address(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        address = " ".join(_first(slot_value).split())
        if not 8 <= len(address) <= 200 or not _ADDRESS_HINTS.search(address):
            dispatcher.utter_message(response="utter_invalid_address")
            return {"new_address": None}
        return {"new_address": address}


class ValidateCancelOrderForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_cancel_order_form"

    def order_problem(self, order: Order, policy: OrderPolicy) -> str | None:
        return policy.cancel_problem(order)


class ValidateInvoiceForm(OrderFormValidation):
    """Personal invoices need no company title or tax id."""

    def name(self) -> str:
        return "validate_invoice_form"

    def order_problem(self, order: Order, policy: OrderPolicy) -> str | None:
        return policy.invoice_problem(order)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if tracker.get_slot("invoice_type") == "personal":
            return [s for s in slots if s not in ("invoice_title", "tax_id")]
        return slots

    async def extract_invoice_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Reads "个人" / "公司" typed instead of pressing a button."""
        if tracker.get_slot("requested_slot") != "invoice_type":
            return {}
        text = (tracker.latest_message.get("text") or "").lower()
        for invoice_type, words in _INVOICE_TYPE_WORDS.items():
            if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", text) for w in words):
                return {"invoice_type": invoice_type}
        return {}

    async def validate_invoice_type(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if slot_value not in _INVOICE_TYPE_WORDS:
            dispatcher.utter_message(response="utter_invalid_invoice_type")
            return {"invoice_type": None}
        return {"invoice_type": slot_value}

    async def validate_invoice_title(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        title = " ".join(_first(slot_value).split())
        if not 2 <= len(title) <= 100:
            dispatcher.utter_message(response="utter_invalid_invoice_title")
            return {"invoice_title": None}
        return {"invoice_title": title}

    async def validate_tax_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        typed = _first(slot_value)
        code = re.sub(r"\s", "", unicodedata.normalize("NFKC", typed)).upper()
        if not is_valid_credit_code(code):
            dispatcher.utter_message(response="utter_invalid_tax_id", value=_echo(typed))
            return {"tax_id": None}
        return {"tax_id": code}

    async def validate_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        typed = _first(slot_value)
        match = _EMAIL.search(unicodedata.normalize("NFKC", typed))
        if match is None or len(match.group()) > 254:
            dispatcher.utter_message(response="utter_invalid_email", value=_echo(typed))
            return {"email": None}
        return {"email": match.group()}


class ActionAskRefundConfirm(Action):
    """Asks for confirmation with the order's items, the reason and the amount."""

    def name(self) -> str:
        return "action_ask_refund_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        language = customer_language(tracker)
        store = default_store()
        order = store.get(tracker.get_slot("order_id"))
        reason = RefundReason.from_text(tracker.get_slot("refund_reason") or "")
        dispatcher.utter_message(
            response="utter_ask_refund_confirm",
            reason_label=localize(reason.label, language),
            **order_values(order, language, store.policy),
        )
        return []


class ActionAskCancelConfirm(Action):
    """Asks for confirmation with the order's items and whether money goes back."""

    def name(self) -> str:
        return "action_ask_cancel_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        store = default_store()
        order = store.get(tracker.get_slot("order_id"))
        unpaid = order.status is OrderStatus.PENDING_PAYMENT
        dispatcher.utter_message(
            response="utter_ask_cancel_confirm_unpaid" if unpaid else "utter_ask_cancel_confirm",
            **order_values(order, customer_language(tracker), store.policy),
        )
        return []
