from datetime import date

import pytest

from actions.language import format_date, response_text


def test_response_text_picks_the_customers_variation(domain_dict):
    assert response_text(domain_dict, "utter_label_invoice", "zh") == "开具发票"
    assert response_text(domain_dict, "utter_label_invoice", "en") == "Get an invoice"
    assert response_text(domain_dict, "utter_label_invoice", "fr") == "开具发票"


def test_response_text_fills_values_and_survives_missing_ones(domain_dict):
    assert "241108302211" in response_text(
        domain_dict, "utter_order_not_found", "en", order_id="241108302211"
    )
    assert "{order_id}" in response_text(domain_dict, "utter_order_not_found", "en")


def test_unknown_response():
    with pytest.raises(KeyError):
        response_text({"responses": {}}, "utter_nope", "zh")


def test_dates():
    assert format_date(date(2026, 11, 5), "zh") == "2026年11月5日"
    assert format_date(date(2026, 11, 5), "en") == "5 Nov 2026"
