"""Fixtures shared by the whole suite: the project, its trained model, its domain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; skips without a server."""
    import uuid

    from sqlalchemy import create_engine

    admin_url = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as error:
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
