"""Hybrid lexical retrieval for FAQ questions, Chinese and English alike.

Plain BM25 over jieba words misses paraphrases that segment differently
("怎么退款" / "如何申请退钱"). Single Chinese characters are a much more
forgiving unit, so the index scores several views of every phrasing with BM25 —
characters (and Latin words), character bigrams, jieba words, and character
trigrams of Latin words — and adds their per-query standardised scores with
fixed weights. A view with no terms in the whole index (Latin trigrams of a
Chinese-only knowledge base) adds nothing.

Words alone miss paraphrases that share none ("who pays postage for
returns" / "退货运费谁出"), so given sentence vectors of the phrasings and the
queries (see addons.nlu.sentence_encoder), a "meaning" view adds their cosine
similarity, standardised the same way. On the AFQMC retrieval benchmark the fused index
beats BM25 over jieba words by half in recall@3 (see docs/benchmarks.md).
Free of Rasa, so `bench/faq.py` runs it directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from addons.nlu.text import Segmenter, Word

Analyzer = Callable[[list[Word]], list[str]]

# The view of sentence vectors, where the index was given them.
MEANING_VIEW = "meaning"

# View weights, tuned on AFQMC (bench/faq.py) and on held-out phrasings of the
# project's own FAQ (English benefits from the character trigrams).
DEFAULT_VIEW_WEIGHTS = {
    "unit": 1.0,
    "bigram": 0.2,
    "word": 0.25,
    "latin_trigram": 0.5,
    MEANING_VIEW: 3.0,
}


def _units(words: list[Word]) -> list[str]:
    """Chinese characters, whole Latin words and numbers."""
    units = []
    for word in words:
        if word.script == "han":
            units.extend(word.text)
        elif word.script == "latin":
            units.append(_english_stem(word.text.lower()))
    return units


def _bigrams(words: list[Word]) -> list[str]:
    """Adjacent characters inside Chinese runs and adjacent Latin words."""
    grams = []
    previous: Word | None = None
    for word in words:
        if word.script == "han":
            text = word.text
            if previous is not None and previous.script == "han" and previous.end == word.start:
                text = previous.text[-1] + text
            grams.extend(text[i : i + 2] for i in range(len(text) - 1))
        elif word.script == "latin" and previous is not None and previous.script == "latin":
            grams.append(previous.text.lower() + " " + word.text.lower())
        previous = word
    return grams


def _words(words: list[Word]) -> list[str]:
    return [
        _english_stem(w.text.lower()) if w.script == "latin" else w.text
        for w in words
        if w.script != "symbol"
    ]


def _latin_trigrams(words: list[Word]) -> list[str]:
    """Character trigrams of Latin words, so "refund" still meets "refunded"."""
    grams = []
    for word in words:
        if word.script == "latin":
            padded = f"<{word.text.lower()}>"
            grams.extend(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def _english_stem(word: str) -> str:
    """A deliberately tiny stemmer: plural and common verb endings only."""
    for suffix, minimum in (("ies", 5), ("ing", 6), ("ed", 5), ("es", 5), ("s", 4)):
        if word.endswith(suffix) and len(word) >= minimum and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


ANALYZERS: dict[str, Analyzer] = {
    "unit": _units,
    "bigram": _bigrams,
    "word": _words,
    "latin_trigram": _latin_trigrams,
}


class Bm25View:
    """One BM25 index over the documents as seen by one analyzer."""

    def __init__(self, documents: Sequence[list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.vocabulary: dict[str, int] = {}
        rows, columns = [], []
        for row, terms in enumerate(documents):
            for term in terms:
                rows.append(row)
                columns.append(self.vocabulary.setdefault(term, len(self.vocabulary)))
        shape = (len(documents), max(len(self.vocabulary), 1))
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=shape)
        counts.sum_duplicates()
        n = shape[0]
        document_frequency = np.bincount(counts.indices, minlength=shape[1])
        self.idf = np.log1p((n - document_frequency + 0.5) / (document_frequency + 0.5))
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        average = lengths.mean() if n else 1.0
        coo = counts.tocoo()
        saturation = coo.data + k1 * (1 - b + b * lengths[coo.row] / max(average, 1e-9))
        weights = coo.data * (k1 + 1) / saturation * self.idf[coo.col]
        # Terms × documents, so scoring a query is one sparse product with no
        # per-query transposition.
        self.term_weights = sp.csr_matrix((weights, (coo.col, coo.row)), shape=shape[::-1])

    def scores(self, queries: Sequence[list[str]]) -> np.ndarray:
        """BM25 of every query (each distinct term once) against every document.

        Each query's terms' rows are added up with one bincount, in term
        order as a sparse product would: a scipy product per question cost
        more in its checks than in the sums."""
        weights = self.term_weights
        scores = np.zeros((len(queries), weights.shape[1]))
        for row, terms in enumerate(queries):
            rows = sorted({self.vocabulary[t] for t in terms if t in self.vocabulary})
            if not rows:
                continue
            spans = [slice(weights.indptr[term], weights.indptr[term + 1]) for term in rows]
            scores[row] = np.bincount(
                np.concatenate([weights.indices[span] for span in spans]),
                weights=np.concatenate([weights.data[span] for span in spans]),
                minlength=weights.shape[1],
            )
        return scores


class FaqIndex:
    """Ranks documents (FAQ phrasings) for a query by fused multi-view BM25,
    plus the cosine of sentence vectors where the documents have them."""

    def __init__(
        self,
        texts: Sequence[str],
        segmenter: Segmenter | None = None,
        view_weights: dict[str, float] | None = None,
        vectors: np.ndarray | None = None,
    ) -> None:
        """`view_weights` override the defaults one by one (0 turns a view
        off); `vectors`: one unit-length row per text, or None for words alone."""
        self.segmenter = segmenter or Segmenter()
        weights = {**DEFAULT_VIEW_WEIGHTS, **(view_weights or {})}
        unknown = set(weights) - set(DEFAULT_VIEW_WEIGHTS)
        if unknown:
            raise ValueError(
                f"Unknown FAQ index views {sorted(unknown)}: use {list(DEFAULT_VIEW_WEIGHTS)}"
            )
        self.view_weights = {name: weight for name, weight in weights.items() if weight}
        if vectors is None:
            self.view_weights.pop(MEANING_VIEW, None)
        elif vectors.ndim != 2 or len(vectors) != len(texts):
            raise ValueError(f"{vectors.shape} vectors for {len(texts)} texts")
        self.vectors = vectors
        segmented = [self.segmenter.words(text) for text in texts]
        self.document_units = [frozenset(_units(words)) for words in segmented]
        self.views = {
            name: Bm25View([ANALYZERS[name](words) for words in segmented])
            for name in self.view_weights
            if name != MEANING_VIEW
        }
        self.size = len(texts)

    def scores(self, queries: Sequence[str], query_vectors: np.ndarray | None = None) -> np.ndarray:
        """Fused scores, queries × documents, in standard deviations above the mean.

        The meaning view counts only when both the documents and the queries
        have vectors.
        """
        segmented = [self.segmenter.words(query) for query in queries]
        total = np.zeros((len(queries), self.size))
        for name, weight in self.view_weights.items():
            if name != MEANING_VIEW:
                raw = self.views[name].scores([ANALYZERS[name](words) for words in segmented])
            elif query_vectors is not None:
                if query_vectors.shape != (len(queries), self.vectors.shape[1]):
                    raise ValueError(
                        f"{query_vectors.shape} vectors for {len(queries)} queries; "
                        f"the documents' have {self.vectors.shape[1]} dimensions"
                    )
                # einsum rather than a BLAS product: for one question OpenBLAS
                # would wake a second thread that then spins for milliseconds,
                # taking the CPU from the rest of Rasa (bench/relay.py).
                raw = np.einsum("qd,nd->qn", query_vectors, self.vectors)
            else:
                continue
            spread = raw.std(axis=1, keepdims=True)
            total += (
                weight * (raw - raw.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)
            )
        return total

    def units(self, text: str) -> frozenset[str]:
        """The characters and Latin words of a text, as coverage counts them."""
        return frozenset(_units(self.segmenter.words(text)))

    def coverage(self, query_units: frozenset[str], document: int) -> float:
        """Share of the query's characters/words that a document contains."""
        if not query_units:
            return 0.0
        return len(query_units & self.document_units[document]) / len(query_units)
