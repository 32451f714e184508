"""Who a mail conversation is with, and which mails belong to it.

A customer's address is one Rasa conversation, whose id is a keyed hash of
the address: stable, so every mail of theirs (and a form they fill in
with that address) continues the same conversation and ticket, yet not
guessable from the address, so nobody can join it through another channel
(Rasa's REST channel takes any sender id). The key is made once and kept
here unless the operator sets one.

Message-IDs are kept so that a mail delivered twice (a webhook retried, an
MTA resending) is handled once, and so that every answer is threaded
(`In-Reply-To`, `References`) under the customer's latest mail. The
options a mail offered ("reply 1 for ...") are kept per conversation until
the customer's next mail.

SQLite, one short connection per call: the calls are made in a worker
thread (`asyncio.to_thread`), never on Rasa's event loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONVERSATION_PREFIX = "email-"
MAX_REFERENCES = 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    name TEXT,
    subject TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'zh',
    last_message_id TEXT,
    refs TEXT NOT NULL DEFAULT '[]',
    options TEXT NOT NULL DEFAULT '[]',
    ticket_id INTEGER,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Thread:
    conversation_id: str
    address: str
    name: str | None
    subject: str
    language: str
    last_message_id: str | None
    references: tuple[str, ...]
    # [{"key", "title", "payload"}] offered by our latest mail.
    options: tuple[dict[str, str], ...]
    ticket_id: int | None


class ThreadStore:
    def __init__(self, path: Path, key: str | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)
            if key:
                self._key = key.encode()
            else:
                db.execute(
                    "INSERT OR IGNORE INTO settings VALUES ('conversation_key', ?)",
                    (secrets.token_urlsafe(32),),
                )
                row = db.execute("SELECT value FROM settings WHERE name = 'conversation_key'")
                self._key = row.fetchone()[0].encode()

    def conversation_id(self, address: str) -> str:
        digest = hmac.new(self._key, address.encode(), hashlib.sha256).digest()
        return CONVERSATION_PREFIX + base64.b32encode(digest[:15]).decode().lower()

    def record_inbound(
        self,
        conversation_id: str,
        *,
        address: str,
        name: str | None,
        subject: str,
        language: str,
        message_id: str | None,
        references: tuple[str, ...],
    ) -> bool:
        """Remembers the customer's mail as the one answers go under;
        False when this Message-ID was handled before (a replay)."""
        with self._connect() as db:
            if message_id and not self._insert_message(db, message_id, conversation_id, "in"):
                return False
            chain = [*references, message_id] if message_id else list(references)
            db.execute(
                """INSERT INTO conversations
                       (conversation_id, address, name, subject, language, last_message_id,
                        refs, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (conversation_id) DO UPDATE SET
                       address = excluded.address, name = coalesce(excluded.name, name),
                       subject = CASE WHEN excluded.subject = '' THEN subject
                                      ELSE excluded.subject END,
                       language = excluded.language,
                       last_message_id = coalesce(excluded.last_message_id, last_message_id),
                       refs = CASE WHEN excluded.last_message_id IS NULL THEN refs
                                   ELSE excluded.refs END,
                       options = '[]', updated_at = excluded.updated_at""",
                (
                    conversation_id, address, name, subject, language, message_id,
                    json.dumps(_unique(chain)[-MAX_REFERENCES:]), time.time(),
                ),
            )  # fmt: skip
        return True

    def record_outbound(
        self,
        conversation_id: str,
        message_id: str,
        *,
        options: list[dict[str, str]] | None = None,
        ticket_id: int | None = None,
    ) -> None:
        """Adds our mail to the thread; `options` replace the offered ones
        when given."""
        with self._connect() as db:
            self._insert_message(db, message_id, conversation_id, "out")
            row = db.execute(
                "SELECT refs FROM conversations WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                return
            chain = _unique([*json.loads(row[0]), message_id])[-MAX_REFERENCES:]
            db.execute(
                """UPDATE conversations SET refs = ?, updated_at = ?,
                       options = coalesce(?, options), ticket_id = coalesce(?, ticket_id)
                   WHERE conversation_id = ?""",
                (
                    json.dumps(chain),
                    time.time(),
                    None if options is None else json.dumps(options),
                    ticket_id,
                    conversation_id,
                ),
            )

    def thread(self, conversation_id: str) -> Thread | None:
        with self._connect() as db:
            row = db.execute(
                """SELECT conversation_id, address, name, subject, language, last_message_id,
                          refs, options, ticket_id
                   FROM conversations WHERE conversation_id = ?""",
                (conversation_id,),
            ).fetchone()
        if row is None:
            return None
        return Thread(*row[:6], tuple(json.loads(row[6])), tuple(json.loads(row[7])), row[8])

    @staticmethod
    def _insert_message(
        db: sqlite3.Connection, message_id: str, conversation_id: str, direction: str
    ) -> bool:
        cursor = db.execute(
            "INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?)",
            (message_id, conversation_id, direction, time.time()),
        )
        return cursor.rowcount == 1

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))
