"""The analytics over a tracker store and ticket database written by the
real system: Rasa, the action server and the bridge on loopback."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from analytics.period import Period
from analytics.report import ReportRequest, build_report
from analytics.warehouse import conversations, messages
from tests.integration.conftest import HandoffStack

pytestmark = pytest.mark.integration


def test_a_report_over_real_conversations(handoff_stack: HandoffStack, tmp_path):
    stack, assistant = handoff_stack, handoff_stack.assistant
    faq, lost = f"faq-{uuid.uuid4().hex[:8]}", f"lost-{uuid.uuid4().hex[:8]}"
    assert assistant.texts(faq, "退货运费谁出")
    assistant.say(faq, "谢谢")

    name = f"analyst-agent-{uuid.uuid4().hex[:6]}"
    stack.create_agent(name, "password-123")
    agent = stack.login(name, "password-123")
    presence = f"{stack.bridge_url}/api/agents/me/presence"
    agent.put(presence, json={"presence": "online"}, timeout=10).raise_for_status()
    try:
        assistant.say(lost, "qwpoeiru zmxncbv")
        assistant.say(lost, "lkjhgf poiuyt")
        assistant.say(lost, "yes please")
        ticket_id = int(assistant.slots(lost)["ticket_id"])
        agent.post(
            f"{stack.bridge_url}/api/tickets/{ticket_id}/claim", timeout=30
        ).raise_for_status()
        agent.post(
            f"{stack.bridge_url}/api/tickets/{ticket_id}/messages",
            json={"text": "Hi, I'm here to help."},
            timeout=30,
        ).raise_for_status()
        agent.patch(
            f"{stack.bridge_url}/api/tickets/{ticket_id}/status",
            json={"status": "resolved"},
            timeout=30,
        ).raise_for_status()
    finally:
        agent.put(presence, json={"presence": "offline"}, timeout=10)
    assistant.say(lost, "5")
    assistant.say(lost, "no")
    assert stack.ticket(ticket_id)["csat"]["score"] == 5

    today = datetime.now(UTC).date()
    built = build_report(
        ReportRequest(
            tracker_url=f"sqlite:///{assistant.tracker_db}",
            tickets_url=stack.database_url,
            warehouse_path=tmp_path / "warehouse.db",
            period=Period(today - timedelta(days=1), today + timedelta(days=1), "UTC"),
            progress=False,
        )
    )
    warehouse = create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    with warehouse.connect() as db:
        rows = {
            row.sender_id: row
            for row in db.execute(
                select(conversations).where(conversations.c.sender_id.in_([faq, lost]))
            )
        }
        asked = db.execute(
            select(messages.c.intent, messages.c.faq_key).where(messages.c.sender_id == faq)
        ).all()
    assert (rows[faq].handoff, rows[faq].language, rows[faq].channel) == (False, "zh", "rest")
    assert asked[0].intent == "faq" and asked[0].faq_key
    assert (rows[lost].handoff, rows[lost].handoff_reason, rows[lost].escalated) == (
        True, "fallback", True,
    )  # fmt: skip
    assert rows[lost].agent_messages >= 1 and rows[lost].fallbacks >= 2
    assert rows[lost].language == "en"

    sections = {section.name: section for section in built.report.sections}
    distribution = {table.name: table.rows for table in sections["satisfaction"].tables}[
        "csat_distribution"
    ]
    assert {row[0]: row[1] for row in distribution}["5"] >= 1
    quality = {metric.name: metric.value for metric in sections["quality"].metrics}
    assert 0 < quality["handoff_rate"] < 1
    assert built.report.stats["corrupted_rows"] == 0
