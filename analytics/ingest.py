"""Reads Rasa's `events` table in (sender, id) order, one customer at a
time, and stores their conversations in the warehouse.

The first run reads everything; later runs read only the customers with
events after the checkpoint (all of their events, since a conversation may
span the checkpoint). Rows whose JSON is corrupted are skipped and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import ujson
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, func, select
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import DatabaseError, NoSuchTableError
from tqdm import tqdm

from analytics.conversation import TRACKED_SLOTS, Conversation, ConversationFolder
from analytics.errors import SourceError
from analytics.warehouse import Warehouse

logger = logging.getLogger(__name__)

# Only these event types say anything the reports use.
READ_TYPES = ("user", "bot", "action", "slot", "active_loop", "pause", "resume", "session_started")
NO_PAYLOAD_TYPES = frozenset({"action", "pause", "resume", "session_started"})
# Slot events are many; only those of the tracked slots are parsed.
SLOT_MARKERS = tuple(f'"{slot}"' for slot in TRACKED_SLOTS)
SENDER_CHUNK = 500
WRITE_BATCH = 2000

events_table = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String),
    Column("type_name", String),
    Column("timestamp", Float),
    Column("intent_name", String),
    Column("action_name", String),
    Column("data", Text),
)


@dataclass
class IngestResult:
    events_read: int = 0
    conversations: int = 0
    # Corrupted rows skipped by this run, and by every run behind the warehouse
    # (an incremental run re-reads a returning customer's older rows: those
    # count once).
    corrupted_rows: int = 0
    corrupted_rows_total: int = 0
    incremental: bool = False
    last_event_id: int = 0


class TrackerIngester:
    def __init__(
        self, *, tracker: Engine, warehouse: Warehouse, source: str, progress: bool = True
    ):
        self._tracker = tracker
        self._warehouse = warehouse
        self._source = source
        self._progress = progress

    def run(self, *, full: bool = False) -> IngestResult:
        checkpoint = None if full else self._warehouse.checkpoint(self._source)
        with self._tracker.connect() as source:
            last_id = _max_event_id(source)
            result = IngestResult(incremental=checkpoint is not None, last_event_id=last_id)
            result.corrupted_rows_total = checkpoint[1] if checkpoint else 0
            new_after = checkpoint[0] if checkpoint else 0
            with self._warehouse.engine.begin() as target:
                if checkpoint is None:
                    self._warehouse.reset(target)
                    self._ingest(source, target, None, last_id, new_after, result)
                elif last_id > new_after:
                    senders = list(
                        source.execute(
                            select(events_table.c.sender_id)
                            .where(events_table.c.id > new_after, events_table.c.id <= last_id)
                            .distinct()
                        ).scalars()
                    )
                    for start in range(0, len(senders), SENDER_CHUNK):
                        chunk = senders[start : start + SENDER_CHUNK]
                        self._warehouse.forget_senders(target, chunk)
                        self._ingest(source, target, chunk, last_id, new_after, result)
                self._warehouse.save_checkpoint(
                    target, self._source, last_id, result.corrupted_rows_total
                )
        if result.corrupted_rows:
            logger.warning(
                "Skipped %s tracker events whose JSON is corrupted.", result.corrupted_rows
            )
        return result

    def _ingest(
        self,
        source: Connection,
        target: Connection,
        senders: list[str] | None,
        last_id: int,
        new_after: int,
        result: IngestResult,
    ) -> None:
        query = select(
            events_table.c.id,
            events_table.c.sender_id,
            events_table.c.type_name,
            events_table.c.timestamp,
            events_table.c.action_name,
            events_table.c.data,
        ).where(events_table.c.type_name.in_(READ_TYPES), events_table.c.id <= last_id)
        if senders is not None:
            query = query.where(events_table.c.sender_id.in_(senders))
        total = source.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = source.execution_options(stream_results=True, yield_per=5000).execute(
            query.order_by(events_table.c.sender_id, events_table.c.id)
        )
        batch: list[Conversation] = []
        with tqdm(total=total, unit="event", disable=not self._progress, leave=False) as bar:
            for conversation in self._fold(rows, new_after, result, bar):
                batch.append(conversation)
                if len(batch) >= WRITE_BATCH:
                    result.conversations += self._warehouse.store(target, batch)
                    batch.clear()
        result.conversations += self._warehouse.store(target, batch)

    def _fold(
        self, rows: Iterable[Row], new_after: int, result: IngestResult, bar: tqdm
    ) -> Iterator[Conversation]:
        """Conversations from rows in (sender, id) order; ids above `new_after`
        are new to the warehouse."""
        folder: ConversationFolder | None = None
        for event_id, sender_id, kind, timestamp, action_name, data in rows:
            result.events_read += 1
            if result.events_read % 5000 == 0:
                bar.update(5000)
            if folder is None or folder.sender_id != sender_id:
                if folder is not None:
                    yield from folder.close()
                folder = ConversationFolder(sender_id)
            if kind == "slot" and not (data and any(m in data for m in SLOT_MARKERS)):
                continue
            if kind == "action":
                event = {"name": action_name}
            elif kind in NO_PAYLOAD_TYPES:
                event = {}
            else:
                try:
                    event = ujson.loads(data)
                    if not isinstance(event, dict):
                        raise ValueError("not an object")
                except (TypeError, ValueError):
                    result.corrupted_rows += 1
                    if event_id > new_after:
                        result.corrupted_rows_total += 1
                    continue
            yield from folder.feed(event_id, kind, float(timestamp or 0.0), event)
        if folder is not None:
            yield from folder.close()


def _max_event_id(source: Connection) -> int:
    try:
        return source.execute(select(func.max(events_table.c.id))).scalar_one() or 0
    except (DatabaseError, NoSuchTableError) as error:  # DatabaseError: not a database at all
        message = str(getattr(error, "orig", error))
        if "no such table" in message or "does not exist" in message:
            raise SourceError(
                "The tracker store has no `events` table: is this Rasa's SQL tracker store?"
            ) from error
        raise SourceError(f"Cannot read the tracker store: {message}") from error
