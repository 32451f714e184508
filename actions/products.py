"""Pre-sales answers about the catalogue's products."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.language import customer_language
from actions.shop.catalog import default_catalog, localize

_MAX_CANDIDATES = 4


class ActionProductInfo(Action):
    """Price, stock and warranty of the product the customer asks about."""

    def name(self) -> str:
        return "action_product_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        language = customer_language(tracker)
        mentioned = [
            e.get("value")
            for e in tracker.latest_message.get("entities", [])
            if e.get("entity") == "product"
        ]
        mention = next((m for m in mentioned if m), None) or tracker.get_slot("product")
        if not mention:
            dispatcher.utter_message(response="utter_ask_which_product")
            return []
        products = default_catalog().find(str(mention))
        if not products:
            dispatcher.utter_message(response="utter_product_unknown", product=str(mention)[:40])
            return []
        if len(products) > 1:
            buttons = [
                {
                    "title": localize(p.name, language),
                    "payload": "/product_consult"
                    + json.dumps({"product": p.name["zh"]}, ensure_ascii=False),
                }
                for p in products[:_MAX_CANDIDATES]
            ]
            dispatcher.utter_message(response="utter_product_candidates", buttons=buttons)
            return []
        product = products[0]
        dispatcher.utter_message(
            response="utter_product_info"
            if product.in_stock
            else "utter_product_info_out_of_stock",
            name=localize(product.name, language),
            price=str(product.price),
            warranty=localize(product.warranty, language),
            summary=localize(product.summary, language),
        )
        return [SlotSet("product", product.name["zh"])]
