import numpy as np
import scipy.sparse as sp
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message

from addons.nlu.crf_entity_extractor import _spans
from addons.nlu.features import FeatureBlocks, LinearModel, sentence_vectors


def message(words: list[int], chars: list[int]) -> Message:
    m = Message(data={TEXT: "x"})
    m.add_features(
        Features(
            sp.coo_matrix(np.array([words], dtype=float)), FEATURE_TYPE_SENTENCE, TEXT, "words"
        )
    )
    # A featurizer with only per-token features: summed into a sentence row.
    m.add_features(
        Features(
            sp.coo_matrix(np.array([chars, chars], dtype=float)),
            FEATURE_TYPE_SEQUENCE,
            TEXT,
            "chars",
        )
    )
    return m


def test_each_featurizer_block_is_weighted_and_normalised_separately():
    messages = [message([1, 0, 2], [1, 0]), message([0, 1, 0], [0, 3]), message([1, 1, 0], [1, 1])]
    blocks = FeatureBlocks.fit(messages, {"chars": 0.5})
    matrix = blocks.transform(messages).toarray()
    assert blocks.names == ["chars", "words"]
    assert matrix.shape == (3, 5)
    assert np.allclose(np.linalg.norm(matrix[:, :2], axis=1), 0.5)
    assert np.allclose(np.linalg.norm(matrix[:, 2:], axis=1), 1.0)


def test_a_message_without_features_gets_zero_rows():
    blocks = FeatureBlocks.fit([message([1, 0, 2], [1, 0])])
    assert blocks.transform([Message(data={TEXT: "?"})]).nnz == 0


def with_vector(vector: list[float], origin: str = "sentence_encoder") -> Message:
    m = Message(data={TEXT: "x"})
    m.add_features(Features(np.array([vector]), FEATURE_TYPE_SENTENCE, TEXT, origin))
    return m


def test_sentence_vectors_are_the_named_featurizers_dense_sentence_rows():
    first, second = with_vector([0.6, 0.8]), with_vector([1.0, 0.0])
    first.add_features(Features(np.array([[9.0, 9.0]]), FEATURE_TYPE_SENTENCE, TEXT, "other"))
    vectors = sentence_vectors([first, second], "sentence_encoder")
    assert vectors.dtype == np.float32
    assert np.allclose(vectors, [[0.6, 0.8], [1.0, 0.0]])
    # Sparse rows of that name, or a message without them: no vectors at all.
    assert sentence_vectors([message([1, 0, 2], [1, 0])], "words") is None
    assert sentence_vectors([first, with_vector([1.0, 0.0], "other")], "sentence_encoder") is None


def test_linear_model_round_trips_through_plain_arrays(tmp_path):
    messages = [message([1, 0, 0], [1, 0]), message([0, 1, 0], [0, 1]), message([0, 0, 1], [1, 1])]
    model = LinearModel.fit(messages, ["a", "b", "c"])
    model.save(tmp_path / "model.npz")
    loaded = LinearModel.load(tmp_path / "model.npz")
    assert loaded.labels == ["a", "b", "c"]
    assert np.allclose(loaded.scores(messages), model.scores(messages))
    assert np.argmax(loaded.scores(messages), axis=1).tolist() == [0, 1, 2]


def test_two_labels_get_one_score_column_each():
    messages = [message([1, 0, 0], [1, 0]), message([0, 1, 0], [0, 1])]
    model = LinearModel.fit(messages, ["yes", "no"])
    assert model.scores(messages).shape == (2, 2)
    assert [model.labels[i] for i in np.argmax(model.scores(messages), axis=1)] == ["yes", "no"]


def test_bio_tags_become_spans():
    assert _spans(["B-a", "I-a", "O", "I-b", "B-a", "B-a"]) == [
        ("a", 0, 1),
        ("b", 3, 3),
        ("a", 4, 4),
        ("a", 5, 5),
    ]
    assert _spans([]) == []
