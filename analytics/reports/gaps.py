"""Knowledge gaps: the questions the bot could not answer (fallback, out
of scope, unsure FAQ matches), clustered by similarity, and exported as
candidate FAQ entries in the project's YAML format for designers to review."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import yaml
from sqlalchemy import func

from analytics.keywords import STOP_WORDS
from analytics.model import Section, Table
from analytics.reports.base import ReportContext
from analytics.warehouse import messages

MAX_DISTINCT_QUESTIONS = 2000
SIMILARITY = 0.3
EXAMPLES_SHOWN = 3
EXAMPLES_EXPORTED = 10
MIN_CLUSTER_MESSAGES = 2
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN_WORD = re.compile(r"[a-z0-9][a-z0-9'-]+")


@dataclass
class GapCluster:
    texts: list[str] = field(default_factory=list)
    messages: int = 0
    intents: Counter[str] = field(default_factory=Counter)


class KnowledgeGapsReport:
    def __init__(self, context: ReportContext) -> None:
        self.context = context
        self.clusters: list[GapCluster] = []

    def build(self) -> Section:
        c = self.context
        with c.warehouse.connect() as db:
            rows = db.execute(
                c.messages_query(messages.c.text, messages.c.intent, func.count())
                .where(messages.c.unanswered)
                .where(func.length(func.trim(messages.c.text)) > 1)
                .group_by(messages.c.text, messages.c.intent)
                .order_by(func.count().desc(), messages.c.text)
                .limit(MAX_DISTINCT_QUESTIONS)
            ).all()
        self.clusters = cluster_questions(
            [(text, intent or "", count) for text, intent, count in rows]
        )
        return Section(
            name="knowledge_gaps",
            tables=[
                Table(
                    name="knowledge_gaps",
                    title="knowledge_gaps",
                    columns=[
                        "cluster",
                        "messages",
                        "distinct_questions",
                        "intent_guessed",
                        "examples",
                    ],
                    rows=[
                        [
                            f"gap_{i:02d}",
                            cluster.messages,
                            len(cluster.texts),
                            cluster.intents.most_common(1)[0][0] if cluster.intents else None,
                            " | ".join(cluster.texts[:EXAMPLES_SHOWN]),
                        ]
                        for i, cluster in enumerate(self.clusters, 1)
                    ],
                    note="note_knowledge_gaps",
                )
            ],
        )

    def candidates_yaml(self) -> str:
        """The clusters as retrieval intents `faq/gap_NN` with placeholder
        answers, in the format of data/faq/*.yml."""
        worth = [c for c in self.clusters if c.messages >= MIN_CLUSTER_MESSAGES] or self.clusters
        nlu, responses = [], {}
        for i, cluster in enumerate(worth, 1):
            key = f"faq/gap_{i:02d}"
            examples = "".join(
                f"- {' '.join(text.split())}\n" for text in cluster.texts[:EXAMPLES_EXPORTED]
            )
            nlu.append({"intent": key, "examples": examples})
            responses[f"utter_{key}"] = [
                {"text": f"TODO 答案（{cluster.messages} 条未解答的提问）"},
                {
                    "condition": [{"type": "slot", "name": "language", "value": "en"}],
                    "text": f"TODO answer ({cluster.messages} unanswered questions)",
                },
            ]
        header = (
            "# Candidate FAQ entries from unanswered questions "
            f"({self.context.period.since} – {self.context.period.until}).\n"
            "# Review, rename the keys, write the answers, then move them into data/faq/.\n"
        )
        document = {"version": "3.1", "nlu": nlu, "responses": responses}
        return header + yaml.dump(
            document, allow_unicode=True, sort_keys=False, Dumper=_LiteralDumper, width=1000
        )


def cluster_questions(rows: list[tuple[str, str, int]]) -> list[GapCluster]:
    """Greedy clustering, most frequent question first: each question joins
    the most similar cluster leader above SIMILARITY, else leads a new
    cluster. Similarity is the cosine of TF-IDF weighted character 1–3-grams,
    which needs no word segmentation for Chinese. Deterministic."""
    if not rows:
        return []
    vectors = _char_ngram_vectors([text for text, _, _ in rows])
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)  # n-gram -> (leader, weight)
    clusters: list[GapCluster] = []
    for (text, intent, count), vector in zip(rows, vectors, strict=True):
        scores: dict[int, float] = defaultdict(float)
        for gram, weight in vector.items():
            for leader, leader_weight in postings.get(gram, ()):
                scores[leader] += weight * leader_weight
        best = max(scores, key=scores.__getitem__, default=None)
        if best is None or scores[best] < SIMILARITY:
            best = len(clusters)
            clusters.append(GapCluster())
            for gram, weight in vector.items():
                postings[gram].append((best, weight))
        cluster = clusters[best]
        if text not in cluster.texts:
            cluster.texts.append(text)
        cluster.messages += count
        if intent:
            cluster.intents[intent] += count
    return sorted(clusters, key=lambda cluster: -cluster.messages)


def _char_ngram_vectors(texts: list[str]) -> list[dict[str, float]]:
    """Unit-length TF-IDF vectors of character 1–3-grams of Chinese runs and
    of the other words (without stop words). Written here
    rather than taken from scikit-learn, whose import alone costs more than
    a whole incremental report may take (docs/benchmarks.md)."""
    grams_of = []
    for text in texts:
        grams: Counter[str] = Counter()
        for run in _CJK_RUN.findall(text):
            grams.update(run[i : i + n] for n in (1, 2, 3) for i in range(len(run) - n + 1))
        grams.update(word for word in _LATIN_WORD.findall(text.lower()) if word not in STOP_WORDS)
        grams_of.append(grams)
    document_frequency = Counter(gram for grams in grams_of for gram in grams)
    total = len(texts)
    vectors = []
    for grams in grams_of:
        weights = {
            gram: (1 + math.log(count))
            * (math.log((1 + total) / (1 + document_frequency[gram])) + 1)
            for gram, count in grams.items()
        }
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        vectors.append({gram: weight / norm for gram, weight in weights.items()})
    return vectors


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings (the examples) as `|` blocks, as Rasa's
    training data is written by hand."""


def _literal(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _literal)
