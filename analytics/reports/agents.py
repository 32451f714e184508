"""Agents: conversations handled, average handling time, CSAT and transfers."""

from __future__ import annotations

from collections import defaultdict

from analytics.model import Chart, ChartKind, Section, Table
from analytics.reports.base import ReportContext, average


class AgentsReport:
    def __init__(self, context: ReportContext) -> None:
        self.context = context

    def build(self) -> Section:
        c = self.context
        handled: dict[str, int] = defaultdict(int)
        resolved: dict[str, int] = defaultdict(int)
        handling: dict[str, list[float]] = defaultdict(list)
        scores: dict[str, list[int]] = defaultdict(list)
        for ticket in c.ticket_facts:
            if ticket.agent is None or ticket.assigned_at is None:
                continue
            handled[ticket.agent] += 1
            if ticket.resolved_at is not None and ticket.resolved_at >= ticket.assigned_at:
                resolved[ticket.agent] += 1
                handling[ticket.agent].append(ticket.resolved_at - ticket.assigned_at)
            if ticket.csat_score is not None:
                scores[ticket.agent].append(ticket.csat_score)
        transfers = c.tickets.transfers_by_agent(c.period) if c.tickets else {}
        names = sorted(
            set(handled) | set(transfers), key=lambda name: (-handled.get(name, 0), name)
        )
        rows = [
            [
                name,
                handled.get(name, 0),
                resolved.get(name, 0),
                average(handling[name]),
                average(scores[name]),
                len(scores[name]),
                transfers.get(name, 0),
            ]
            for name in names
        ]
        return Section(
            name="agents",
            tables=[
                Table(
                    name="agent_performance",
                    title="agent_performance",
                    columns=[
                        "agent",
                        "handled",
                        "resolved",
                        "average_handling_time",
                        "csat_average",
                        "csat_responses",
                        "transfers",
                    ],
                    rows=rows,
                    chart=Chart(ChartKind.BAR, "agent", ("handled", "resolved")),
                    formats={"average_handling_time": "seconds"},
                    note="note_agent_performance",
                )
            ],
        )
