"""The bridge's migrations build exactly the schema its models describe, and
can be undone, on both databases it supports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Connection

import handoff.agents.models
import handoff.tickets.models  # noqa: F401 - registers the tables
from handoff import migrations
from handoff.db import Base, sync_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@contextmanager
def connected(database_url: str) -> Iterator[Connection]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def schema_differences(database_url: str) -> list:
    with connected(database_url) as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def tables(database_url: str) -> set[str]:
    with connected(database_url) as connection:
        return set(inspect(connection).get_table_names()) - {"alembic_version"}


def test_the_migrations_build_the_models_schema(database_url):
    migrations.upgrade(database_url)
    assert schema_differences(database_url) == []


def test_the_migrations_can_be_undone_and_redone(database_url):
    migrations.upgrade(database_url)
    try:
        migrations.downgrade(database_url, "0001")
        assert "agent_replies" not in tables(database_url)
        migrations.downgrade(database_url, "base")
        assert tables(database_url) == set()
    finally:
        # The PostgreSQL database is shared by the session's later tests.
        migrations.upgrade(database_url)
    assert tables(database_url) == set(Base.metadata.tables)
