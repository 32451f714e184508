"""The product catalogue of the demo shop, loaded from fixtures/products.json."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

Localized = dict[str, str]


def localize(text: Localized, language: str | None) -> str:
    """The text in the customer's language, Chinese when it has none."""
    return text.get(language or "zh") or text["zh"]


@dataclass(frozen=True)
class Product:
    id: str
    name: Localized
    price: int
    warranty: Localized
    stock: int
    summary: Localized
    aliases: tuple[str, ...] = ()

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    def names(self) -> tuple[str, ...]:
        return (self.name["zh"], self.name["en"], *self.aliases)


class ProductCatalog:
    """Finds products by what customers call them."""

    def __init__(self, products: list[Product]) -> None:
        self.products = products
        self._by_id = {product.id: product for product in products}

    @classmethod
    def from_fixture(cls, path: Path = FIXTURES / "products.json") -> ProductCatalog:
        raw = json.loads(path.read_text("utf-8"))
        return cls(
            [
                Product(
                    id=item["id"],
                    name=item["name"],
                    price=item["price"],
                    warranty=item["warranty"],
                    stock=item["stock"],
                    summary=item["summary"],
                    aliases=tuple(item.get("aliases", ())),
                )
                for item in raw
            ]
        )

    def get(self, product_id: str) -> Product | None:
        return self._by_id.get(product_id)

    def find(self, mention: str) -> list[Product]:
        """Products a mention may mean: an exact name or alias wins outright;
        otherwise every product whose names contain the mention or are
        contained in it ("耳机" → both earbuds)."""
        wanted = _fold(mention)
        if not wanted:
            return []
        exact = [p for p in self.products if any(_fold(n) == wanted for n in p.names())]
        if exact:
            return exact
        return [
            p
            for p in self.products
            if any(wanted in _fold(n) or _fold(n) in wanted for n in p.names())
        ]


def _fold(text: str) -> str:
    """Case, width and spacing do not matter: "ＡＩＲ pods" is "airpods"."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


@cache
def default_catalog() -> ProductCatalog:
    return ProductCatalog.from_fixture()
