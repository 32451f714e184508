"""Synthetic but realistic data: a Rasa tracker store and a bridge ticket
database of N conversations across channels and languages, with FAQ
questions, forms, fallbacks, handoffs, agent replies and CSAT.

For benchmarks and demos (`bench/analytics.py`); tests build their own
small, hand-computed stores instead.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from analytics.reports.quality import HANDOFF_REASONS

CHANNELS = (("socketio", 0.5), ("rest", 0.2), ("wechat", 0.2), ("telegram", 0.1))
QUESTIONS = {
    "zh": [
        ("faq", "faq/shipping_time", "一般几天能到货", "shipping"),
        ("faq", "faq/returns_shipping_fee", "退货运费谁出", "after_sales"),
        ("faq", "faq/payment_methods", "支持哪些付款方式", "pre_sales"),
        ("faq", "faq/invoice_electronic", "可以开电子发票吗", "after_sales"),
        ("order_status", None, "我的订单到哪了", "order_logistics"),
        ("return_refund", None, "我要退货退款", "after_sales"),
        ("tech_support", None, "app登录不上去怎么办", "technical"),
        ("product_consult", None, "这款耳机降噪效果怎么样", "pre_sales"),
        ("complaint", None, "快递太慢了我要投诉", "complaint"),
    ],
    "en": [
        ("faq", "faq/shipping_time", "how long does delivery take", "shipping"),
        ("faq", "faq/returns_shipping_fee", "who pays for return shipping", "after_sales"),
        ("faq", "faq/payment_methods", "which payment methods do you accept", "pre_sales"),
        ("order_status", None, "where is my order", "order_logistics"),
        ("return_refund", None, "I want a refund", "after_sales"),
        ("tech_support", None, "I can't log in to the app", "technical"),
    ],
}
UNANSWERED = {
    "zh": ["你们支持数字人民币吗", "数字人民币可以付款吗", "能用数字人民币支付吗", "能寄到火星吗"],
    "en": ["do you accept crypto", "can I pay with bitcoin", "do you ship to mars"],
}
CATEGORY_OF = {"shipping": "order_logistics"}


@dataclass
class SyntheticStats:
    conversations: int = 0
    events: int = 0
    tickets: int = 0


class EventWriter:
    """Appends events in Rasa's SQL tracker store format."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.rows: list[tuple] = []
        self.count = 0

    def add(self, sender: str, kind: str, at: float, **data: object) -> None:
        payload = {"event": kind, "timestamp": at, **data}
        intent = (
            (data.get("parse_data") or {}).get("intent", {}).get("name") if kind == "user" else None
        )
        action = data.get("name") if kind == "action" else None
        # As Rasa's SQL tracker store writes it: json.dumps with its defaults.
        self.rows.append((sender, kind, at, intent, action, json.dumps(payload)))
        if len(self.rows) >= 20_000:
            self.flush()

    def flush(self) -> None:
        self.connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            self.rows,
        )
        self.count += len(self.rows)
        self.rows.clear()


def create_tracker_store(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE IF NOT EXISTS events (
            id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL,
            type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255),
            action_name VARCHAR(255), data TEXT);
        CREATE INDEX IF NOT EXISTS ix_events_sender_id ON events (sender_id);
        """
    )
    return connection


def parse_data(text: str, intent: str, confidence: float, faq_key: str | None) -> dict:
    """Like our pipeline's output, including the FAQ ranking that makes real
    user events a few kilobytes."""
    ranking = [
        {"key": faq_key or "faq/shipping_time", "score": round(confidence * 10, 4),
         "question": {"zh": "一般几天能到货", "en": "how long does delivery take"}}
    ] * 5  # fmt: skip
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [],
        "intent_ranking": [{"name": intent, "confidence": confidence}] * 5,
        "faq": {"key": faq_key, "confidence": confidence, "ranking": ranking} if faq_key else {},
        "urgency": {"urgent": intent == "complaint", "reasons": [], "terms": []},
    }


def generate(
    tracker_path: Path,
    tickets_url: str | None,
    conversations: int,
    *,
    start: datetime,
    days: int = 28,
    seed: int = 7,
    first_sender: int = 0,
) -> SyntheticStats:
    """Writes `conversations` conversations spread over `days` from `start`."""
    rng = random.Random(seed)
    stats = SyntheticStats()
    connection = create_tracker_store(tracker_path)
    writer = EventWriter(connection)
    tickets: list[dict] = []
    base = start.replace(tzinfo=UTC).timestamp()
    for number in range(first_sender, first_sender + conversations):
        sender = f"user-{number}"
        at = base + rng.random() * days * 86400
        language = "zh" if rng.random() < 0.75 else "en"
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        at = _conversation(writer, rng, sender, at, language, channel, tickets)
        stats.conversations += 1
    writer.flush()
    connection.commit()
    connection.close()
    stats.events = writer.count
    if tickets_url:
        stats.tickets = _write_tickets(tickets_url, tickets, rng)
    return stats


def _conversation(writer, rng, sender, at, language, channel, tickets) -> float:
    add = writer.add
    add(sender, "action", at, name="action_session_start", policy=None, confidence=1.0)
    add(sender, "session_started", at)
    add(sender, "action", at, name="action_listen", policy=None, confidence=None)
    turns = rng.randint(1, 4)
    category = None
    for _ in range(turns):
        at += rng.uniform(5, 60)
        if rng.random() < 0.12:
            text = rng.choice(UNANSWERED[language])
            intent, confidence, faq_key, topic = "nlu_fallback", rng.uniform(0.1, 0.39), None, None
        else:
            intent, faq_key, text, topic = rng.choice(QUESTIONS[language])
            confidence = rng.uniform(0.35, 0.99)
        add(sender, "user", at, text=text, input_channel=channel, message_id=f"{sender}-{at}",
            parse_data=parse_data(text, intent, confidence, faq_key), metadata={})  # fmt: skip
        add(sender, "user_featurization", at, use_text_for_featurization=False)
        add(sender, "slot", at, name="language", value=language)
        if topic:
            category = CATEGORY_OF.get(topic, topic)
            add(sender, "slot", at, name="category", value=category)
        action = "action_clarify" if intent == "nlu_fallback" else "action_answer_faq"
        at += rng.uniform(0.2, 1.5)
        add(sender, "action", at, name=action, policy="RulePolicy", confidence=1.0)
        add(sender, "bot", at, text="……", data={}, metadata={"utter_action": "utter_x"})
        add(sender, "action", at, name="action_listen", policy="RulePolicy", confidence=1.0)
    if rng.random() < 0.2:
        at = _handoff(writer, rng, sender, at, language, channel, category, tickets)
    return at


def _handoff(writer, rng, sender, at, language, channel, category, tickets) -> float:
    add = writer.add
    reason = rng.choice(HANDOFF_REASONS)
    text = "转人工" if language == "zh" else "human please"
    at += rng.uniform(5, 30)
    add(sender, "user", at, text=text, input_channel=channel, message_id=f"{sender}-h",
        parse_data=parse_data(text, "request_human", 0.97, None), metadata={})  # fmt: skip
    add(sender, "action", at, name="action_request_human", policy="RulePolicy", confidence=1.0)
    add(sender, "bot", at, text="……", data={}, metadata={"utter_action": "utter_handoff_queued"})
    add(sender, "slot", at, name="handoff_reason", value=reason)
    add(sender, "pause", at)
    created = at
    queued = at
    wait = rng.expovariate(1 / 90)
    abandoned = rng.random() < 0.1
    ticket = {
        "conversation_id": sender, "channel": channel, "category": category or "general",
        "priority": "urgent" if reason == "urgent" else "normal", "language": language,
        "handoff_reason": reason, "created_at": created, "queued_at": queued,
        "assignee": rng.randint(1, 8), "abandoned_at": None, "status": "pending",
    }  # fmt: skip
    if abandoned:
        ticket["abandoned_at"] = queued + 900
        tickets.append(ticket)
        return at
    assigned = queued + wait
    first_response = assigned + rng.uniform(5, 200)
    at = first_response
    add(sender, "bot", at, text="您好", data={}, metadata={"agent_id": ticket["assignee"]})
    for _ in range(rng.randint(1, 3)):
        at += rng.uniform(10, 120)
        add(sender, "user", at, text="好的谢谢", input_channel=channel, message_id=f"{sender}-{at}",
            parse_data=parse_data("好的谢谢", "thanks", 0.9, None), metadata={})  # fmt: skip
        at += rng.uniform(10, 120)
        add(sender, "bot", at, text="不客气", data={}, metadata={"agent_id": ticket["assignee"]})
    resolved = at + rng.uniform(10, 600)
    add(sender, "resume", resolved)
    add(sender, "action", resolved, name="action_listen", policy=None, confidence=None)
    score = rng.choices([1, 2, 3, 4, 5], [1, 1, 2, 4, 6])[0] if rng.random() < 0.7 else None
    ticket.update(
        status="resolved", assigned_at=assigned, first_response_at=first_response,
        resolved_at=resolved, csat_score=score,
        csat_comment=rng.choice([None, "很耐心", "too slow", "解决得很快"]) if score else None,
        csat_at=resolved + 30 if score else None,
    )  # fmt: skip
    tickets.append(ticket)
    return resolved


def _write_tickets(url: str, tickets: list[dict], rng: random.Random) -> int:
    """Creates the bridge's schema with its own migrations, then the rows."""
    from sqlalchemy import create_engine, text

    from handoff.migrations import upgrade

    upgrade(url)
    engine = create_engine(url, future=True)

    def moment(value: float | None) -> datetime | None:
        return None if value is None else datetime.fromtimestamp(value, UTC).replace(tzinfo=None)

    with engine.begin() as connection:
        for number in range(1, 9):
            connection.execute(
                text(
                    "INSERT INTO agents (id, username, display_name, password_hash, role, skills,"
                    " languages, capacity, presence, presence_changed_at, created_at) VALUES"
                    " (:id, :u, :n, 'x', 'agent', '[]', '[\"zh\", \"en\"]', 3, 'offline', :t, :t)"
                ),
                {
                    "id": number,
                    "u": f"agent{number}",
                    "n": f"客服{number}号",
                    "t": datetime(2026, 1, 1),
                },
            )
        rows = [
            {
                "conversation_id": t["conversation_id"], "channel": t["channel"],
                "title": "synthetic", "description": "", "category": t["category"],
                "priority": t["priority"], "language": t["language"],
                "handoff_reason": t["handoff_reason"], "status": t["status"],
                "assignee_id": t["assignee"] if t.get("assigned_at") else None,
                "created_at": moment(t["created_at"]), "updated_at": moment(t["created_at"]),
                "queued_at": moment(t["queued_at"]), "assigned_at": moment(t.get("assigned_at")),
                "first_response_at": moment(t.get("first_response_at")),
                "resolved_at": moment(t.get("resolved_at")),
                "abandoned_at": moment(t.get("abandoned_at")),
                "csat_score": t.get("csat_score"), "csat_comment": t.get("csat_comment"),
                "csat_at": moment(t.get("csat_at")),
            }
            for t in tickets
        ]  # fmt: skip
        if rows:
            connection.execute(
                text(
                    "INSERT INTO tickets (conversation_id, channel, title, description, category,"
                    " priority, language, handoff_reason, source, skill_group, status, live,"
                    " assignee_id, skipped_agent_ids, context, created_at, updated_at, queued_at,"
                    " assigned_at, first_response_at, resolved_at, abandoned_at, csat_score,"
                    " csat_comment, csat_at) VALUES (:conversation_id, :channel, :title,"
                    " :description, :category, :priority, :language, :handoff_reason, 'assistant',"
                    " :category, :status, false, :assignee_id, '[]', '{}', :created_at,"
                    " :updated_at, :queued_at, :assigned_at, :first_response_at, :resolved_at,"
                    " :abandoned_at, :csat_score, :csat_comment, :csat_at)"
                ),
                rows,
            )
    engine.dispose()
    return len(tickets)
