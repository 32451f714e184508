"""Ticket tests run on both databases the bridge supports: SQLite, where
writes queue on one lock, and PostgreSQL, where transactions really run at
the same time and only the conditional UPDATEs decide races."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from handoff import migrations
from handoff.db import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The bridge's database without the bridge, for the service functions."""
    await asyncio.to_thread(migrations.upgrade, database_url)
    database = Database(database_url)
    yield database
    await database.close()
