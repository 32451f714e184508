"""Fixtures shared by the whole suite: the project, its trained model, its domain."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

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


# Where the tests may create databases of their own (trust auth, as on CI).
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def scratch_postgres_database(prefix: str = "test") -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards; skips the test without a server.
    Durability is not under test, so commits do not wait for the disk."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    admin.autocommit = True
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
        cursor.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    admin.close()
    try:
        yield (
            make_url(POSTGRES_ADMIN_URL)
            .set(drivername="postgresql", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        # A connection of its own: a test may have restarted the server
        # meanwhile (tests/integration/test_production.py).
        admin = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=10)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with scratch_postgres_database() as url:
        yield url
