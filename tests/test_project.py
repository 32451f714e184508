"""The Rasa project as designers and Rasa's own tools see it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from actions.fallback import CLARIFICATIONS
from actions.messages import PROBLEM_RESPONSES
from actions.shop.orders import OrderStatus
from actions.suggestions import SUGGESTIBLE_INTENTS
from addons.nlu.text import detect_language
from tests.conftest import PROJECT

RASA = str(Path(sys.executable).parent / "rasa")
ENVIRONMENT = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}


def responses_named_in_actions() -> set[str]:
    """Responses the action server (or Rasa, through addons/rasa_fixes.py) sends,
    named literally or built from constants."""
    source = "\n".join(
        path.read_text("utf-8")
        for folder in ("actions", "addons")
        for path in (PROJECT / folder).rglob("*.py")
    )
    # "utter_action" is the key under which Rasa records a bot message's response.
    named = set(re.findall(r"\"(utter_[a-z_]+)\"", source)) - {"utter_action"}
    named |= {f"utter_order_status_{status.value}" for status in OrderStatus}
    named |= {f"utter_label_{intent}" for intent in SUGGESTIBLE_INTENTS}
    named |= {response for response, _ in PROBLEM_RESPONSES.values()}
    return named | CLARIFICATIONS


def test_rasa_data_validate_finds_only_rasa_36_false_alarms(domain_dict):
    """`rasa data validate` passes. Rasa 3.6 warns about every response that only
    actions or forms use, about the retrieval intent it merges into the domain
    itself, and about external intents (the handoff bridge triggers them;
    nobody types them, so they have no examples); anything else it says is a
    real problem."""
    result = subprocess.run(
        [RASA, "data", "validate"],
        cwd=PROJECT,
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    unused = set(re.findall(r"The utterance '([^']+)' is not used in any story or rule", output))
    form_questions = {
        f"utter_ask_{slot}"
        for form in domain_dict["forms"].values()
        for slot in form["required_slots"]
    }
    explained = responses_named_in_actions() | form_questions | {"utter_faq"}
    assert unused - explained == set(), "responses nothing uses"
    warnings = [line for line in output.splitlines() if "UserWarning" in line]
    unexpected = [
        line
        for line in warnings
        if "is not used in any story or rule" not in line
        and "duplicated intents have been found across multiple domain files: faq" not in line
        and not re.search(r"The intent 'EXTERNAL_\w+' is listed in the domain file", line)
    ]
    assert unexpected == []


def test_rasa_test_core_passes_the_test_stories(tmp_path):
    result = subprocess.run(
        [
            RASA, "test", "core",
            "--stories", str(PROJECT / "tests" / "test_stories.yml"),
            "--model", str(PROJECT / "models"),
            "--fail-on-prediction-errors",
            "--out", str(tmp_path),
        ],
        cwd=PROJECT, env=ENVIRONMENT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "None of the test stories failed" in (tmp_path / "failed_test_stories.yml").read_text()


def test_every_response_speaks_chinese_and_english(domain_dict):
    def language(variation: dict) -> str | None:
        return detect_language(re.sub(r"\{\w+\}", "", variation.get("text", "")))

    for name, variations in domain_dict["responses"].items():
        defaults = [v for v in variations if not v.get("condition")]
        english = [
            v
            for v in variations
            if v.get("condition") == [{"type": "slot", "name": "language", "value": "en"}]
        ]
        assert defaults and english, name
        assert all(language(v) != "en" for v in defaults), name
        assert all(language(v) != "zh" for v in english), name


def test_every_response_the_actions_send_exists(domain_dict):
    missing = {
        name for name in responses_named_in_actions() if name not in domain_dict["responses"]
    }
    assert missing == set()


def test_every_intent_has_chinese_and_english_examples():
    data = load_data(str(PROJECT / "data" / "nlu"))
    languages = defaultdict(set)
    for example in data.intent_examples:
        languages[example.get("intent")].add(detect_language(example.get("text")))
    for intent, found in languages.items():
        assert {"zh", "en"} <= found, intent


def test_the_knowledge_base_has_80_bilingual_entries():
    data = load_data(str(PROJECT / "data" / "faq"))
    phrasings = defaultdict(list)
    for example in data.intent_examples:
        phrasings[example.get("intent_response_key")].append(detect_language(example.get("text")))
    assert len(phrasings) >= 80
    for key, languages in phrasings.items():
        assert languages.count("zh") >= 3 and languages.count("en") >= 3, key
        assert f"utter_{key}" in data.responses, key


@pytest.mark.parametrize("path", ["domain.yml", "config.yml", "endpoints.yml", "credentials.yml"])
def test_project_files_are_where_rasa_users_expect_them(path):
    assert (PROJECT / path).is_file()
