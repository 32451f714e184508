"""Turns the features of Rasa's featurizers into one weighted matrix.

Each featurizer (word counts, character n-grams, regexes, character vectors…)
is a block. Raw counts from different blocks live on different scales, so each
sparse block gets sublinear TF-IDF weighting, every block unit length, and a
configurable weight before the blocks are stacked. That is what makes a
linear model over words, characters *and* dense vectors work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from sklearn.svm import LinearSVC


@dataclass(frozen=True)
class Block:
    """One featurizer's sentence features for one message: its non-zero
    columns, their values and the featurizer's width.

    Plain arrays rather than a 1-row scipy matrix: a message has about ten
    blocks and is scored by two classifiers, and building and checking a
    scipy matrix per block cost more than the arithmetic (a third of the
    parse).
    """

    indices: np.ndarray
    data: np.ndarray
    width: int
    dense: bool


def sentence_blocks(message: Message, attribute: str = TEXT) -> dict[str, Block]:
    """The message's sentence features per featurizer.

    A featurizer that only emits sequence features (one row per token) is
    pooled over tokens: summed for counts, averaged for dense vectors.
    """
    sentence: dict[str, Features] = {}
    sequence: dict[str, Features] = {}
    for features in message.features:
        if features.attribute != attribute:
            continue
        kind = sentence if features.type == FEATURE_TYPE_SENTENCE else sequence
        kind[str(features.origin)] = features
    # Pooling is only needed where no sentence features exist.
    return {
        **{
            origin: _block(features, pooled=True)
            for origin, features in sequence.items()
            if origin not in sentence
        },
        **{origin: _block(features, pooled=False) for origin, features in sentence.items()},
    }


def _block(features: Features, pooled: bool) -> Block:
    """The features' one row (their tokens' sum or mean when `pooled`) as a Block.

    Dense values are pooled in their own precision and then widened, sparse
    duplicates summed, and zeros dropped, as scipy's conversions did."""
    values = features.features
    width = values.shape[1]
    if features.is_dense():
        pooled_values = values.mean(axis=0) if pooled else values[0]
        row = np.asarray(pooled_values).ravel().astype(np.float64)
        indices = np.flatnonzero(row)
        return Block(indices, row[indices], width, dense=True)
    # Summed over the few columns present, not over the featurizer's width.
    coo = values.tocoo()
    columns, position = np.unique(coo.col, return_inverse=True)
    sums = np.bincount(position, weights=coo.data, minlength=len(columns))
    present = sums != 0
    return Block(columns[present], sums[present], width, dense=False)


def sentence_vectors(messages: Sequence[Message], featurizer: str) -> np.ndarray | None:
    """One row per message: the dense sentence features of the featurizer
    whose alias is `featurizer`; None if any message lacks them."""
    rows = []
    for message in messages:
        row = next(
            (
                features.features[0]
                for features in message.features
                if features.attribute == TEXT
                and features.type == FEATURE_TYPE_SENTENCE
                and features.origin == featurizer
                and features.is_dense()
            ),
            None,
        )
        if row is None:
            return None
        rows.append(row)
    return np.array(rows, dtype=np.float32) if rows else None


@dataclass
class FeatureBlocks:
    """How each featurizer's block is weighted, learned on the training examples.

    Dense blocks keep their values (their idf is all ones and they get no
    sublinear scaling); sparse blocks get TF-IDF.
    """

    names: list[str] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    idf: list[np.ndarray] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    dense: list[bool] = field(default_factory=list)

    @classmethod
    def fit(
        cls,
        messages: Sequence[Message],
        block_weights: dict[str, float] | None = None,
        attribute: str = TEXT,
    ) -> FeatureBlocks:
        per_message = [sentence_blocks(message, attribute) for message in messages]
        names = sorted({name for blocks in per_message for name in blocks})
        model = cls()
        for name in names:
            present = [blocks[name] for blocks in per_message if name in blocks]
            width = max(block.width for block in present)
            dense = present[0].dense
            if dense:
                idf = np.ones(width)
            else:
                columns = np.concatenate([block.indices for block in present])
                document_frequency = np.bincount(columns, minlength=width)
                idf = np.log((1.0 + len(messages)) / (1.0 + document_frequency)) + 1.0
            model.names.append(name)
            model.widths.append(width)
            model.idf.append(idf)
            model.weights.append(_weight_for(name, block_weights))
            model.dense.append(dense)
        return model

    def transform(self, messages: Sequence[Message], attribute: str = TEXT) -> sp.csr_matrix:
        """One row per message: each block TF-IDF weighted (sparse ones),
        unit length, times its weight, side by side. Columns past a block's
        width, words the featurizer met after this model was trained, are
        dropped."""
        offsets = np.cumsum([0, *self.widths])
        layout = list(
            zip(self.names, self.widths, self.idf, self.weights, self.dense, offsets, strict=False)
        )
        indices: list[np.ndarray] = []
        data: list[np.ndarray] = []
        indptr = [0]
        for message in messages:
            blocks = sentence_blocks(message, attribute)
            row_length = 0
            for name, width, idf, weight, dense, offset in layout:
                block = blocks.get(name)
                if block is None:
                    continue
                kept = block.indices < width
                columns, values = block.indices[kept], block.data[kept]
                if not dense:
                    values = np.log1p(values) * idf[columns]  # sublinear TF times IDF
                norm = np.sqrt(np.dot(values, values))
                if norm > 0:
                    values = values / norm * weight
                indices.append(columns + offset)
                data.append(values)
                row_length += len(columns)
            indptr.append(indptr[-1] + row_length)
        return sp.csr_matrix(
            (
                np.concatenate(data) if data else np.zeros(0),
                np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
                np.asarray(indptr),
            ),
            shape=(len(messages), int(offsets[-1])),
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"idf_{i}": idf for i, idf in enumerate(self.idf)}
        arrays["block_widths"] = np.asarray(self.widths, dtype=np.int64)
        arrays["block_weights"] = np.asarray(self.weights, dtype=np.float64)
        arrays["block_dense"] = np.asarray(self.dense, dtype=bool)
        return arrays

    @classmethod
    def from_arrays(cls, names: list[str], arrays: dict[str, np.ndarray]) -> FeatureBlocks:
        return cls(
            names=list(names),
            widths=[int(w) for w in arrays["block_widths"]],
            idf=[arrays[f"idf_{i}"] for i in range(len(names))],
            weights=[float(w) for w in arrays["block_weights"]],
            dense=[bool(d) for d in arrays["block_dense"]],
        )


def _weight_for(origin: str, block_weights: dict[str, float] | None) -> float:
    """Config names featurizers by class; origins carry a node suffix."""
    for prefix, weight in (block_weights or {}).items():
        if prefix in origin:
            return float(weight)
    return 1.0


@dataclass
class LinearModel:
    """A linear SVM over TF-IDF blocks; what both intent and FAQ classifiers use.

    Stored as plain arrays (no pickle), so a model file can't run code on load.
    """

    blocks: FeatureBlocks
    labels: list[str]
    weights: np.ndarray
    bias: np.ndarray

    def __post_init__(self) -> None:
        # Kept feature by feature (a label per column), so a message's few
        # features read only their own rows: scipy copied the whole
        # label-by-feature matrix on every product with its transpose, 10 ms
        # a message for the FAQ's. Single precision: scores move by a
        # millionth, and each Rasa process holds 20 MB less.
        self._by_feature = np.ascontiguousarray(np.asarray(self.weights, dtype=np.float32).T)
        self.weights = self._by_feature.T

    @classmethod
    def fit(
        cls,
        messages: Sequence[Message],
        labels: Sequence[str],
        C: float = 1.0,
        class_weight: str | None = None,
        block_weights: dict[str, float] | None = None,
    ) -> LinearModel:
        blocks = FeatureBlocks.fit(messages, block_weights)
        return cls.fit_features(blocks, blocks.transform(messages), labels, C, class_weight)

    @classmethod
    def fit_features(
        cls,
        blocks: FeatureBlocks,
        features: sp.csr_matrix,
        labels: Sequence[str],
        C: float = 1.0,
        class_weight: str | None = None,
    ) -> LinearModel:
        svm = LinearSVC(C=C, class_weight=class_weight, random_state=0).fit(features, list(labels))
        weights, bias = svm.coef_, svm.intercept_
        if len(svm.classes_) == 2:
            # LinearSVC keeps one row for two classes; use one per class.
            weights = np.concatenate([-weights, weights])
            bias = np.concatenate([-bias, bias])
        return cls(blocks, [str(c) for c in svm.classes_], weights, bias)

    def decision(self, features: sp.csr_matrix) -> np.ndarray:
        return np.asarray(features.astype(np.float32) @ self._by_feature) + self.bias

    def scores(self, messages: Sequence[Message]) -> np.ndarray:
        """One row per message, one column per label."""
        return self.decision(self.blocks.transform(messages))

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            weights=self.weights,
            bias=self.bias,
            labels=np.asarray(self.labels),
            block_names=np.asarray(self.blocks.names),
            **self.blocks.to_arrays(),
        )

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as stored:
            arrays = dict(stored)
        blocks = FeatureBlocks.from_arrays([str(n) for n in arrays["block_names"]], arrays)
        return cls(
            blocks,
            [str(label) for label in arrays["labels"]],
            arrays["weights"],
            arrays["bias"],
        )
