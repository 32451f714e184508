"""Dense features from a table of vectors: what character and word vectors share.

A table maps known pieces of text (characters, words) to unit vectors. A
message's feature is the unit-length mean of the vectors of the pieces it
contains, each token's the same over the token alone, so a message that names
something no training example does still lands near messages about related
things. Subclasses say where the table comes from and how text is cut into
pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT, TEXT_TOKENS
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu.trained_featurizer import TrainedFeaturizer

_VECTORS_FILE = "vectors.npz"


class Embeddings:
    """A vector per known piece of text; `ids` says which pieces a text holds."""

    def __init__(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        self.index = {key: i for i, key in enumerate(keys)}
        # Half precision, as the model stores them: a Rasa process holds
        # half the memory (23 MB less for the word vectors), and training
        # sees the same values as prediction.
        self.vectors = vectors.astype(np.float16)
        self.dimensions = vectors.shape[1]

    def ids(self, text: str) -> list[int]:
        """Rows of the known pieces in `text`."""
        raise NotImplementedError

    def mean(self, text: str) -> np.ndarray:
        """Unit-length mean vector of the text's known pieces (zeros if none)."""
        ids = self.ids(text)
        if not ids:
            return np.zeros(self.dimensions, dtype=np.float32)
        vector = self.vectors[ids].mean(axis=0, dtype=np.float32)
        return vector / (np.linalg.norm(vector) or 1.0)

    def save(self, path: Path) -> None:
        """Half precision: the features lose nothing measurable, the model half its size."""
        keys = np.array(sorted(self.index, key=self.index.get))
        np.savez_compressed(path, keys=keys, vectors=self.vectors)

    @classmethod
    def load(cls, path: Path) -> Embeddings:
        with np.load(path, allow_pickle=False) as stored:
            return cls([str(key) for key in stored["keys"]], stored["vectors"])


class EmbeddingFeaturizer(TrainedFeaturizer, DenseFeaturizer, GraphComponent):
    """Sentence and token features from an `Embeddings` table learnt at training.

    Text with no known pieces (English, for character vectors) gets zeros,
    so the component is harmless where its table knows nothing.
    """

    embeddings_class: type[Embeddings] = Embeddings

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        embeddings: Embeddings | None = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context)
        self.embeddings = embeddings

    def _learn(self) -> Embeddings | None:
        """The table to store in the model; None stores nothing (features: none)."""
        raise NotImplementedError

    def train(self, training_data: TrainingData) -> Resource:
        self.embeddings = self._learn()
        if self.embeddings is not None:
            with self._model_storage.write_to(self._resource) as directory:
                self.embeddings.save(directory / _VECTORS_FILE)
        return self._resource

    @classmethod
    def _restored(cls, directory: Path) -> dict[str, Any]:
        return {"embeddings": cls.embeddings_class.load(directory / _VECTORS_FILE)}

    def process(self, messages: list[Message]) -> list[Message]:
        if self.embeddings is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            tokens = message.get(TEXT_TOKENS)
            if not text or not tokens:
                continue
            sequence = np.stack([self.embeddings.mean(token.text) for token in tokens])
            sentence = self.embeddings.mean(text)[np.newaxis, :]
            self.add_features_to_message(sequence, sentence, TEXT, message)
        return messages
