"""FAQ retrieval quality of the project's index against plain BM25.

    python -m bench.faq KB_JSONL QUERIES_JSONL

KB_JSONL holds one entry a line, {"id", "question", "answer"}; QUERIES_JSONL
one query a line, {"query", "relevant": [ids]} (the format of
../shared/benchmarks/faq/afqmc). Both retrievers index the same questions and
answer the same queries in this run: the baseline is BM25 (rank_bm25's
BM25Okapi) over jieba words, ours is addons.nlu.faq_index.FaqIndex, by words
alone and with its meaning view over the sentence encoder's vectors (the
queries' encoding counts in its speed). Prints recall@1, recall@3, MRR@10 and
queries per second for each, and the ratios of the fullest of ours (words +
meaning where the encoder is installed) to BM25.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jieba
import numpy as np
from rank_bm25 import BM25Okapi

from addons.nlu.faq_index import FaqIndex
from addons.nlu.sentence_encoder import SentenceEncoder


@dataclass
class RetrievalScore:
    name: str
    recall_at_1: float
    recall_at_3: float
    mrr_at_10: float
    queries_per_second: float


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def jieba_words(text: str) -> list[str]:
    return [w for w in jieba.lcut(text.lower()) if w.strip() and any(c.isalnum() for c in w)]


def evaluate(
    name: str,
    ids: list[str],
    queries: list[dict],
    rank: Callable[[Sequence[str]], np.ndarray],
) -> RetrievalScore:
    started = time.perf_counter()
    scores = rank([q["query"] for q in queries])
    elapsed = time.perf_counter() - started
    hits_1 = hits_3 = reciprocal = 0.0
    for query, row in zip(queries, scores, strict=True):
        top = np.argsort(-row, kind="stable")[:10]
        relevant = set(query["relevant"])
        found = [ids[i] in relevant for i in top]
        hits_1 += any(found[:1])
        hits_3 += any(found[:3])
        reciprocal += next((1 / (k + 1) for k, hit in enumerate(found) if hit), 0.0)
    n = len(queries)
    return RetrievalScore(name, hits_1 / n, hits_3 / n, reciprocal / n, n / elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kb", type=Path)
    parser.add_argument("queries", type=Path)
    args = parser.parse_args()
    jieba.setLogLevel(60)

    kb = read_jsonl(args.kb)
    queries = read_jsonl(args.queries)
    ids = [entry["id"] for entry in kb]
    questions = [entry["question"] for entry in kb]
    print(f"{len(kb)} knowledge-base entries, {len(queries)} queries")

    bm25 = BM25Okapi([jieba_words(q) for q in questions])
    baseline = evaluate(
        "BM25 (jieba words)",
        ids,
        queries,
        lambda texts: np.array([bm25.get_scores(jieba_words(t)) for t in texts]),
    )
    words = FaqIndex(questions)
    scores = [baseline, evaluate("FaqIndex (words)", ids, queries, words.scores)]
    encoder = SentenceEncoder.installed()
    if encoder is not None:
        meaning = FaqIndex(questions, vectors=encoder.encode(questions))
        scores.append(
            evaluate(
                "FaqIndex (words + meaning)",
                ids,
                queries,
                lambda texts: meaning.scores(texts, encoder.encode(list(texts))),
            )
        )
    ours = scores[-1]

    for s in scores:
        print(
            f"{s.name:28s} R@1 {s.recall_at_1:.3f}  R@3 {s.recall_at_3:.3f}  "
            f"MRR@10 {s.mrr_at_10:.3f}  {s.queries_per_second:,.0f} queries/s"
        )
    print(
        f"ours/baseline: R@1 ×{ours.recall_at_1 / baseline.recall_at_1:.2f}, "
        f"R@3 ×{ours.recall_at_3 / baseline.recall_at_3:.2f}, "
        f"MRR@10 ×{ours.mrr_at_10 / baseline.mrr_at_10:.2f}, "
        f"speed ×{ours.queries_per_second / baseline.queries_per_second:.2f}"
    )


if __name__ == "__main__":
    main()
