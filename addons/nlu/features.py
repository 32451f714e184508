"""Turns the sparse features of Rasa's featurizers into one weighted matrix.

Each featurizer (word counts, character n-grams, regexes…) is a block. Raw
counts from different blocks live on different scales, so each block gets
sublinear TF-IDF weighting and unit length before the blocks are stacked.
That is what makes a linear model over word *and* character features work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC


def sentence_blocks(message: Message, attribute: str = TEXT) -> dict[str, sp.csr_matrix]:
    """The message's sparse sentence features per featurizer (1 × n each).

    Featurizers that only emit sequence features (one row per token) are summed
    over tokens, which is what a sentence feature means for counts.
    """
    sentence: dict[str, sp.spmatrix] = {}
    sequence: dict[str, sp.spmatrix] = {}
    for features in message.features:
        if features.attribute != attribute or not features.is_sparse():
            continue
        origin = str(features.origin)
        target = sentence if features.type == FEATURE_TYPE_SENTENCE else sequence
        target[origin] = features.features
    blocks = {name: sp.csr_matrix(matrix) for name, matrix in sentence.items()}
    for name, matrix in sequence.items():
        if name not in blocks:
            blocks[name] = sp.csr_matrix(matrix.sum(axis=0))
    return blocks


@dataclass
class TfidfBlocks:
    """Per-featurizer TF-IDF weights learned on the training examples."""

    names: list[str] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    idf: list[np.ndarray] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    @classmethod
    def fit(
        cls,
        messages: Sequence[Message],
        block_weights: dict[str, float] | None = None,
        attribute: str = TEXT,
    ) -> TfidfBlocks:
        per_message = [sentence_blocks(message, attribute) for message in messages]
        names = sorted({name for blocks in per_message for name in blocks})
        model = cls()
        for name in names:
            width = max(blocks[name].shape[1] for blocks in per_message if name in blocks)
            rows = [blocks.get(name) for blocks in per_message]
            matrix = _stack(rows, width)
            document_frequency = np.bincount(matrix.indices, minlength=width)
            n = matrix.shape[0]
            model.names.append(name)
            model.widths.append(width)
            model.idf.append(np.log((1.0 + n) / (1.0 + document_frequency)) + 1.0)
            model.weights.append(_weight_for(name, block_weights))
        return model

    def transform(self, messages: Sequence[Message], attribute: str = TEXT) -> sp.csr_matrix:
        per_message = [sentence_blocks(message, attribute) for message in messages]
        columns = []
        for name, width, idf, weight in zip(
            self.names, self.widths, self.idf, self.weights, strict=True
        ):
            matrix = _stack([blocks.get(name) for blocks in per_message], width)
            matrix.data = np.log1p(matrix.data)
            matrix = normalize(matrix @ sp.diags(idf), copy=False) * weight
            columns.append(matrix)
        if not columns:
            return sp.csr_matrix((len(messages), 0))
        return sp.hstack(columns, format="csr")

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"idf_{i}": idf for i, idf in enumerate(self.idf)}
        arrays["block_widths"] = np.asarray(self.widths, dtype=np.int64)
        arrays["block_weights"] = np.asarray(self.weights, dtype=np.float64)
        return arrays

    @classmethod
    def from_arrays(cls, names: list[str], arrays: dict[str, np.ndarray]) -> TfidfBlocks:
        return cls(
            names=list(names),
            widths=[int(w) for w in arrays["block_widths"]],
            idf=[arrays[f"idf_{i}"] for i in range(len(names))],
            weights=[float(w) for w in arrays["block_weights"]],
        )


def _weight_for(origin: str, block_weights: dict[str, float] | None) -> float:
    """Config names featurizers by class; origins carry a node suffix."""
    for prefix, weight in (block_weights or {}).items():
        if prefix in origin:
            return float(weight)
    return 1.0


def _stack(rows: list[sp.csr_matrix | None], width: int) -> sp.csr_matrix:
    """Stacks 1-row matrices, padding rows of a vocabulary-less message."""
    padded = []
    for row in rows:
        if row is None:
            padded.append(sp.csr_matrix((1, width)))
        elif row.shape[1] < width:
            padded.append(sp.csr_matrix((row.data, row.indices, row.indptr), shape=(1, width)))
        else:
            padded.append(row[:, :width])
    return sp.vstack(padded, format="csr").astype(np.float64)


@dataclass
class LinearModel:
    """A linear SVM over TF-IDF blocks; what both intent and FAQ classifiers use.

    Stored as plain arrays (no pickle), so a model file can't run code on load.
    """

    blocks: TfidfBlocks
    labels: list[str]
    weights: np.ndarray
    bias: np.ndarray

    @classmethod
    def fit(
        cls,
        messages: Sequence[Message],
        labels: Sequence[str],
        C: float = 1.0,
        class_weight: str | None = None,
        block_weights: dict[str, float] | None = None,
    ) -> LinearModel:
        blocks = TfidfBlocks.fit(messages, block_weights)
        return cls.fit_features(blocks, blocks.transform(messages), labels, C, class_weight)

    @classmethod
    def fit_features(
        cls,
        blocks: TfidfBlocks,
        features: sp.csr_matrix,
        labels: Sequence[str],
        C: float = 1.0,
        class_weight: str | None = None,
    ) -> LinearModel:
        svm = LinearSVC(C=C, class_weight=class_weight).fit(features, list(labels))
        weights, bias = svm.coef_, svm.intercept_
        if len(svm.classes_) == 2:
            # LinearSVC keeps one row for two classes; use one per class.
            weights = np.concatenate([-weights, weights])
            bias = np.concatenate([-bias, bias])
        return cls(blocks, [str(c) for c in svm.classes_], weights, bias)

    def decision(self, features: sp.csr_matrix) -> np.ndarray:
        return np.asarray(features @ self.weights.T) + self.bias

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
        blocks = TfidfBlocks.from_arrays([str(n) for n in arrays["block_names"]], arrays)
        return cls(
            blocks,
            [str(label) for label in arrays["labels"]],
            arrays["weights"],
            arrays["bias"],
        )
