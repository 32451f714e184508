"""Rasa's SQL tracker store without the extra read on every save.

With an event broker configured, Rasa 3.6's `TrackerStore.stream_events`
loads and replays the whole conversation session from the database on every
save, only to learn which events are new. Saving already counts the stored
events of the session to know what to insert; that one count answers the
same question, so this store publishes the same events without a second
read. Everything else is Rasa's `SQLTrackerStore`:
the same tables, dialects and settings, so the analytics read it unchanged.

A write error never stops Rasa. Rasa's `session_scope` reads every
`ValueError` as "the PostgreSQL schema is missing" and exits the process,
and the encoding errors of a sender id or intent with a lone surrogate
(`UnicodeEncodeError`), or PostgreSQL's refusal of NUL characters, are
`ValueError`s. Here only the schema check can exit; any other error
propagates, so Rasa's `FailSafeTrackerStore` logs it. And such values are
made storable first (U+FFFD for what cannot be encoded, intent and action
names cut to their column's width; the event's full data column keeps
them as sent), on saving and on reading alike, so the conversation is kept
rather than falling back to memory.

A database that cannot be reached (PostgreSQL restarting) is waited for,
up to `DATABASE_RETRY_SECONDS`, on saving and reading: Rasa would keep the
turn in memory only. The broker hears a turn's events once they are stored.

endpoints.yml:

    tracker_store:
      type: addons.tracker_store.SQLTrackerStore
      dialect: sqlite            # or postgresql, with url/port/username/password
      db: var/tracker.db
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import rasa.shared.utils.cli
import sqlalchemy
import sqlalchemy.exc
import sqlalchemy.orm
import sqlalchemy.pool
from rasa.core import tracker_store
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from addons import rasa_fixes
from addons.channels.guard import REPLACEMENT_CHARACTER, replace_lone_surrogates

if TYPE_CHECKING:
    from sqlalchemy.orm import Query, Session

rasa_fixes.apply()

logger = logging.getLogger(__name__)

# The width of Rasa's `String(255)` name columns.
NAME_COLUMN_CHARS = 255


def storable(value: str) -> str:
    """`value` as every SQL database can hold it: no lone surrogates (not
    UTF-8) and no NUL (PostgreSQL's text refuses it)."""
    return replace_lone_surrogates(value).replace("\x00", REPLACEMENT_CHARACTER)


def _name(value: Any) -> str | None:
    return storable(str(value))[:NAME_COLUMN_CHARS] if value is not None else None


# How long a save or a read waits for the database to come back (a restart
# takes seconds) before Rasa's fail-safe store takes over.
DATABASE_RETRY_SECONDS = 15.0
# The database cannot be reached: worth waiting for. A refused statement is not.
_UNREACHABLE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)

T = TypeVar("T")


async def _retrying(operation: Callable[[], Awaitable[T]]) -> T:
    """Runs `operation` until the database answers, for up to
    `DATABASE_RETRY_SECONDS`: without it a restart of PostgreSQL made Rasa
    keep that turn in memory only, and the bridge never heard the message."""
    deadline = time.monotonic() + DATABASE_RETRY_SECONDS
    delay = 0.2
    while True:
        try:
            return await operation()
        except _UNREACHABLE as error:
            if time.monotonic() >= deadline:
                raise
            logger.warning("Tracker store unreachable (%s); retrying in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


# How many of a tracker's events are in the database, kept on the tracker
# itself: Rasa hands the object it retrieved to `save`, with the turn's
# events appended (a tracker's events are only ever appended), and the
# conversation's lock keeps every other process from writing in between.
# Rasa counts the stored events with a query on every save instead, a
# twentieth of a message's time in Rasa; a tracker this store has not read
# or written is still counted that way.
_STORED_EVENTS = "_stored_events_in_sql_tracker_store"


def _remember_stored(tracker: DialogueStateTracker) -> None:
    setattr(tracker, _STORED_EVENTS, len(tracker.events))


def _take_stored(tracker: DialogueStateTracker) -> int | None:
    """The number remembered, forgotten until the save that uses it commits:
    a retry after a failed commit counts what actually got stored."""
    stored = vars(tracker).pop(_STORED_EVENTS, None)
    # A capped history (`max_event_history`) drops events from the front.
    if stored is None or tracker.events.maxlen is not None or stored > len(tracker.events):
        return None
    return stored


class SQLTrackerStore(tracker_store.SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Rasa's, with connections checked before use (after a database
        restart Rasa's pool hands out dead connections, and the failed save
        is then kept only in memory, by Rasa's fail-safe store) and, for a
        SQLite file, kept open: SQLAlchemy 1.4 opens and closes one per save
        (`NullPool`), and the last close checkpoints the WAL, a twentieth of
        a message's time in Rasa."""
        super().__init__(*args, **kwargs)
        url = self.engine.url
        options: dict[str, Any] = {"pool_pre_ping": True, **tracker_store.create_engine_kwargs(url)}
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            # The pool lends the connection to one user at a time, whichever
            # thread that is.
            options |= {
                "poolclass": sqlalchemy.pool.QueuePool,
                "connect_args": {"check_same_thread": False},
            }
        self.engine.dispose()
        self.engine = sqlalchemy.create_engine(url, **options)
        self.sessionmaker = sqlalchemy.orm.sessionmaker(bind=self.engine)

    @contextlib.contextmanager
    def session_scope(self) -> Iterator[Session]:
        """Rasa's, but only a missing schema ends the process."""
        session = self.sessionmaker()
        try:
            try:
                tracker_store.ensure_schema_exists(session)
            except ValueError as schema:
                rasa.shared.utils.cli.print_error_and_exit(
                    f"Requested PostgreSQL schema '{schema}' was not found in the database. "
                    f"Create it, or unset {tracker_store.POSTGRESQL_SCHEMA} to use the default."
                )
            yield session
        finally:
            session.close()

    def _event_query(
        self, session: Session, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> Query:
        return super()._event_query(session, storable(sender_id), fetch_events_from_all_sessions)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save, with every indexed column made storable; the one count
        of stored events that finds the new ones also tells the broker, once
        they are stored."""
        new_events = await _retrying(lambda: self._store_new_events(tracker))
        if self.event_broker is not None:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
        logger.debug("Tracker with sender_id '%r' stored to database", tracker.sender_id)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        tracker = await _retrying(lambda: super(SQLTrackerStore, self).retrieve(sender_id))
        if tracker is not None:
            _remember_stored(tracker)
        return tracker

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        return await _retrying(
            lambda: super(SQLTrackerStore, self).retrieve_full_tracker(sender_id)
        )

    async def _store_new_events(self, tracker: DialogueStateTracker) -> list[Event]:
        with self.session_scope() as session:
            stored = _take_stored(tracker)
            if stored is None:
                new_events = list(self._additional_events(session, tracker))
            else:
                new_events = list(itertools.islice(tracker.events, stored, None))
            sender_id = storable(tracker.sender_id)
            rows = []
            for event in new_events:
                data = event.as_dict()
                intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
                rows.append(
                    {
                        "sender_id": sender_id,
                        "type_name": _name(event.type_name),
                        "timestamp": data.get("timestamp"),
                        "intent_name": _name(intent),
                        "action_name": _name(data.get("name")),
                        "data": json.dumps(data),
                    }
                )
            if rows:
                # One INSERT for the turn's rows: the ORM's unit of work
                # (an object and its bookkeeping per row) cost a tenth of
                # a message's time in Rasa, for rows nothing reads back.
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()
        _remember_stored(tracker)
        return new_events
