"""Flags messages that need urgent human attention."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import regex
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu.fingerprint import AddonComponent
from addons.nlu.storage import read_stored_json, write_json
from addons.nlu.text import Gazetteer

logger = logging.getLogger(__name__)

_LEXICON_FILE = "urgency_lexicon.json"
# "!!", "！！！", "?!": repeated exclamation shows agitation.
_AGITATED_PUNCTUATION = regex.compile(r"[!！][!！?？]+|[?？][!！]")
# A shouted English word: three or more capitals ("REFUND", "NOW").
_SHOUTING = regex.compile(r"\b[A-Z]{3,}\b")


@dataclass
class UrgencyAssessment:
    """Why a message is urgent: lexicon categories hit and the terms found."""

    reasons: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    negativity: int = 0

    @property
    def urgent(self) -> bool:
        return bool(self.reasons)


class UrgencyLexicon:
    """Scores text against lexicon categories; free of Rasa so tests and
    analytics can use it directly.

    `escalation` (投诉, 12315, lawyer…) and `safety` (起火, 漏电, injured…) make a
    message urgent on their own. `negative` terms only count towards strong
    negative sentiment: each term is a point, agitated punctuation or shouting
    adds one, and `negative_threshold` points make the message urgent.
    """

    IMMEDIATE = ("escalation", "safety")

    def __init__(self, categories: dict[str, list[str]], negative_threshold: int = 2) -> None:
        self.categories = categories
        self.negative_threshold = negative_threshold
        self._gazetteer = Gazetteer(categories)

    def assess(self, text: str) -> UrgencyAssessment:
        assessment = UrgencyAssessment()
        for start, end, labels in self._gazetteer.find(text):
            term = text[start:end]
            for label in sorted(labels):
                if label in self.IMMEDIATE and label not in assessment.reasons:
                    assessment.reasons.append(label)
                if label == "negative":
                    assessment.negativity += 1
            assessment.terms.append(term)
        if assessment.negativity:
            assessment.negativity += bool(_AGITATED_PUNCTUATION.search(text))
            assessment.negativity += bool(_SHOUTING.search(text))
        if assessment.negativity >= self.negative_threshold:
            assessment.reasons.append("negative_sentiment")
        return assessment


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class UrgencyDetector(AddonComponent, GraphComponent, EntityExtractorMixin):
    """Adds a `priority: urgent` entity to complaints, threats, safety issues
    and strongly negative messages.

    The lexicons are lookup tables in the training data (`urgent_escalation`,
    `urgent_safety`, `urgent_negative`), so designers edit them as YAML and a
    change retrains the model. The assessment also goes into the parse data as
    `urgency`, where handoff and analytics read the reasons.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "entity": "priority",
            "value": "urgent",
            "lookup_prefix": "urgent_",
            "negative_threshold": 2,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        categories: dict[str, list[str]] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.lexicon = UrgencyLexicon(categories or {}, self._config["negative_threshold"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UrgencyDetector:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        prefix = self._config["lookup_prefix"]
        categories = {
            table["name"][len(prefix) :]: [str(e) for e in table["elements"]]
            for table in training_data.lookup_tables
            if table["name"].startswith(prefix) and isinstance(table.get("elements"), list)
        }
        if not categories:
            logger.warning(
                "UrgencyDetector found no lookup tables named '%s…'; only punctuation "
                "will be assessed.",
                prefix,
            )
        self.lexicon = UrgencyLexicon(categories, self._config["negative_threshold"])
        with self._model_storage.write_to(self._resource) as directory:
            write_json(directory / _LEXICON_FILE, categories)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            assessment = self.lexicon.assess(text)
            message.set(
                "urgency",
                {
                    "urgent": assessment.urgent,
                    "reasons": assessment.reasons,
                    "terms": assessment.terms,
                },
                add_to_output=True,
            )
            if not assessment.urgent:
                continue
            entity = {
                "entity": self._config["entity"],
                "value": self._config["value"],
                "start": 0,
                "end": len(text),
                "confidence_entity": 1.0,
            }
            entities = self.add_extractor_name([entity])
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UrgencyDetector:
        categories = read_stored_json(model_storage, resource, _LEXICON_FILE)
        if categories is None:
            logger.warning("UrgencyDetector has no trained lexicon.")
            categories = {}
        return cls(config, model_storage, resource, categories)
