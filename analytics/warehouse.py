"""The analytics' own SQLite database: one row per conversation and per
message, folded from the tracker store, and the checkpoint of the last
event read. Reports aggregate it in SQL, so memory does not grow with the
tracker store, and a re-run reads only events added since the checkpoint."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine

from analytics.conversation import Conversation
from analytics.keywords import keywords_of

SCHEMA_VERSION = 4

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("key", String, primary_key=True),
    Column("sender_id", String, nullable=False, index=True),
    Column("started_at", Float, nullable=False, index=True),
    Column("ended_at", Float, nullable=False),
    Column("channel", String),
    Column("language", String),
    Column("category", String),
    Column("priority", String),
    Column("customer_messages", Integer, nullable=False),
    Column("bot_messages", Integer, nullable=False),
    Column("agent_messages", Integer, nullable=False),
    Column("handoff", Boolean, nullable=False),
    Column("handoff_reason", String),
    Column("escalated", Boolean, nullable=False),
    Column("abandoned", Boolean, nullable=False),
    Column("fallbacks", Integer, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation", String, nullable=False, index=True),
    Column("sender_id", String, nullable=False, index=True),
    Column("channel", String),
    Column("language", String),
    Column("category", String),
    Column("at", Float, nullable=False, index=True),
    Column("intent", String),
    Column("confidence", Float),
    Column("faq_key", String),
    Column("faq_confidence", Float),
    Column("text", Text),
    Column("fallback", Boolean, nullable=False),
    Column("unanswered", Boolean, nullable=False),
    Column("response_seconds", Float),
)

# Customer texts already split into keywords (space-separated), so jieba
# runs once per distinct text, not once per report.
text_keywords = Table(
    "text_keywords",
    metadata,
    Column("text", Text, primary_key=True),
    Column("keywords", Text, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("source", String, primary_key=True),
    Column("last_event_id", Integer, nullable=False),
    Column("corrupted_rows", Integer, nullable=False),
)

CONVERSATION_COLUMNS = [c.name for c in conversations.columns]
MESSAGE_DIMENSIONS = ("sender_id", "channel", "language", "category")
MESSAGE_OWN_COLUMNS = [
    c.name for c in messages.columns if c.name != "id" and c.name not in MESSAGE_DIMENSIONS
]


def default_path(directory: Path, tracker_url: str) -> Path:
    """One warehouse per tracker store, so sources never mix."""
    digest = hashlib.sha1(tracker_url.encode()).hexdigest()[:12]
    return directory / f"analytics-{digest}.db"


class Warehouse:
    def __init__(self, path: Path) -> None:
        # It holds what customers wrote: owner-only, whatever the umask (SQLite
        # gives its journal files the database's mode).
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        path.chmod(0o600)
        self.path = path
        self.engine: Engine = create_engine(f"sqlite:///{path}", future=True)
        event.listen(self.engine, "connect", _fast_sqlite)
        with self.engine.begin() as connection:
            version = connection.exec_driver_sql("PRAGMA user_version").scalar_one()
            if version != SCHEMA_VERSION:
                # An older layout: the warehouse is a cache, so start it over.
                metadata.drop_all(connection)
                connection.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
            metadata.create_all(connection)

    def checkpoint(self, source: str) -> tuple[int, int] | None:
        """(last event id, corrupted rows so far), or None before the first run."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(checkpoints.c.last_event_id, checkpoints.c.corrupted_rows).where(
                    checkpoints.c.source == source
                )
            ).first()
        return None if row is None else (row[0], row[1])

    def reset(self, connection: Connection) -> None:
        for table in (messages, conversations, checkpoints):  # text_keywords stays valid
            connection.execute(delete(table))

    def forget_senders(self, connection: Connection, senders: list[str]) -> None:
        connection.execute(delete(messages).where(messages.c.sender_id.in_(senders)))
        connection.execute(delete(conversations).where(conversations.c.sender_id.in_(senders)))

    def store(self, connection: Connection, folded: Iterable[Conversation]) -> int:
        conversation_rows, message_rows = [], []
        for conversation in folded:
            conversation_rows.append(
                {name: getattr(conversation, name) for name in CONVERSATION_COLUMNS}
            )
            # The conversation's dimensions are copied onto its messages, so
            # message reports filter and group without a join.
            shared = {name: getattr(conversation, name) for name in MESSAGE_DIMENSIONS}
            message_rows.extend(
                {**{name: getattr(m, name) for name in MESSAGE_OWN_COLUMNS}, **shared}
                for m in conversation.messages
            )
        if conversation_rows:
            connection.execute(insert(conversations), conversation_rows)
        if message_rows:
            connection.execute(insert(messages), message_rows)
            self._split_new_texts(connection, {r["text"] for r in message_rows if r["text"]})
        return len(conversation_rows)

    def _split_new_texts(self, connection: Connection, texts: set[str]) -> None:
        known = set(
            connection.execute(
                select(text_keywords.c.text).where(text_keywords.c.text.in_(list(texts)))
            ).scalars()
        )
        new = [{"text": text, "keywords": " ".join(keywords_of(text))} for text in texts - known]
        if new:
            connection.execute(insert(text_keywords), new)

    def save_checkpoint(
        self, connection: Connection, source: str, last_event_id: int, corrupted: int
    ) -> None:
        connection.execute(delete(checkpoints).where(checkpoints.c.source == source))
        connection.execute(
            insert(checkpoints).values(
                source=source,
                last_event_id=last_event_id,
                corrupted_rows=corrupted,
            )
        )


def _fast_sqlite(connection: object, _record: object) -> None:
    """The warehouse can always be rebuilt from the tracker store, so it
    trades durability for write speed."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()
