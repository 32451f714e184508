"""Small tracker stores and ticket databases written event by event, so
every figure a test expects can be computed by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from handoff.migrations import upgrade

EVENTS_DDL = """
CREATE TABLE events (
    id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)
"""


def at(day: int, hour: int = 10, minute: int = 0, second: float = 0) -> float:
    """A moment in November 2026, UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC).timestamp() + second


@dataclass
class TrackerBuilder:
    """Writes events as Rasa's SQL tracker store does (json.dumps)."""

    rows: list[tuple[str, str, float, str | None, str | None, str]] = field(default_factory=list)

    def event(self, sender: str, kind: str, moment: float, **data: Any) -> TrackerBuilder:
        payload = {"event": kind, "timestamp": moment, **data}
        intent = (
            data.get("parse_data", {}).get("intent", {}).get("name") if kind == "user" else None
        )
        action = data.get("name") if kind == "action" else None
        self.rows.append((sender, kind, moment, intent, action, json.dumps(payload)))
        return self

    def session(self, sender: str, moment: float) -> TrackerBuilder:
        self.event(sender, "action", moment, name="action_session_start")
        self.event(sender, "session_started", moment)
        return self.event(sender, "action", moment, name="action_listen")

    def user(
        self,
        sender: str,
        moment: float,
        text_: str,
        intent: str,
        confidence: float = 0.9,
        channel: str = "rest",
        faq: tuple[str, float] | None = None,
    ) -> TrackerBuilder:
        parse = {"text": text_, "intent": {"name": intent, "confidence": confidence}}
        if faq:
            parse["faq"] = {"key": faq[0], "confidence": faq[1]}
        return self.event(
            sender, "user", moment, text=text_, input_channel=channel, parse_data=parse
        )

    def bot(self, sender: str, moment: float, agent_id: int | None = None) -> TrackerBuilder:
        metadata = {"agent_id": agent_id} if agent_id else {"utter_action": "utter_x"}
        return self.event(sender, "bot", moment, text="…", metadata=metadata)

    def action(self, sender: str, moment: float, name: str) -> TrackerBuilder:
        return self.event(sender, "action", moment, name=name)

    def slot(self, sender: str, moment: float, name: str, value: Any) -> TrackerBuilder:
        return self.event(sender, "slot", moment, name=name, value=value)

    def write(self, url: str) -> None:
        engine = create_engine(url, future=True)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS events")
            connection.exec_driver_sql(
                EVENTS_DDL.replace("INTEGER PRIMARY KEY", "SERIAL PRIMARY KEY")
                if engine.dialect.name == "postgresql"
                else EVENTS_DDL
            )
            connection.execute(
                text(
                    "INSERT INTO events (sender_id, type_name, timestamp, intent_name,"
                    " action_name, data) VALUES (:s, :k, :t, :i, :a, :d)"
                ),
                [dict(zip("sktiad", row, strict=True)) for row in self.rows],
            )
        engine.dispose()


def write_tickets(url: str, tickets: list[dict[str, Any]], transfers: list[int] = ()) -> None:
    """The bridge's schema (its own migrations), two agents, the tickets."""
    upgrade(url)
    engine = create_engine(url, future=True)
    now = datetime(2026, 1, 1)
    with engine.begin() as connection:
        for agent_id, name in ((1, "王芳"), (2, "Alice")):
            connection.execute(
                text(
                    "INSERT INTO agents (id, username, display_name, password_hash, role, skills,"
                    " languages, capacity, presence, presence_changed_at, created_at) VALUES"
                    " (:id, :u, :n, 'x', 'agent', '[]', '[]', 3, 'offline', :t, :t)"
                ),
                {"id": agent_id, "u": f"agent{agent_id}", "n": name, "t": now},
            )
        for number, ticket in enumerate(tickets, 1):
            values = {
                "id": number, "conversation_id": "c", "channel": "rest", "title": "t",
                "description": "", "category": "general", "priority": "normal",
                "language": "zh", "status": "pending", "assignee_id": None,
                "queued_at": None, "assigned_at": None, "first_response_at": None,
                "resolved_at": None, "abandoned_at": None, "csat_score": None,
                "csat_comment": None, "csat_at": None, **ticket,
            }  # fmt: skip
            for name, value in values.items():
                if name.endswith("_at") and isinstance(value, float):
                    values[name] = datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
            values["updated_at"] = values["created_at"]
            connection.execute(
                text(
                    "INSERT INTO tickets (id, conversation_id, channel, title, description,"
                    " category, priority, language, source, skill_group, status, live,"
                    " assignee_id, skipped_agent_ids, context, created_at, updated_at, queued_at,"
                    " assigned_at, first_response_at, resolved_at, abandoned_at, csat_score,"
                    " csat_comment, csat_at) VALUES (:id, :conversation_id, :channel, :title,"
                    " :description, :category, :priority, :language, 'assistant', :category,"
                    " :status, false, :assignee_id, '[]', '{}', :created_at, :updated_at,"
                    " :queued_at, :assigned_at, :first_response_at, :resolved_at, :abandoned_at,"
                    " :csat_score, :csat_comment, :csat_at)"
                ),
                values,
            )
        for ticket_id in transfers:
            connection.execute(
                text(
                    "INSERT INTO ticket_events (ticket_id, at, name, actor, agent_id, details)"
                    " VALUES (:t, :at, 'ticket.transferred', 'agent:agent1', 1, '{}')"
                ),
                {"t": ticket_id, "at": datetime(2026, 11, 3, 12)},
            )
    engine.dispose()


@pytest.fixture
def tmp_sqlite(tmp_path: Path):
    def url(name: str) -> str:
        return f"sqlite:///{tmp_path / name}"

    return url
