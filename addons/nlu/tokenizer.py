"""A tokenizer for Chinese, English and the mix of both that customers write."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu.fingerprint import AddonComponent
from addons.nlu.storage import read_stored_json, write_json
from addons.nlu.text import Segmenter

logger = logging.getLogger(__name__)

_USER_WORDS_FILE = "user_words.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class MixedLanguageTokenizer(AddonComponent, Tokenizer):
    """Jieba for Chinese runs, script boundaries for everything else.

    Unlike Rasa's `JiebaTokenizer` it never emits whitespace tokens, splits
    "order还没到" into "order" / "还" / "没到", folds full-width characters, and
    keeps emoji as tokens (they carry sentiment). Training teaches jieba the
    lookup-table entries (and, optionally, annotated entity values) so that
    product names stay whole.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Directory of jieba user dictionaries (one word per line, as jieba).
            "dictionary_path": None,
            # Keep lookup-table entries (product names…) as single tokens.
            "lookup_words": True,
            # Keep annotated entity values as single tokens too. Off by default:
            # it makes training text segment differently from unseen text, which
            # cost about a point of intent accuracy on SMP2019.
            "entity_words": False,
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return None

    @staticmethod
    def required_packages() -> list[str]:
        return ["jieba", "regex"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        user_words: list[str] | None = None,
    ) -> None:
        super().__init__(config)
        self._model_storage = model_storage
        self._resource = resource
        self.segmenter = Segmenter(user_words or ())

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MixedLanguageTokenizer:
        return cls(config, model_storage, resource, _dictionary_words(config))

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MixedLanguageTokenizer:
        words = read_stored_json(model_storage, resource, _USER_WORDS_FILE)
        if words is None:
            logger.debug("No stored user words for %s, using config only.", cls.__name__)
            words = _dictionary_words(config)
        return cls(config, model_storage, resource, words)

    def train(self, training_data: TrainingData) -> Resource:
        if self._config["lookup_words"]:
            self.segmenter.add_words(_lookup_words(training_data))
        if self._config["entity_words"]:
            self.segmenter.add_words(_entity_words(training_data))
        with self._model_storage.write_to(self._resource) as directory:
            write_json(directory / _USER_WORDS_FILE, self.segmenter.user_words)
        return self._resource

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        tokens = [Token(word.text, word.start, word.end) for word in self.segmenter.words(text)]
        return self._apply_token_pattern(tokens)


def _dictionary_words(config: dict[str, Any]) -> list[str]:
    """Words from jieba-format user dictionaries (word [freq] [tag] per line)."""
    path = config.get("dictionary_path")
    if not path:
        return []
    words = []
    for file in sorted(Path(path).glob("*")):
        for line in file.read_text("utf-8").splitlines():
            if line.strip():
                words.append(line.split()[0])
    return words


def _lookup_words(training_data: TrainingData) -> list[str]:
    return [
        str(element)
        for table in training_data.lookup_tables
        if isinstance(table.get("elements"), list)
        for element in table["elements"]
    ]


def _entity_words(training_data: TrainingData) -> list[str]:
    words = []
    for example in training_data.nlu_examples:
        text = example.get(TEXT) or ""
        for entity in example.get(ENTITIES) or []:
            words.append(text[entity["start"] : entity[ENTITY_ATTRIBUTE_END]])
    return words
