import pytest

from actions.forms import (
    ActionAskCancelConfirm,
    ActionAskRefundConfirm,
    ValidateAddressForm,
    ValidateCancelOrderForm,
    ValidateInvoiceForm,
    ValidateOrderStatusForm,
    ValidateRefundForm,
    is_valid_credit_code,
    normalize_order_number,
)
from tests.actions.conftest import responses


async def validate(form, slot, value, dispatcher, tracker, domain):
    return await getattr(form, f"validate_{slot}")(value, dispatcher, tracker, domain)


@pytest.mark.parametrize(
    ("typed", "response"),
    [
        ("12345", "utter_invalid_order_id"),
        ("abc", "utter_invalid_order_id"),
        ("13812345678", "utter_order_id_looks_like_phone"),
        ("999999999999", "utter_order_not_found"),
    ],
)
async def test_bad_order_numbers_are_explained_and_asked_again(
    typed, response, dispatcher, tracker_for, domain_dict
):
    result = await validate(
        ValidateOrderStatusForm(), "order_id", typed, dispatcher, tracker_for(typed), domain_dict
    )
    assert result == {"order_id": None}
    assert responses(dispatcher) == [response]


async def test_an_order_number_typed_with_spaces_full_width_or_as_a_list(
    dispatcher, tracker_for, domain_dict
):
    form = ValidateOrderStatusForm()
    for typed in ("２４１１０８３０２２１１", "2411 0830 2211", ["241108302211", "241106117845"]):
        result = await validate(form, "order_id", typed, dispatcher, tracker_for(), domain_dict)
        assert result == {"order_id": "241108302211", "order_problem": None}
    assert dispatcher.messages == []


async def test_a_long_typed_value_is_not_echoed_in_full(dispatcher, tracker_for, domain_dict):
    await validate(
        ValidateOrderStatusForm(), "order_id", "x" * 5000, dispatcher, tracker_for(), domain_dict
    )
    assert len(dispatcher.messages[0]["value"]) <= 41


@pytest.mark.parametrize(
    ("form", "order_id", "problem", "response"),
    [
        (
            ValidateRefundForm(),
            "241020559031",
            "window_passed",
            "utter_refund_ineligible_window_passed",
        ),
        (ValidateRefundForm(), "241108302211", "in_transit", "utter_refund_ineligible_in_transit"),
        (ValidateAddressForm(), "241108302211", "locked", "utter_address_locked"),
        (ValidateCancelOrderForm(), "241106117845", "not_possible", "utter_cancel_not_possible"),
        (ValidateInvoiceForm(), "241115902216", "not_available", "utter_invoice_not_available"),
    ],
)
async def test_an_ineligible_order_ends_the_form_with_a_reason(
    form, order_id, problem, response, dispatcher, tracker_for, domain_dict
):
    result = await validate(form, "order_id", order_id, dispatcher, tracker_for(), domain_dict)
    assert result == {"order_id": order_id, "order_problem": problem, "requested_slot": None}
    assert responses(dispatcher) == [response]
    assert dispatcher.messages[0]["order_id"] == order_id
    stopped = tracker_for(slots={"order_problem": problem})
    assert await form.required_slots(["order_id", "x"], dispatcher, stopped, domain_dict) == []


async def test_refund_reasons_from_buttons_and_words(dispatcher, tracker_for, domain_dict):
    form = ValidateRefundForm()
    tracker = tracker_for(slots={"order_id": "241106117845"})
    assert await validate(form, "refund_reason", "quality", dispatcher, tracker, domain_dict) == {
        "refund_reason": "quality"
    }
    assert await validate(
        form, "refund_reason", "发错货了，少了个配件", dispatcher, tracker, domain_dict
    ) == {"refund_reason": "wrong_item"}


async def test_changed_mind_after_seven_days_is_refused(dispatcher, tracker_for, domain_dict):
    tracker = tracker_for(slots={"order_id": "241110008812", "language": "en"})
    result = await validate(
        ValidateRefundForm(), "refund_reason", "不想要了", dispatcher, tracker, domain_dict
    )
    assert result == {"refund_reason": None}
    assert responses(dispatcher) == ["utter_refund_changed_mind_window_passed"]
    assert dispatcher.messages[0]["days_since_delivery"] == "10"


@pytest.mark.parametrize(
    ("typed", "accepted"),
    [
        ("浙江省杭州市西湖区文三路90号", "浙江省杭州市西湖区文三路90号"),
        (
            "  88 Jianguo Road,   Chaoyang District, Beijing ",
            "88 Jianguo Road, Chaoyang District, Beijing",
        ),
        ("我家", None),
        ("随便写点什么好长好长好长", None),
        ("路" * 300, None),
    ],
)
async def test_addresses(typed, accepted, dispatcher, tracker_for, domain_dict):
    result = await validate(
        ValidateAddressForm(), "new_address", typed, dispatcher, tracker_for(), domain_dict
    )
    assert result == {"new_address": accepted}
    assert responses(dispatcher) == ([] if accepted else ["utter_invalid_address"])


async def test_personal_invoices_skip_title_and_tax_id(dispatcher, tracker_for, domain_dict):
    form = ValidateInvoiceForm()
    slots = ["order_id", "invoice_type", "invoice_title", "tax_id", "email"]
    personal = tracker_for(slots={"invoice_type": "personal"})
    company = tracker_for(slots={"invoice_type": "company"})
    assert await form.required_slots(slots, dispatcher, personal, domain_dict) == [
        "order_id",
        "invoice_type",
        "email",
    ]
    assert await form.required_slots(slots, dispatcher, company, domain_dict) == slots


@pytest.mark.parametrize(
    ("text", "invoice_type"),
    [
        ("个人", "personal"),
        ("开给公司", "company"),
        ("单位的", "company"),
        ("Company please", "company"),
        ("嗯", None),
    ],
)
async def test_invoice_type_typed_as_words(
    text, invoice_type, dispatcher, tracker_for, domain_dict
):
    tracker = tracker_for(text, slots={"requested_slot": "invoice_type"})
    extracted = await ValidateInvoiceForm().extract_invoice_type(dispatcher, tracker, domain_dict)
    assert extracted == ({"invoice_type": invoice_type} if invoice_type else {})


async def test_invoice_type_is_only_read_when_asked(dispatcher, tracker_for, domain_dict):
    tracker = tracker_for("个人", slots={"requested_slot": "email"})
    assert await ValidateInvoiceForm().extract_invoice_type(dispatcher, tracker, domain_dict) == {}


def test_unified_social_credit_codes():
    # The example of GB 32100-2015 and a registered company's code.
    assert is_valid_credit_code("91350100M000100Y43")
    assert is_valid_credit_code("91110108551385082Q")
    assert not is_valid_credit_code("91350100M000100Y44")
    assert not is_valid_credit_code("91350100M000100Y4")
    assert not is_valid_credit_code("91350100I000100Y43")


async def test_tax_id_is_normalised_or_refused(dispatcher, tracker_for, domain_dict):
    form = ValidateInvoiceForm()
    ok = await validate(
        form, "tax_id", " 91350100m000100y43 ", dispatcher, tracker_for(), domain_dict
    )
    assert ok == {"tax_id": "91350100M000100Y43"}
    bad = await validate(form, "tax_id", "123", dispatcher, tracker_for(), domain_dict)
    assert bad == {"tax_id": None}
    assert responses(dispatcher) == ["utter_invalid_tax_id"]


async def test_email_is_extracted_or_refused(dispatcher, tracker_for, domain_dict):
    form = ValidateInvoiceForm()
    ok = await validate(
        form, "email", "发到 Amy.Li@Example.com 谢谢", dispatcher, tracker_for(), domain_dict
    )
    assert ok == {"email": "Amy.Li@Example.com"}
    bad = await validate(form, "email", "amy at example", dispatcher, tracker_for(), domain_dict)
    assert bad == {"email": None}


async def test_refund_confirmation_shows_the_order(dispatcher, tracker_for, domain_dict):
    tracker = tracker_for(
        slots={"order_id": "241106117845", "refund_reason": "quality", "language": "en"}
    )
    await ActionAskRefundConfirm().run(dispatcher, tracker, domain_dict)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_ask_refund_confirm"
    assert (message["order_items"], message["reason_label"], message["refund_amount"]) == (
        "Pine S7 robot vacuum×1",
        "quality problem",
        "2499",
    )


@pytest.mark.parametrize(
    ("order_id", "response"),
    [
        ("241115902216", "utter_ask_cancel_confirm_unpaid"),
        ("241115000457", "utter_ask_cancel_confirm"),
    ],
)
async def test_cancel_confirmation_says_whether_money_goes_back(
    order_id, response, dispatcher, tracker_for, domain_dict
):
    await ActionAskCancelConfirm().run(
        dispatcher, tracker_for(slots={"order_id": order_id}), domain_dict
    )
    assert responses(dispatcher) == [response]


def test_order_number_normalisation():
    assert normalize_order_number("２４１１-0830 2211") == "241108302211"
