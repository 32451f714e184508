"""The benchmark scripts run on any data in their documented formats."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.conftest import PROJECT


def run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=PROJECT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_faq_benchmark_on_a_small_knowledge_base(tmp_path):
    kb = [
        {"id": "a", "question": "退货运费谁出", "answer": "..."},
        {"id": "b", "question": "多久能发货", "answer": "..."},
        {"id": "c", "question": "支持花呗分期吗", "answer": "..."},
    ]
    queries = [
        {"query": "退货的运费由谁承担", "relevant": ["a"]},
        {"query": "几天发货", "relevant": ["b"]},
        {"query": "可以用花呗吗", "relevant": ["c"]},
    ]
    (tmp_path / "kb.jsonl").write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in kb))
    (tmp_path / "q.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in queries))
    output = run("-m", "bench.faq", str(tmp_path / "kb.jsonl"), str(tmp_path / "q.jsonl"))
    for retriever in ("words", "words \\+ meaning"):
        ours = re.search(rf"FaqIndex \({retriever}\)\s+R@1 ([\d.]+)", output)
        assert ours is not None, output
        assert float(ours.group(1)) == 1.0
    assert "ours/baseline" in output


def test_nlu_benchmark_trains_and_scores_the_projects_pipeline(tmp_path):
    train = """version: "3.1"
nlu:
- intent: weather
  examples: |
    - 今天天气怎么样
    - 明天会下雨吗
    - 北京[冷](feeling)不冷
    - 外面热吗
    - 周末天气如何
- intent: music
  examples: |
    - 放一首周杰伦的歌
    - 我想听音乐
    - 来点轻音乐
    - 播放[稻香](song)
    - 换一首歌
"""
    test = """version: "3.1"
nlu:
- intent: weather
  examples: |
    - 后天天气怎么样
    - 会不会下雨
- intent: music
  examples: |
    - 放首歌听听
    - 播放音乐
"""
    (tmp_path / "train.yml").write_text(train, "utf-8")
    (tmp_path / "test.yml").write_text(test, "utf-8")
    scores = tmp_path / "scores.json"
    output = run(
        "-m", "bench.nlu", str(tmp_path / "train.yml"), str(tmp_path / "test.yml"),
        "--pipelines", "ours", "--json", str(scores),
    )  # fmt: skip
    assert "language zh" in output
    [ours] = json.loads(scores.read_text())
    assert ours["pipeline"] == "ours"
    assert ours["examples"] == 4
    assert ours["intent_accuracy"] == 1.0

    output = run(
        "-m", "bench.nlu", str(tmp_path / "train.yml"), "--folds", "2",
        "--pipelines", "ours", "--json", str(scores),
    )  # fmt: skip
    assert "2-fold cross-validation" in output
    [ours] = json.loads(scores.read_text())
    assert ours["examples"] == 10  # every training example, held out once
    assert ours["intent_accuracy"] >= 0.8

    refused = subprocess.run(
        [sys.executable, "-m", "bench.nlu", str(tmp_path / "train.yml")],
        cwd=PROJECT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "either TEST_YML or --folds" in refused.stderr


def test_analytics_benchmark_on_a_small_store(tmp_path):
    figures_file = tmp_path / "figures.json"
    run(
        "-m", "bench.analytics", "--events", "3000", "--incremental-events", "400",
        "--workdir", str(tmp_path / "data"), "--json", str(figures_file),
    )  # fmt: skip
    figures = json.loads(figures_file.read_text())
    assert figures["events"] > 2000 and figures["incremental_events"] > 200
    assert figures["full_report_seconds"] > 0 and figures["incremental_report_peak_rss_mb"] > 0
    assert (tmp_path / "data" / "incremental" / "report.html").exists()
