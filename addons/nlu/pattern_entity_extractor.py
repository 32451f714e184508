"""Entities that follow a fixed form: order numbers, phones, e-mails, catalogue names."""

from __future__ import annotations

import logging
from typing import Any

import regex
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu.fingerprint import AddonComponent
from addons.nlu.storage import read_stored_json, write_json
from addons.nlu.text import Gazetteer, to_half_width

logger = logging.getLogger(__name__)

_PATTERNS_FILE = "patterns.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class PatternEntityExtractor(AddonComponent, GraphComponent, EntityExtractorMixin):
    """Extracts the configured entities with the data's regexes and lookup tables.

    Compared with Rasa's `RegexEntityExtractor`:
    - it does not wrap patterns in `\\b`, which never matches between Chinese
      characters and digits ("订单241108302211");
    - it matches on width-folded text, so "１３８…" is a phone number too;
    - it does not need the entity to be annotated in an example;
    - where it finds an entity, it replaces overlapping guesses of the same type
      from statistical extractors earlier in the pipeline: a regex is the
      authority on what an order number looks like.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Entity types to extract: a regex or lookup table of the same name
            # in the training data defines each.
            "entities": [],
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        regexes: dict[str, list[str]] | None = None,
        lookups: dict[str, list[str]] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._regexes = regexes or {}
        self._lookups = lookups or {}
        self._compiled = {
            name: [regex.compile(p, regex.IGNORECASE) for p in patterns]
            for name, patterns in self._regexes.items()
        }
        self._gazetteer = Gazetteer(self._lookups)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> PatternEntityExtractor:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        wanted = set(self._config["entities"])
        regexes: dict[str, list[str]] = {}
        for feature in training_data.regex_features:
            if feature["name"] in wanted:
                _check_pattern(feature["name"], feature["pattern"])
                regexes.setdefault(feature["name"], []).append(feature["pattern"])
        lookups = {
            table["name"]: [str(e) for e in table["elements"]]
            for table in training_data.lookup_tables
            if table["name"] in wanted and isinstance(table.get("elements"), list)
        }
        missing = wanted - set(regexes) - set(lookups)
        if missing:
            logger.warning(
                "PatternEntityExtractor: no regex or lookup table in the training data " "for %s.",
                ", ".join(sorted(missing)),
            )
        with self._model_storage.write_to(self._resource) as directory:
            write_json(directory / _PATTERNS_FILE, {"regexes": regexes, "lookups": lookups})
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            found = self._find(text)
            if not found:
                continue
            kept = [
                entity
                for entity in message.get(ENTITIES, [])
                if not any(_overlaps(entity, new) for new in found)
            ]
            message.set(ENTITIES, kept + self.add_extractor_name(found), add_to_output=True)
        return messages

    def _find(self, text: str) -> list[dict[str, Any]]:
        folded = to_half_width(text)
        spans: list[tuple[int, int, str]] = []
        for name, patterns in self._compiled.items():
            for pattern in patterns:
                spans.extend((m.start(), m.end(), name) for m in pattern.finditer(folded))
        for start, end, labels in self._gazetteer.find(folded):
            spans.extend((start, end, label) for label in sorted(labels))
        # Longer matches win over shorter ones they overlap.
        spans.sort(key=lambda span: (span[0] - span[1], span[0]))
        chosen: list[tuple[int, int, str]] = []
        for span in spans:
            if span[0] < span[1] and not any(
                span[0] < other[1] and other[0] < span[1] for other in chosen
            ):
                chosen.append(span)
        return [
            {
                "entity": name,
                "start": start,
                "end": end,
                "value": text[start:end],
                "confidence_entity": 1.0,
            }
            for start, end, name in sorted(chosen)
        ]

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> PatternEntityExtractor:
        stored = read_stored_json(model_storage, resource, _PATTERNS_FILE)
        if stored is None:
            logger.warning("PatternEntityExtractor has no trained patterns.")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, stored["regexes"], stored["lookups"])


def _check_pattern(name: str, pattern: str) -> None:
    try:
        regex.compile(pattern)
    except regex.error as error:
        raise InvalidConfigException(f"The regex '{name}' is not valid: {error}") from error


def _overlaps(entity: dict[str, Any], other: dict[str, Any]) -> bool:
    return (
        entity.get("entity") == other["entity"]
        and entity.get("start", 0) < other["end"]
        and other["start"] < entity.get("end", 0)
    )
