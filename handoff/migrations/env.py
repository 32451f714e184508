"""Alembic environment: the URL comes from `handoff.migrations.alembic_config`
(the bridge's settings), the metadata from the models."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import handoff.agents.models
import handoff.tickets.models  # noqa: F401 - registers the tables
from handoff.db import Base

config = context.config


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
        future=True,
    )
    with engine.connect() as connection:
        # Batch mode lets later revisions alter SQLite tables.
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
