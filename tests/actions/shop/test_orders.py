import json
from datetime import date

import pytest

from actions.shop.catalog import FIXTURES, default_catalog
from actions.shop.errors import OrderNotFound, OrderStateError
from actions.shop.orders import OrderStatus, OrderStore, RefundReason

TODAY = date(2026, 11, 21)


@pytest.fixture
def store() -> OrderStore:
    return OrderStore.from_fixture(today=lambda: TODAY)


def test_fixture_dates_are_relative_to_today(store):
    shipped = store.get("241108302211")
    assert shipped.placed_on == date(2026, 11, 18)
    assert shipped.shipment.eta == date(2026, 11, 22)
    assert store.get("241106117845").delivered_on == date(2026, 11, 19)


def test_every_fixture_order_is_consistent():
    raw = json.loads((FIXTURES / "orders.json").read_text("utf-8"))["orders"]
    catalog = default_catalog()
    assert len({order["id"] for order in raw}) == len(raw)
    for order in raw:
        assert len(order["id"]) == 12 and order["id"].isdigit()
        assert all(catalog.get(item["product_id"]) for item in order["items"])
        assert ("shipping" in order) == (order["status"] == "shipped")
        delivered = order["status"] in {"delivered", "completed", "refunding", "refunded"}
        assert ("delivered_days_ago" in order) == delivered


def test_unknown_order_raises(store):
    with pytest.raises(OrderNotFound):
        store.get("999999999999")


@pytest.mark.parametrize(
    ("order_id", "problem"),
    [
        ("241115902216", "unpaid"),
        ("241115000457", "not_shipped"),
        ("241108302211", "in_transit"),
        ("241101330087", "cancelled"),
        ("241028664410", "already"),
        ("241012447720", "already"),
        ("241020559031", "window_passed"),
        ("241106117845", None),
        ("241110008812", None),
    ],
)
def test_refund_rules(store, order_id, problem):
    assert store.policy.refund_problem(store.get(order_id)) == problem


def test_no_reason_returns_need_seven_days_quality_problems_fifteen(store):
    ten_days = store.get("241110008812")
    assert (
        store.policy.reason_problem(ten_days, RefundReason.CHANGED_MIND)
        == "changed_mind_window_passed"
    )
    assert store.policy.reason_problem(ten_days, RefundReason.QUALITY) is None


def test_a_refund_moves_the_order_and_cannot_be_repeated(store):
    refund = store.request_refund("241106117845", RefundReason.QUALITY)
    assert refund.amount == 2499
    assert store.get("241106117845").status is OrderStatus.REFUNDING
    with pytest.raises(OrderStateError) as raised:
        store.request_refund("241106117845", RefundReason.QUALITY)
    assert raised.value.problem == "already"


def test_address_and_cancellation_only_before_shipping(store):
    assert (
        store.change_address("241115000457", "上海市黄浦区南京东路1号").address
        == "上海市黄浦区南京东路1号"
    )
    with pytest.raises(OrderStateError):
        store.change_address("241108302211", "上海市黄浦区南京东路1号")
    assert store.cancel("241115902216").status is OrderStatus.CANCELLED
    with pytest.raises(OrderStateError) as raised:
        store.cancel("241106117845")
    assert raised.value.problem == "not_possible"


def test_invoices_need_a_paid_recent_order(store):
    invoice = store.request_invoice(
        "241106117845", company=False, title="张伟", tax_id=None, email="a@b.com"
    )
    assert invoice.id.startswith("INV")
    assert store.policy.invoice_problem(store.get("241115902216")) == "not_available"
    assert store.policy.invoice_problem(store.get("240301556677")) == "invoice_window_passed"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("quality", RefundReason.QUALITY),
        ("屏幕坏了", RefundReason.QUALITY),
        ("发错货了", RefundReason.WRONG_ITEM),
        ("和描述不符", RefundReason.NOT_AS_DESCRIBED),
        ("不想要了", RefundReason.CHANGED_MIND),
        ("I changed my mind", RefundReason.CHANGED_MIND),
        ("说不清", RefundReason.OTHER),
    ],
)
def test_refund_reasons_in_the_customers_words(text, reason):
    assert RefundReason.from_text(text) is reason


def test_items_summary_in_both_languages(store):
    order = store.get("241020559031")
    assert order.items_summary("zh") == "暖居电热水壶×1、速充65W氮化镓充电器×2"
    assert order.items_summary("en") == "WarmHome electric kettle×1, TurboCharge 65W GaN charger×2"
    assert order.amount == 129 + 2 * 149
