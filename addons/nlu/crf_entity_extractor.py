"""A CRF entity tagger over characters (Chinese) and words (everything else)."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pycrfsuite
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_CONFIDENCE,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu.fingerprint import AddonComponent
from addons.nlu.storage import read_json, read_stored, write_json
from addons.nlu.text import Gazetteer, Segmenter, Unit

logger = logging.getLogger(__name__)

_MODEL_FILE = "crf.crfsuite"
_LOOKUPS_FILE = "lookups.json"
_OUTSIDE = "O"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class CharCRFEntityExtractor(AddonComponent, GraphComponent, EntityExtractorMixin):
    """Tags entities on characters for Chinese and on words for Latin text.

    Token-level taggers lose every Chinese entity whose boundary falls inside a
    jieba word ("打开qq音乐" segments as "qq音乐" but the app is "qq"). Tagging
    single characters, with the jieba word around each character as a feature,
    keeps those entities and still knows about words. Lookup tables in the
    training data become features too, so a product list helps the tagger
    recognise product names it has never seen in an example.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Entity types left to other extractors (e.g. regexes for order ids).
            "ignore_entities": [],
            "c1": 0.05,
            "c2": 0.05,
            "max_iterations": 100,
            # Use the training data's lookup tables as features.
            "lookup_features": True,
        }

    @staticmethod
    def required_packages() -> list[str]:
        # Rasa uses these names both to import and to look up versions, so
        # python-crfsuite (imported as pycrfsuite) cannot be listed.
        return ["jieba"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: bytes | None = None,
        lookups: dict[str, list[str]] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._tagger = _open_tagger(model) if model else None
        # The tagger reads the model from this buffer; it must outlive the tagger.
        self._model = model
        self._lookups = lookups or {}
        self._gazetteer = Gazetteer(self._lookups)
        self._segmenter = Segmenter()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CharCRFEntityExtractor:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        if self._config["lookup_features"]:
            self._lookups = {
                table["name"]: [str(e) for e in table["elements"]]
                for table in training_data.lookup_tables
                if isinstance(table.get("elements"), list)
            }
            self._gazetteer = Gazetteer(self._lookups)
        ignored = set(self._config["ignore_entities"])
        if not _has_entities(training_data, ignored):
            # Nothing stored: the component loads untrained.
            logger.debug("%s: no entities to learn.", self.__class__.__name__)
            return self._resource
        trainer = pycrfsuite.Trainer(verbose=False)
        trainer.set_params(
            {
                "c1": self._config["c1"],
                "c2": self._config["c2"],
                "max_iterations": self._config["max_iterations"],
                "feature.possible_transitions": True,
            }
        )
        for example in training_data.nlu_examples:
            text = example.get(TEXT)
            if not text:
                continue
            units = self._segmenter.units(text)
            entities = [
                e for e in example.get(ENTITIES) or [] if e[ENTITY_ATTRIBUTE_TYPE] not in ignored
            ]
            trainer.append(self._features(text, units), _labels(units, entities))
        with self._model_storage.write_to(self._resource) as directory:
            write_json(directory / _LOOKUPS_FILE, self._lookups)
            model_path = directory / _MODEL_FILE
            trainer.train(str(model_path))
            self._model = model_path.read_bytes()
            self._tagger = _open_tagger(self._model)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self._tagger is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            units = self._segmenter.units(text)
            if not units:
                continue
            tags = self._tagger.tag(self._features(text, units))
            entities = [
                {
                    ENTITY_ATTRIBUTE_TYPE: entity_type,
                    ENTITY_ATTRIBUTE_START: units[first].start,
                    ENTITY_ATTRIBUTE_END: units[last].end,
                    ENTITY_ATTRIBUTE_VALUE: text[units[first].start : units[last].end],
                    ENTITY_ATTRIBUTE_CONFIDENCE: min(
                        self._tagger.marginal(tags[i], i) for i in range(first, last + 1)
                    ),
                }
                for entity_type, first, last in _spans(tags)
            ]
            entities = self.add_extractor_name(entities)
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages

    def _features(self, text: str, units: list[Unit]) -> list[dict[str, Any]]:
        lookup_tags = _lookup_tags(self._gazetteer, text, units) if self._gazetteer else None
        base = [_unit_features(unit) for unit in units]
        padded = ["<s>", "<s>", *(f["u"] for f in base), "</s>", "</s>"]
        features = []
        for i, own in enumerate(base):
            window = padded[i : i + 5]
            item = dict(own)
            item.update(
                {
                    "u-2": window[0],
                    "u-1": window[1],
                    "u+1": window[3],
                    "u+2": window[4],
                    "u-1|u": window[1] + "|" + window[2],
                    "u|u+1": window[2] + "|" + window[3],
                    "u-1|u|u+1": "|".join(window[1:4]),
                }
            )
            if lookup_tags and lookup_tags[i]:
                item["lookup"] = lookup_tags[i]
            features.append(item)
        return features

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CharCRFEntityExtractor:
        stored = read_stored(model_storage, resource, _read_model_and_lookups)
        if stored is None:
            logger.debug("%s has no trained model.", cls.__name__)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, *stored)


def _read_model_and_lookups(directory: Path) -> tuple[bytes, dict[str, list[str]]]:
    lookups = read_json(directory / _LOOKUPS_FILE)
    return (directory / _MODEL_FILE).read_bytes(), lookups


def _open_tagger(model: bytes) -> pycrfsuite.Tagger:
    """Opens a tagger on a model held in memory (the model storage is temporary)."""
    tagger = pycrfsuite.Tagger()
    tagger.open_inmemory(model)
    return tagger


def _unit_features(unit: Unit) -> dict[str, Any]:
    lowered = unit.text.lower()
    features: dict[str, Any] = {"u": lowered, "script": unit.script}
    if unit.script == "han":
        features.update({"pos": unit.position, "word": unit.word, "wlen": str(len(unit.word))})
    elif unit.script == "latin":
        features.update(
            {
                "shape": _shape(unit.text),
                "pre3": lowered[:3],
                "suf3": lowered[-3:],
                "len": str(min(len(unit.text), 20)),
            }
        )
    return features


def _shape(text: str) -> str:
    """'iPhone15' -> 'xXd': character classes with repeats collapsed."""
    shape = []
    for char in text:
        kind = "d" if char.isdigit() else "X" if char.isupper() else "x" if char.isalpha() else char
        if not shape or shape[-1] != kind:
            shape.append(kind)
    return "".join(shape)


def _units_within(units: list[Unit], starts: list[int], start: int, end: int) -> range:
    """Indices of the units inside [start, end); ``starts`` are the units' sorted offsets."""
    first = bisect.bisect_left(starts, start)
    last = first
    while last < len(units) and units[last].end <= end:
        last += 1
    return range(first, last)


def _lookup_tags(gazetteer: Gazetteer, text: str, units: list[Unit]) -> list[str]:
    tags = [""] * len(units)
    starts = [unit.start for unit in units]
    for start, end, labels in gazetteer.find(text):
        label = "+".join(sorted(labels))
        for n, i in enumerate(_units_within(units, starts, start, end)):
            tags[i] = ("B-" if n == 0 else "I-") + label
    return tags


def _labels(units: list[Unit], entities: Iterable[dict[str, Any]]) -> list[str]:
    labels = [_OUTSIDE] * len(units)
    starts = [unit.start for unit in units]
    for entity in entities:
        start, end = entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
        inside = _units_within(units, starts, start, end)
        if not inside or units[inside[0]].start != start or units[inside[-1]].end != end:
            logger.debug("Entity %s does not align with text units; skipped.", entity)
            continue
        for n, i in enumerate(inside):
            labels[i] = ("B-" if n == 0 else "I-") + entity[ENTITY_ATTRIBUTE_TYPE]
    return labels


def _spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """BIO tags -> (type, first unit, last unit); a stray I- starts an entity."""
    spans: list[tuple[str, int, int]] = []
    current: tuple[str, int] | None = None
    for i, tag in enumerate([*tags, _OUTSIDE]):
        entity_type = tag[2:] if tag != _OUTSIDE else None
        continues = current is not None and tag.startswith("I-") and entity_type == current[0]
        if current is not None and not continues:
            spans.append((current[0], current[1], i - 1))
            current = None
        if entity_type and not continues:
            current = (entity_type, i)
    return spans


def _has_entities(training_data: TrainingData, ignored: set[str]) -> bool:
    return any(
        entity[ENTITY_ATTRIBUTE_TYPE] not in ignored
        for example in training_data.nlu_examples
        for entity in example.get(ENTITIES) or []
    )
