"""What our trainable featurizers share: Rasa's graph-component plumbing.

Each featurizer learns something at training (a vocabulary, a table of
vectors), stores it in its resource and is built from it again at load. A
subclass says what it learns (`train`), what it stores and how `__init__`
takes it back (`_restored`), and how it featurizes (`process`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu.fingerprint import AddonComponent
from addons.nlu.storage import read_stored

logger = logging.getLogger(__name__)


class TrainedFeaturizer(AddonComponent):
    """Mixed in before Rasa's `SparseFeaturizer` or `DenseFeaturizer`, with
    `GraphComponent` last, so Rasa's featurizer defaults (the alias) stay in
    force."""

    @staticmethod
    def required_components() -> list[type]:
        return [Tokenizer]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to check beyond Rasa's own featurizer settings (Rasa
        declares this abstract)."""

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> None:
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TrainedFeaturizer:
        return cls(config, model_storage, resource, execution_context)

    @classmethod
    def _restored(cls, directory: Path) -> dict[str, Any]:
        """The keyword arguments `__init__` takes from a stored model."""
        raise NotImplementedError

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TrainedFeaturizer:
        stored = read_stored(model_storage, resource, cls._restored)
        if stored is None:  # training found nothing to learn
            logger.debug("%s learned nothing; it adds no features.", cls.__name__)
        return cls(config, model_storage, resource, execution_context, **(stored or {}))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
