"""Alembic migrations of the bridge's database; `upgrade` runs at start-up."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy
from alembic import command
from alembic.config import Config

from handoff.db import sync_url

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Blocking: call it from a thread inside the event loop. Bridge
    instances starting together on PostgreSQL take turns (an advisory lock):
    the first migrates, the others find the schema current."""
    _ensure_sqlite_directory(database_url)
    if sqlalchemy.engine.make_url(database_url).get_backend_name() != "postgresql":
        command.upgrade(alembic_config(database_url), revision)
        return
    engine = sqlalchemy.create_engine(sync_url(database_url))
    try:
        with engine.connect() as lock:
            lock.execute(sqlalchemy.text("SELECT pg_advisory_lock(hashtext('handoff.migrate'))"))
            try:
                command.upgrade(alembic_config(database_url), revision)
            finally:
                lock.execute(
                    sqlalchemy.text("SELECT pg_advisory_unlock(hashtext('handoff.migrate'))")
                )
    finally:
        engine.dispose()


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def _ensure_sqlite_directory(database_url: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
