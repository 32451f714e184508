"""Trains NLU pipelines on any Rasa NLU dataset and scores them on a test split.

    python -m bench.nlu TRAIN_YML TEST_YML [--pipelines ours stock]
    python -m bench.nlu TRAIN_YML --folds 5 [--config other_config.yml]

`ours` is the pipeline of the project's config.yml; `stock` is Rasa's default
pipeline for the data's language (bench/configs/). Both are trained and scored
in the same run, so the printed ratios compare like with like. Prints intent
accuracy, macro-F1 over the test intents, exact-span entity F1 and training
time, and writes them as JSON with --json.

With --folds K there is no test split: each pipeline is trained K times, on
all but one stratified fold of TRAIN_YML, and scored on the predictions for
every held-out example. That is how to choose between pipeline variants
without looking at a test split; the time is per fold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from addons.nlu.text import detect_language
from cloudpick_home import PROJECT

if TYPE_CHECKING:
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

# Shipped with the package: they belong to the benchmark, not to a deployment.
STOCK_CONFIGS = {
    "zh": Path(__file__).with_name("configs") / "stock_zh.yml",
    "en": Path(__file__).with_name("configs") / "stock_default.yml",
}


@dataclass
class NluScore:
    pipeline: str
    intent_accuracy: float
    intent_macro_f1: float
    entity_f1: float
    train_seconds: float
    examples: int


def pipeline_config(name: str, language: str, workdir: Path, ours: Path) -> Path:
    """Writes a config with only the NLU pipeline, so no policies are trained.

    `FallbackClassifier` is left out of both: turning unsure predictions into
    `nlu_fallback` is a dialogue decision, not a classification.
    """
    source = ours if name == "ours" else STOCK_CONFIGS[language]
    config = yaml.safe_load(source.read_text("utf-8"))
    pipeline = [c for c in config["pipeline"] if c["name"] != "FallbackClassifier"]
    nlu_only = {
        "recipe": "default.v1",
        "language": config.get("language", language),
        "assistant_id": "bench",
        "pipeline": pipeline,
    }
    path = workdir / f"config_{name}.yml"
    path.write_text(yaml.safe_dump(nlu_only, allow_unicode=True), "utf-8")
    return path


def train(config: Path, train_yml: Path, workdir: Path, name: str) -> tuple[Path, float]:
    from rasa.model_training import train_nlu

    # A fresh cache per pipeline: Rasa would otherwise reuse components trained
    # in an earlier run, and the training time would mean nothing.
    os.environ["RASA_CACHE_DIRECTORY"] = str(workdir / f"cache_{name}")
    started = time.perf_counter()
    model = train_nlu(
        config=str(config),
        nlu_data=str(train_yml),
        output=str(workdir / "models"),
        fixed_model_name=name,
    )
    if model is None:
        raise SystemExit(f"training the '{name}' pipeline failed")
    return Path(model), time.perf_counter() - started


async def predict(model: Path, examples: list[Message]) -> list[dict]:
    """The model's parse of each example's text."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(example.get("text")) for example in examples]


def score(name: str, test, predictions: list[dict], train_seconds: float) -> NluScore:
    from sklearn.metrics import accuracy_score, f1_score

    gold = [example.get("intent") for example in test.intent_examples]
    predicted = [(p.get("intent") or {}).get("name") or "" for p in predictions]
    entity_types = {e["entity"] for ex in test.intent_examples for e in ex.get("entities") or []}
    true_positive = false_positive = false_negative = 0
    for example, prediction in zip(test.intent_examples, predictions, strict=True):
        expected = {(e["start"], e["end"], e["entity"]) for e in example.get("entities") or []}
        found = {
            (e["start"], e["end"], e["entity"])
            for e in prediction.get("entities", [])
            if e["entity"] in entity_types
        }
        true_positive += len(expected & found)
        false_positive += len(found - expected)
        false_negative += len(expected - found)
    precision = true_positive / max(true_positive + false_positive, 1)
    recall = true_positive / max(true_positive + false_negative, 1)
    entity_f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return NluScore(
        pipeline=name,
        intent_accuracy=accuracy_score(gold, predicted),
        intent_macro_f1=f1_score(gold, predicted, labels=sorted(set(gold)), average="macro"),
        entity_f1=entity_f1,
        train_seconds=train_seconds,
        examples=len(gold),
    )


def evaluate(
    name: str, config: Path, train_yml: Path, test_data: TrainingData, workdir: Path
) -> NluScore:
    model, seconds = train(config, train_yml, workdir, name)
    predictions = asyncio.run(predict(model, test_data.intent_examples))
    return score(name, test_data, predictions, seconds)


def cross_validate(
    name: str, config: Path, data: TrainingData, folds: int, workdir: Path
) -> NluScore:
    """Pooled predictions for every example, each from the model that did not see it."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import StratifiedKFold

    examples = data.intent_examples
    intents = [example.get("intent") for example in examples]
    held_out, predictions, seconds = [], [], 0.0
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    for fold, (train_index, test_index) in enumerate(splitter.split(examples, intents)):
        fold_data = TrainingData(
            training_examples=[examples[i] for i in train_index],
            responses=data.responses,
            entity_synonyms=data.entity_synonyms,
            regex_features=data.regex_features,
            lookup_tables=data.lookup_tables,
        )
        fold_yml = workdir / f"{name}_fold{fold}.yml"
        fold_yml.write_text(RasaYAMLWriter().dumps(fold_data), "utf-8")
        model, fold_seconds = train(config, fold_yml, workdir, f"{name}_fold{fold}")
        questions = [examples[i] for i in test_index]
        predictions += asyncio.run(predict(model, questions))
        held_out += questions
        seconds += fold_seconds
    return score(name, TrainingData(training_examples=held_out), predictions, seconds / folds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("train_yml", type=Path)
    parser.add_argument("test_yml", type=Path, nargs="?", help="not with --folds")
    parser.add_argument(
        "--folds", type=int, help="cross-validate on TRAIN_YML in this many folds instead"
    )
    parser.add_argument(
        "--pipelines", nargs="+", default=["ours", "stock"], choices=["ours", "stock"]
    )
    parser.add_argument("--json", type=Path, help="also write the scores here")
    parser.add_argument(
        "--config", type=Path, default=PROJECT / "config.yml", help="the 'ours' config"
    )
    args = parser.parse_args()
    if (args.test_yml is None) == (args.folds is None):
        parser.error("give either TEST_YML or --folds")
    if args.folds is not None and args.folds < 2:
        parser.error("--folds needs at least 2")
    logging.basicConfig(level=logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)

    from rasa.shared.nlu.training_data.loading import load_data

    train_data = load_data(str(args.train_yml))
    test_data = load_data(str(args.test_yml)) if args.test_yml else None
    sample = " ".join(example.get("text") for example in train_data.intent_examples[:200])
    language = detect_language(sample) or "en"
    scored_on = (
        f"{len(test_data.intent_examples)} test examples"
        if test_data is not None
        else f"{args.folds}-fold cross-validation"
    )
    print(
        f"{args.train_yml.parent.name}: {len(train_data.intent_examples)} train examples, "
        f"{scored_on}, {len(train_data.intents)} intents, language {language}",
        flush=True,
    )

    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name in args.pipelines:
            config = pipeline_config(name, language, workdir, args.config)
            if test_data is not None:
                scores.append(evaluate(name, config, args.train_yml, test_data, workdir))
            else:
                scores.append(cross_validate(name, config, train_data, args.folds, workdir))
            print(_row(scores[-1]), flush=True)

    if len(scores) == 2:
        ours, stock = scores
        print(
            f"ours/stock: accuracy ×{ours.intent_accuracy / stock.intent_accuracy:.3f}, "
            f"macro-F1 ×{ours.intent_macro_f1 / stock.intent_macro_f1:.3f}, "
            f"entity F1 ×{ours.entity_f1 / max(stock.entity_f1, 1e-12):.3f}, "
            f"training time ×{ours.train_seconds / stock.train_seconds:.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in scores], indent=2))


def _row(s: NluScore) -> str:
    return (
        f"{s.pipeline:6s} intent accuracy {s.intent_accuracy:.4f}  macro-F1 "
        f"{s.intent_macro_f1:.4f}  entity F1 {s.entity_f1:.4f}  trained in "
        f"{s.train_seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
