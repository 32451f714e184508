import pytest

from actions.shop.catalog import default_catalog, localize


@pytest.mark.parametrize(
    ("mention", "ids"),
    [
        ("声浪Pro降噪耳机", ["P1001"]),
        ("ＳＯＵＮＤＷＡＶＥ pro", ["P1001"]),
        ("扫地机", ["P1005"]),
        ("耳机", ["P1001", "P1002"]),
        ("冰箱", []),
        ("", []),
    ],
)
def test_find_products_by_what_customers_call_them(mention, ids):
    assert [p.id for p in default_catalog().find(mention)] == ids


def test_localize_falls_back_to_chinese():
    assert localize({"zh": "耳机", "en": "earbuds"}, "en") == "earbuds"
    assert localize({"zh": "耳机", "en": "earbuds"}, None) == "耳机"
    assert localize({"zh": "耳机"}, "en") == "耳机"
