"""Orders of the demo shop: records, the rules that apply to them, and a store.

The store is a mock of the shop's order system. It loads
fixtures/orders.json, where dates are given in days before today so the demo
data never grows stale, and keeps changes (cancellations, new addresses,
refunds) in memory for the life of the action server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from itertools import count
from pathlib import Path

from actions.shop.catalog import (
    FIXTURES,
    Localized,
    Product,
    ProductCatalog,
    default_catalog,
    localize,
)
from actions.shop.errors import OrderNotFound, OrderStateError

ORDER_ID_PATTERN = re.compile(r"\d{12}")
MOBILE_PATTERN = re.compile(r"1[3-9]\d{9}")

NO_REASON_RETURN_DAYS = 7
QUALITY_RETURN_DAYS = 15
INVOICE_WINDOW_DAYS = 180
DISPATCH_DAYS = 2


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDING = "refunding"
    REFUNDED = "refunded"

    @property
    def label(self) -> Localized:
        return _STATUS_LABELS[self]


_STATUS_LABELS: dict[OrderStatus, Localized] = {
    OrderStatus.PENDING_PAYMENT: {"zh": "待付款", "en": "awaiting payment"},
    OrderStatus.PAID: {"zh": "待发货", "en": "paid, awaiting shipment"},
    OrderStatus.SHIPPED: {"zh": "运输中", "en": "in transit"},
    OrderStatus.DELIVERED: {"zh": "已签收", "en": "delivered"},
    OrderStatus.COMPLETED: {"zh": "已完成", "en": "completed"},
    OrderStatus.CANCELLED: {"zh": "已取消", "en": "cancelled"},
    OrderStatus.REFUNDING: {"zh": "退款中", "en": "being refunded"},
    OrderStatus.REFUNDED: {"zh": "已退款", "en": "refunded"},
}

_PAID_AND_KEPT = {
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
}


class RefundReason(StrEnum):
    QUALITY = "quality"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    CHANGED_MIND = "changed_mind"
    OTHER = "other"

    @property
    def label(self) -> Localized:
        return _REASON_LABELS[self]

    @property
    def shop_pays_return_shipping(self) -> bool:
        return self in {
            RefundReason.QUALITY,
            RefundReason.WRONG_ITEM,
            RefundReason.NOT_AS_DESCRIBED,
        }

    @classmethod
    def from_text(cls, text: str) -> RefundReason:
        """Maps a button value or a reason in the customer's own words."""
        lowered = text.strip().lower()
        if lowered in cls._value2member_map_:
            return cls(lowered)
        for reason, keywords in _REASON_KEYWORDS.items():
            if any(keyword in lowered for keyword in keywords):
                return reason
        return cls.OTHER


_REASON_LABELS: dict[RefundReason, Localized] = {
    RefundReason.QUALITY: {"zh": "质量问题", "en": "quality problem"},
    RefundReason.WRONG_ITEM: {"zh": "发错货/少件", "en": "wrong or missing item"},
    RefundReason.NOT_AS_DESCRIBED: {"zh": "与描述不符", "en": "not as described"},
    RefundReason.CHANGED_MIND: {"zh": "七天无理由", "en": "changed my mind"},
    RefundReason.OTHER: {"zh": "其他", "en": "other"},
}

_REASON_KEYWORDS: dict[RefundReason, tuple[str, ...]] = {
    RefundReason.WRONG_ITEM: (
        "发错",
        "错发",
        "少件",
        "少发",
        "漏发",
        "缺件",
        "wrong item",
        "missing",
        "wrong size sent",
    ),
    RefundReason.NOT_AS_DESCRIBED: (
        "不符",
        "描述",
        "色差",
        "假货",
        "not as described",
        "different from",
        "fake",
    ),
    RefundReason.QUALITY: (
        "质量",
        "坏",
        "破损",
        "瑕疵",
        "故障",
        "不工作",
        "用不了",
        "开不了机",
        "漏",
        "quality",
        "broken",
        "defect",
        "faulty",
        "damaged",
        "doesn't work",
        "not working",
    ),
    RefundReason.CHANGED_MIND: (
        "不想要",
        "不要了",
        "不喜欢",
        "无理由",
        "买错",
        "拍错",
        "不合适",
        "后悔",
        "changed my mind",
        "don't want",
        "do not want",
        "don't like",
        "no longer need",
        "ordered by mistake",
    ),
}


@dataclass(frozen=True)
class Shipment:
    carrier: Localized
    tracking_number: str
    eta: date
    last_checkpoint: Localized


@dataclass(frozen=True)
class OrderLine:
    product: Product
    quantity: int

    @property
    def amount(self) -> int:
        return self.product.price * self.quantity


@dataclass(frozen=True)
class Order:
    id: str
    customer_id: str
    customer_name: str
    phone: str
    lines: tuple[OrderLine, ...]
    status: OrderStatus
    placed_on: date
    address: str
    delivered_on: date | None = None
    shipment: Shipment | None = None

    @property
    def amount(self) -> int:
        return sum(line.amount for line in self.lines)

    def items_summary(self, language: str | None) -> str:
        separator = "、" if (language or "zh") == "zh" else ", "
        return separator.join(
            f"{localize(line.product.name, language)}×{line.quantity}" for line in self.lines
        )

    def days_since_delivery(self, today: date) -> int | None:
        return None if self.delivered_on is None else (today - self.delivered_on).days


@dataclass(frozen=True)
class RefundRequest:
    id: str
    order_id: str
    reason: RefundReason
    amount: int


@dataclass(frozen=True)
class InvoiceRequest:
    id: str
    order_id: str
    company: bool
    title: str
    tax_id: str | None
    email: str


class OrderPolicy:
    """The shop's rules for returns, cancellations, address changes and invoices.

    Each check returns ``None`` when the operation is allowed, otherwise a
    problem code that names the explanation to give the customer.
    """

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        self.today = today

    def refund_problem(self, order: Order) -> str | None:
        match order.status:
            case OrderStatus.PENDING_PAYMENT:
                return "unpaid"
            case OrderStatus.PAID:
                return "not_shipped"
            case OrderStatus.SHIPPED:
                return "in_transit"
            case OrderStatus.CANCELLED:
                return "cancelled"
            case OrderStatus.REFUNDING | OrderStatus.REFUNDED:
                return "already"
        days = order.days_since_delivery(self.today())
        if days is not None and days > QUALITY_RETURN_DAYS:
            return "window_passed"
        return None

    def reason_problem(self, order: Order, reason: RefundReason) -> str | None:
        days = order.days_since_delivery(self.today())
        if (
            reason is RefundReason.CHANGED_MIND
            and days is not None
            and days > NO_REASON_RETURN_DAYS
        ):
            return "changed_mind_window_passed"
        return None

    def address_problem(self, order: Order) -> str | None:
        if order.status in {OrderStatus.PENDING_PAYMENT, OrderStatus.PAID}:
            return None
        return "locked"

    def cancel_problem(self, order: Order) -> str | None:
        if order.status in {OrderStatus.PENDING_PAYMENT, OrderStatus.PAID}:
            return None
        return "not_possible"

    def invoice_problem(self, order: Order) -> str | None:
        if order.status not in _PAID_AND_KEPT:
            return "not_available"
        if (self.today() - order.placed_on).days > INVOICE_WINDOW_DAYS:
            return "invoice_window_passed"
        return None


@dataclass
class OrderStore:
    """In-memory order system seeded from the fixture."""

    orders: dict[str, Order]
    policy: OrderPolicy = field(default_factory=OrderPolicy)
    _refund_numbers: count = field(default_factory=lambda: count(1))
    _invoice_numbers: count = field(default_factory=lambda: count(1))

    @classmethod
    def from_fixture(
        cls,
        path: Path = FIXTURES / "orders.json",
        catalog: ProductCatalog | None = None,
        today: Callable[[], date] = date.today,
    ) -> OrderStore:
        catalog = catalog or default_catalog()
        day = today()
        orders = {}
        for raw in json.loads(path.read_text("utf-8"))["orders"]:
            order = _order_from_fixture(raw, catalog, day)
            orders[order.id] = order
        return cls(orders, OrderPolicy(today))

    def get(self, order_id: str) -> Order:
        try:
            return self.orders[order_id]
        except KeyError:
            raise OrderNotFound(order_id=order_id) from None

    def request_refund(self, order_id: str, reason: RefundReason) -> RefundRequest:
        order = self.get(order_id)
        problem = self.policy.refund_problem(order) or self.policy.reason_problem(order, reason)
        if problem:
            raise OrderStateError(problem, order_id=order_id)
        self.orders[order_id] = replace(order, status=OrderStatus.REFUNDING)
        number = next(self._refund_numbers)
        return RefundRequest(f"RF{order_id[-6:]}{number:03d}", order_id, reason, order.amount)

    def change_address(self, order_id: str, address: str) -> Order:
        order = self.get(order_id)
        if problem := self.policy.address_problem(order):
            raise OrderStateError(problem, order_id=order_id)
        self.orders[order_id] = replace(order, address=address)
        return self.orders[order_id]

    def cancel(self, order_id: str) -> Order:
        order = self.get(order_id)
        if problem := self.policy.cancel_problem(order):
            raise OrderStateError(problem, order_id=order_id)
        self.orders[order_id] = replace(order, status=OrderStatus.CANCELLED)
        return self.orders[order_id]

    def request_invoice(
        self,
        order_id: str,
        *,
        company: bool,
        title: str,
        tax_id: str | None,
        email: str,
    ) -> InvoiceRequest:
        order = self.get(order_id)
        if problem := self.policy.invoice_problem(order):
            raise OrderStateError(problem, order_id=order_id)
        number = next(self._invoice_numbers)
        return InvoiceRequest(
            f"INV{order_id[-6:]}{number:03d}", order_id, company, title, tax_id, email
        )


def _order_from_fixture(raw: dict, catalog: ProductCatalog, today: date) -> Order:
    def days_ago(key: str) -> date | None:
        return today - timedelta(days=raw[key]) if key in raw else None

    lines = []
    for item in raw["items"]:
        product = catalog.get(item["product_id"])
        if product is None:
            raise ValueError(f"order {raw['id']} names unknown product {item['product_id']}")
        lines.append(OrderLine(product, item["quantity"]))
    shipment = None
    if "shipping" in raw:
        shipping = raw["shipping"]
        shipment = Shipment(
            carrier=shipping["carrier"],
            tracking_number=shipping["tracking_number"],
            eta=today + timedelta(days=shipping["eta_days"]),
            last_checkpoint=shipping["last_checkpoint"],
        )
    customer = raw["customer"]
    return Order(
        id=raw["id"],
        customer_id=customer["id"],
        customer_name=customer["name"],
        phone=customer["phone"],
        lines=tuple(lines),
        status=OrderStatus(raw["status"]),
        placed_on=days_ago("placed_days_ago"),
        address=raw["address"],
        delivered_on=days_ago("delivered_days_ago"),
        shipment=shipment,
    )


@cache
def default_store() -> OrderStore:
    """The action server's one order store."""
    return OrderStore.from_fixture()
