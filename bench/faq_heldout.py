"""FAQ retrieval on the project's own knowledge base, on phrasings held out of training.

    python -m bench.faq_heldout [--held-out 2] [--seed 0] [--config config.yml]

For every entry of data/faq/, `--held-out` phrasings are removed and asked as
customer questions; the rest is the knowledge base. Three retrievers answer
them in the same run: BM25 over jieba words (baseline), the lexical
`FaqIndex` alone, and the assistant's `FaqRetriever` trained by Rasa with the
project's pipeline (lexical index + classifier over the entries' phrasings).
Results are printed per language.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from rank_bm25 import BM25Okapi

from addons.nlu.faq_index import FaqIndex
from addons.nlu.text import detect_language
from bench.faq import evaluate, jieba_words
from cloudpick_home import PROJECT


def split_knowledge_base(held_out: int, seed: int):
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(PROJECT / "data" / "faq"))
    by_key = defaultdict(list)
    for example in data.intent_examples:
        by_key[example.get("intent_response_key")].append(example)
    rng = random.Random(seed)
    kept, questions = [], []
    for examples in by_key.values():
        examples = examples[:]
        rng.shuffle(examples)
        questions += examples[:held_out]
        kept += examples[held_out:]
    return data, kept, questions


def per_key(keys: list[str], document_keys: list[str], scores: np.ndarray) -> np.ndarray:
    """An entry scores as its best phrasing."""
    column = {key: i for i, key in enumerate(keys)}
    result = np.full((scores.shape[0], len(keys)), -np.inf)
    for document, key in enumerate(document_keys):
        result[:, column[key]] = np.maximum(result[:, column[key]], scores[:, document])
    return result


def retriever_scores(data, kept, questions, keys: list[str], config_file: Path) -> np.ndarray:
    """Trains the project's NLU pipeline without the held-out phrasings and asks them."""
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["RASA_CACHE_DIRECTORY"] = str(workdir / "cache")
        config = yaml.safe_load(config_file.read_text("utf-8"))
        for component in config["pipeline"]:
            if component["name"].endswith("FaqRetriever"):
                component["ranking_length"] = len(keys)
        config_path = workdir / "config.yml"
        config_path.write_text(yaml.safe_dump({**config, "policies": []}, allow_unicode=True))
        training = TrainingData(kept, responses=data.responses).merge(
            _load(PROJECT / "data" / "nlu")
        )
        (workdir / "nlu.yml").write_text(training.nlu_as_yaml(), "utf-8")
        model = train_nlu(str(config_path), str(workdir / "nlu.yml"), str(workdir / "models"))
        agent = Agent.load(model)
        rows = []
        for question in questions:
            parsed = asyncio.run(agent.parse_message(question.get("text")))
            ranking = {r["key"]: r["score"] for r in (parsed.get("faq") or {}).get("ranking", [])}
            rows.append([ranking.get(key, -np.inf) for key in keys])
    return np.array(rows)


def _load(path: Path):
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--held-out", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--config", type=Path, default=PROJECT / "config.yml", help="the pipeline to train"
    )
    args = parser.parse_args()

    data, kept, questions = split_knowledge_base(args.held_out, args.seed)
    keys = sorted({e.get("intent_response_key") for e in kept})
    texts = [e.get("text") for e in kept]
    document_keys = [e.get("intent_response_key") for e in kept]
    queries = [
        {"query": q.get("text"), "relevant": [q.get("intent_response_key")]} for q in questions
    ]
    print(f"{len(keys)} entries, {len(kept)} phrasings kept, {len(queries)} held-out questions")

    bm25 = BM25Okapi([jieba_words(t) for t in texts])
    index = FaqIndex(texts)
    retrievers = {
        "BM25 (jieba words)": lambda qs: per_key(
            keys, document_keys, np.array([bm25.get_scores(jieba_words(q)) for q in qs])
        ),
        "FaqIndex (lexical)": lambda qs: per_key(keys, document_keys, index.scores(qs)),
    }
    trained = retriever_scores(data, kept, questions, keys, args.config)
    row_of = {q["query"]: i for i, q in enumerate(queries)}
    retrievers["FaqRetriever (hybrid)"] = lambda qs: trained[[row_of[q] for q in qs]]

    for language in ("zh", "en"):
        subset = [q for q in queries if detect_language(q["query"]) == language]
        print(f"\n{language}: {len(subset)} questions")
        for name, rank in retrievers.items():
            s = evaluate(name, keys, subset, rank)
            print(
                f"  {name:22s} R@1 {s.recall_at_1:.3f}  R@3 {s.recall_at_3:.3f}  "
                f"MRR@10 {s.mrr_at_10:.3f}"
            )


if __name__ == "__main__":
    main()
