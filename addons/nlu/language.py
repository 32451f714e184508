"""Marks each message with the language the customer wrote it in."""

from __future__ import annotations

from typing import Any, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from addons.nlu.fingerprint import AddonComponent
from addons.nlu.text import detect_language, is_decisive


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(AddonComponent, GraphComponent, EntityExtractorMixin):
    """Adds a `language` entity (zh / en) when the message says which it is.

    The domain maps the entity to the `language` slot, and responses pick their
    variation by that slot. A message without words ("241108302211", "👍")
    adds no entity, so the conversation keeps the language it already had; so
    does a lone "ok" or "thx" in a conversation that is already Chinese.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"entity": "language", "slot": "language"}

    def __init__(self, config: dict[str, Any]) -> None:
        self._entity = config["entity"]
        self._slot = config["slot"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls({**cls.get_default_config(), **config})

    # Rasa checks this signature against the graph and understands `Optional`
    # but not `X | None`.
    def process(
        self,
        messages: list[Message],
        tracker: Optional[DialogueStateTracker] = None,  # noqa: UP007
    ) -> list[Message]:
        current = tracker.get_slot(self._slot) if tracker is not None else None
        for message in messages:
            text = message.get(TEXT) or ""
            language = detect_language(text)
            if language is None or (current and language != current and not is_decisive(text)):
                continue
            entity = {
                "entity": self._entity,
                "value": language,
                "start": 0,
                "end": len(text),
                "confidence_entity": 1.0,
            }
            entities = self.add_extractor_name([entity])
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages
