"""Fixtures shared by the whole suite: the project, its trained model, its domain."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parent.parent
MODEL = PROJECT / "models" / "cloudpick.tar.gz"


@pytest.fixture(scope="session")
def trained_model() -> Path:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make test`, which trains it first.")
    return MODEL


@pytest.fixture(scope="session")
def domain_dict() -> dict[str, Any]:
    """The domain as the action server receives it with every call."""
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_config(
        str(PROJECT / "config.yml"),
        domain_path=str(PROJECT / "domain.yml"),
        training_data_paths=[str(PROJECT / "data")],
    )
    return importer.get_domain().as_dict()


@pytest.fixture(scope="session")
def nlu_agent(trained_model: Path):
    """The trained model, for parsing messages without a server."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    return Agent.load(str(trained_model))


@pytest.fixture(scope="session")
def parse(nlu_agent):
    """parse("text") -> Rasa's parse data for the text."""

    def parse_text(text: str) -> dict[str, Any]:
        return asyncio.run(nlu_agent.parse_message(text))

    return parse_text
