"""Retrieves the knowledge-base answer for FAQ questions."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from addons.nlu.faq_index import FaqIndex
from addons.nlu.features import LinearModel, sentence_vectors
from addons.nlu.fingerprint import AddonComponent
from addons.nlu.storage import read_json, read_stored, write_json
from addons.nlu.text import detect_language

logger = logging.getLogger(__name__)

_KNOWLEDGE_FILE = "faq.json"
_MODEL_FILE = "faq_model.npz"
_VECTORS_FILE = "faq_vectors.npy"
FAQ_OUTPUT = "faq"
# Used when there is too little data to fit: confidence rises with the score
# and the lead over the runner-up, and falls when few words are shared.
_DEFAULT_CALIBRATION = {"coef": [0.5, 1.0, 3.0], "intercept": -5.0}


@dataclass
class FaqRanker:
    """Scores every entry for a question: the index's match plus a trained classifier.

    The index (`FaqIndex`) finds the phrasing most like the question, in
    words and, given a sentence featurizer's vectors, in meaning; the
    classifier, trained on all phrasings of each entry, generalises to
    wordings no phrasing has. Both are standardised over the entries and added.
    """

    texts: list[str]
    phrasing_keys: list[str]
    index: FaqIndex
    classifier: LinearModel | None
    classifier_weight: float
    # Alias of the featurizer whose sentence vectors the index compares.
    sentence_features: str | None = None

    def __post_init__(self) -> None:
        self.keys = sorted(set(self.phrasing_keys))
        self._column = {key: i for i, key in enumerate(self.keys)}
        # Phrasings grouped by entry, in entry order, so one reduceat takes
        # each entry's best phrasing.
        columns = np.asarray([self._column[key] for key in self.phrasing_keys])
        self._by_entry = np.argsort(columns, kind="stable")
        self._entry_starts = np.searchsorted(columns[self._by_entry], np.arange(len(self.keys)))

    @classmethod
    def train(
        cls,
        phrasings: Sequence[Message],
        classifier_weight: float,
        view_weights: dict[str, float] | None,
        block_weights: dict[str, float] | None = None,
        sentence_features: str | None = None,
    ) -> FaqRanker:
        texts = [m.get(TEXT) for m in phrasings]
        keys = [m.get(INTENT_RESPONSE_KEY) for m in phrasings]
        classifier = (
            LinearModel.fit(phrasings, keys, block_weights=block_weights)
            if _has_classifier(keys)
            else None
        )
        vectors = sentence_vectors(phrasings, sentence_features) if sentence_features else None
        index = FaqIndex(texts, view_weights=view_weights, vectors=vectors)
        return cls(texts, keys, index, classifier, classifier_weight, sentence_features)

    def scores(self, messages: Sequence[Message]) -> np.ndarray:
        """Entry scores, messages × keys."""
        query_vectors = None
        if self.index.vectors is not None:
            query_vectors = sentence_vectors(messages, self.sentence_features)
            if query_vectors is None:
                logger.warning(
                    "A question has no sentence features from '%s'; matching words alone.",
                    self.sentence_features,
                )
        matched = self.index.scores([m.get(TEXT) or "" for m in messages], query_vectors)
        per_key = np.maximum.reduceat(matched[:, self._by_entry], self._entry_starts, axis=1)
        total = _standardised(per_key)
        if self.classifier is not None:
            learned = np.full_like(total, np.nan)
            columns = [self._column[label] for label in self.classifier.labels]
            learned[:, columns] = self.classifier.scores(messages)
            total = total + self.classifier_weight * _standardised(learned)
        return total

    def evidence(self, text: str, row: np.ndarray) -> tuple[np.ndarray, list[float]]:
        """The entries best first, and what calibration judges the best one by:
        its score, its lead over the runner-up, and how much of the question
        its closest phrasing covers."""
        order = np.argsort(-row, kind="stable")
        margin = float(row[order[0]] - row[order[1]]) if len(order) > 1 else 0.0
        asked = self.index.units(text)
        coverage = max(
            self.index.coverage(asked, document) for document in self._phrasings_of(order[0])
        )
        return order, [float(row[order[0]]), margin, coverage]

    def _phrasings_of(self, column: int) -> np.ndarray:
        """The documents of the entry in score column `column`."""
        end = self._entry_starts[column + 1] if column + 1 < len(self.keys) else len(self._by_entry)
        return self._by_entry[self._entry_starts[column] : end]


def _has_classifier(phrasing_keys: Sequence[str]) -> bool:
    """A classifier needs two entries to tell apart; with one, matching alone ranks."""
    return len(set(phrasing_keys)) > 1


def _read_stored_ranker(
    directory: Path,
) -> tuple[dict[str, Any], LinearModel | None, np.ndarray | None]:
    """The knowledge base, its classifier and its phrasings' vectors, each
    required where training said it stored one."""
    knowledge = read_json(directory / _KNOWLEDGE_FILE)
    classifier = (
        LinearModel.load(directory / _MODEL_FILE)
        if _has_classifier(knowledge.get("keys") or [])
        else None
    )
    vectors = (
        np.load(directory / _VECTORS_FILE, allow_pickle=False) if knowledge.get("vectors") else None
    )
    return knowledge, classifier, vectors


def _standardised(scores: np.ndarray) -> np.ndarray:
    """Per row: subtract the mean, divide by the spread; unknowns become the mean."""
    finite = np.where(np.isfinite(scores), scores, np.nan)
    mean = np.nanmean(finite, axis=1, keepdims=True)
    spread = np.nanstd(finite, axis=1, keepdims=True)
    spread = np.where(spread > 0, spread, 1.0)
    return np.nan_to_num((finite - mean) / spread, nan=0.0)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FaqRetriever(AddonComponent, GraphComponent):
    """Finds the FAQ entry a question asks about, with a calibrated confidence.

    The knowledge base is the retrieval intent `faq/<key>` in the training data
    (phrasings) with its responses `utter_faq/<key>` (answers), the format Rasa
    designers already know. Training also learns how far to trust the top
    entry: phrasings held out in cross-validation are asked as questions, and a
    logistic model learns from the score, the lead over the runner-up and the
    word overlap whether the top entry is right. The result goes into the parse
    data under `faq`: the top entries with their canonical questions in Chinese
    and English (for "did you mean" buttons) and the confidence.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "retrieval_intent": "faq",
            # How many entries to list in the parse data.
            "ranking_length": 5,
            # Weight of the trained classifier against the index's match.
            "classifier_weight": 2.0,
            # Weights of the index's views (see addons.nlu.faq_index).
            "view_weights": None,
            # Alias of a featurizer with sentence vectors (SentenceEncoderFeaturizer)
            # for the index's meaning view; None matches words alone.
            "sentence_features": None,
            # Relative weight of each featurizer's block in the classifier, by
            # featurizer alias, as in LinearIntentClassifier (0 leaves one out).
            "block_weights": {},
            "calibration_folds": 3,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        knowledge: dict[str, Any] | None = None,
        classifier: LinearModel | None = None,
        vectors: np.ndarray | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._knowledge = knowledge or {}
        self._ranker: FaqRanker | None = None
        if self._knowledge.get("texts"):
            self._ranker = FaqRanker(
                texts=self._knowledge["texts"],
                phrasing_keys=self._knowledge["keys"],
                index=FaqIndex(
                    self._knowledge["texts"],
                    view_weights=self._config["view_weights"],
                    vectors=vectors,
                ),
                classifier=classifier,
                classifier_weight=self._config["classifier_weight"],
                sentence_features=self._config["sentence_features"],
            )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FaqRetriever:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        prefix = self._config["retrieval_intent"] + "/"
        phrasings = [
            example
            for example in training_data.intent_examples
            if str(example.get(INTENT_RESPONSE_KEY) or "").startswith(prefix) and example.get(TEXT)
        ]
        if not phrasings:
            logger.warning("FaqRetriever found no '%s…' examples; it will match nothing.", prefix)
            return self._resource  # nothing stored: loads untrained
        self._ranker = self._train_ranker(phrasings)
        if self._config["sentence_features"] and self._ranker.index.vectors is None:
            logger.warning(
                "FaqRetriever: no sentence features from a featurizer with alias '%s'; "
                "it matches words alone.",
                self._config["sentence_features"],
            )
        self._knowledge = {
            "texts": self._ranker.texts,
            "keys": self._ranker.phrasing_keys,
            "questions": _canonical_questions(self._ranker.texts, self._ranker.phrasing_keys),
            "calibration": self._fit_calibration(phrasings),
            "vectors": self._ranker.index.vectors is not None,
        }
        self._persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self._ranker is None:
            return messages
        # A message with no words ("😀", "？？") asks nothing.
        asked = [m for m in messages if self._ranker.index.units(m.get(TEXT) or "")]
        if not asked:
            return messages
        for message, row in zip(asked, self._ranker.scores(asked), strict=True):
            message.set(FAQ_OUTPUT, self._result(message.get(TEXT), row), add_to_output=True)
        return messages

    def _train_ranker(self, phrasings: Sequence[Message]) -> FaqRanker:
        return FaqRanker.train(
            phrasings,
            self._config["classifier_weight"],
            self._config["view_weights"],
            self._config["block_weights"],
            self._config["sentence_features"],
        )

    def _result(self, text: str, row: np.ndarray) -> dict[str, Any]:
        order, evidence = self._ranker.evidence(text, row)
        keys = self._ranker.keys
        return {
            "key": keys[order[0]],
            "confidence": self._confidence(evidence),
            "language": detect_language(text),
            "ranking": [
                {
                    "key": keys[i],
                    "score": round(float(row[i]), 4),
                    "question": self._knowledge["questions"].get(keys[i], {}),
                }
                for i in order[: self._config["ranking_length"]]
            ],
        }

    def _confidence(self, evidence: list[float]) -> float:
        calibration = self._knowledge.get("calibration", _DEFAULT_CALIBRATION)
        return float(expit(np.dot(evidence, calibration["coef"]) + calibration["intercept"]))

    def _fit_calibration(self, phrasings: Sequence[Message]) -> dict[str, Any]:
        """Cross-validation: how often is the top entry right, given its evidence?

        Only FAQ phrasings are asked: the confidence answers "which entry?" for
        a message the intent classifier already took for an FAQ question.
        """
        folds = self._config["calibration_folds"]
        if folds < 2 or len(phrasings) < 2 * folds:
            return _DEFAULT_CALIBRATION
        evidence, correct = [], []
        splitter = KFold(folds, shuffle=True, random_state=42)
        for train_index, test_index in splitter.split(phrasings):
            ranker = self._train_ranker([phrasings[i] for i in train_index])
            questions = [phrasings[i] for i in test_index]
            for question, row in zip(questions, ranker.scores(questions), strict=True):
                order, facts = ranker.evidence(question.get(TEXT), row)
                evidence.append(facts)
                correct.append(ranker.keys[order[0]] == question.get(INTENT_RESPONSE_KEY))
        if len(set(correct)) < 2:
            return _DEFAULT_CALIBRATION
        model = LogisticRegression(C=1.0).fit(np.array(evidence), np.array(correct))
        return {
            "coef": model.coef_[0].tolist(),
            "intercept": float(model.intercept_[0]),
        }

    def _persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            write_json(directory / _KNOWLEDGE_FILE, self._knowledge)
            if self._ranker.classifier is not None:
                self._ranker.classifier.save(directory / _MODEL_FILE)
            if self._ranker.index.vectors is not None:
                np.save(directory / _VECTORS_FILE, self._ranker.index.vectors)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> FaqRetriever:
        stored = read_stored(model_storage, resource, _read_stored_ranker)
        if stored is None:
            logger.warning("FaqRetriever has no trained knowledge base.")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, *stored)


def _canonical_questions(texts: Sequence[str], keys: Sequence[str]) -> dict[str, dict[str, str]]:
    """The first Chinese and the first English phrasing of each entry."""
    questions: dict[str, dict[str, str]] = defaultdict(dict)
    for text, key in zip(texts, keys, strict=True):
        language = detect_language(text)
        if language and language not in questions[key]:
            questions[key][language] = text
    return dict(questions)
