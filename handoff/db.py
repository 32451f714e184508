"""Database plumbing: one metadata with stable constraint names, the async
engine the service uses, and the sync URL alembic uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import declarative_base, sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))
# The largest record id: ids are `Integer` columns, 32 bits on PostgreSQL,
# which answers a larger number in a query with an error.
MAX_ID = 2**31 - 1


def storable(value: str) -> bool:
    """Whether a database can hold this text, and so be asked about it:
    PostgreSQL refuses NUL in text, in a query's parameters too (an error,
    not an empty result)."""
    return "\x00" not in value


_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg2"}


def _with_driver(url: str, drivers: dict[str, str]) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"Unsupported database {url!r}: use sqlite:/// or postgresql://")
    return str(parsed.set(drivername=drivers[backend]))


def async_url(url: str) -> str:
    return _with_driver(url, _ASYNC_DRIVERS)


def sync_url(url: str) -> str:
    return _with_driver(url, _SYNC_DRIVERS)


def create_engine(url: str) -> AsyncEngine:
    options: dict[str, object] = {"future": True, "pool_pre_ping": True}
    if make_url(url).get_backend_name() == "sqlite":
        # SQLAlchemy 1.4 opens a new aiosqlite connection (a thread and the
        # pragmas) per session on file databases; the relay's hot path reads
        # on every customer message, so connections are pooled instead.
        options.update(poolclass=AsyncAdaptedQueuePool, pool_size=5, max_overflow=10)
    engine = create_async_engine(async_url(url), **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: object, _record: object) -> None:
    """WAL lets the analytics read while the bridge writes; foreign keys are
    off by default in SQLite."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> sessionmaker:
    return sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, future=True)


class Database:
    """The engine and how the bridge opens transactions.

    SQLite allows one writer at a time and answers a second with "database
    is locked", so on SQLite write transactions queue on an asyncio lock
    (the bridge is one process); PostgreSQL runs them concurrently and the
    conditional UPDATEs in the services decide races.
    """

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self._sessions = session_factory(self.engine)
        self._write_gate = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with AsyncExitStack() as stack:
            if self._write_gate is not None:
                await stack.enter_async_context(self._write_gate)
            session = await stack.enter_async_context(self._sessions())
            await stack.enter_async_context(session.begin())
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    async def serialise(self, session: AsyncSession, key: str) -> None:
        """Makes transactions about the same `key` run one after the other:
        a PostgreSQL advisory lock until commit. SQLite's write gate already
        runs write transactions one at a time."""
        if self.engine.dialect.name == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key}
            )

    async def close(self) -> None:
        await self.engine.dispose()
