import math

import numpy as np
import pytest

from addons.nlu.faq_index import Bm25View, FaqIndex

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
