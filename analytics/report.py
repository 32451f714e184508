"""Builds a whole report: brings the warehouse up to date with the tracker
store, reads the tickets, and runs every section's builder."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from analytics.errors import SourceError
from analytics.ingest import IngestResult, TrackerIngester
from analytics.model import Report
from analytics.period import Period
from analytics.reports.agents import AgentsReport
from analytics.reports.base import ReportContext, Thresholds
from analytics.reports.channels import ChannelsReport
from analytics.reports.gaps import KnowledgeGapsReport
from analytics.reports.quality import QualityReport
from analytics.reports.questions import QuestionsReport
from analytics.reports.satisfaction import SatisfactionReport
from analytics.reports.service import ServiceReport
from analytics.reports.volume import VolumeReport
from analytics.tickets import TicketSource
from analytics.warehouse import Warehouse

logger = logging.getLogger(__name__)


@dataclass
class ReportRequest:
    tracker_url: str
    tickets_url: str | None
    warehouse_path: Path
    period: Period
    filters: dict[str, str] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    language: str = "zh"
    full: bool = False
    progress: bool = True


@dataclass
class BuiltReport:
    report: Report
    gaps_yaml: str
    ingest: IngestResult


def connect(url: str, what: str) -> Engine:
    """An engine that has answered once, so a wrong URL fails here, clearly."""
    try:
        engine = create_engine(url, future=True)
        with engine.connect():
            pass
    except OperationalError as error:
        shown = make_url(url).render_as_string(hide_password=True)
        raise SourceError(f"Cannot connect to the {what} at {shown}: {error.orig}") from error
    return engine


def build_report(request: ReportRequest) -> BuiltReport:
    tracker = connect(request.tracker_url, "tracker store")
    warehouse = Warehouse(request.warehouse_path)
    source = make_url(request.tracker_url).render_as_string(hide_password=True)
    ingest = TrackerIngester(
        tracker=tracker, warehouse=warehouse, source=source, progress=request.progress
    ).run(full=request.full)
    tickets = None
    warnings = []
    if request.tickets_url:
        tickets = TicketSource(connect(request.tickets_url, "ticket database"))
    else:
        warnings.append("no_ticket_database")
    context = ReportContext(
        warehouse=warehouse.engine,
        period=request.period,
        filters=request.filters,
        thresholds=request.thresholds,
        tickets=tickets,
        ticket_facts=list(tickets.created_in(request.period, request.filters)) if tickets else [],
        language=request.language,
    )
    gaps = KnowledgeGapsReport(context)
    sections = [
        VolumeReport(context).build(),
        QuestionsReport(context).build(),
        QualityReport(context).build(),
        gaps.build(),
        ServiceReport(context).build(),
        AgentsReport(context).build(),
        SatisfactionReport(context).build(),
        ChannelsReport(context).build(),
    ]
    if ingest.corrupted_rows_total:
        warnings.append("corrupted_rows")
    if not sections[0].metrics[0].value:
        warnings.append("empty_period")
    report = Report(
        since=request.period.since.isoformat(),
        until=request.period.until.isoformat(),
        language=request.language,
        filters=dict(request.filters),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        sections=sections,
        warnings=warnings,
        stats={
            "timezone": request.period.timezone,
            "events_read": ingest.events_read,
            "incremental": ingest.incremental,
            "corrupted_rows": ingest.corrupted_rows_total,
            "last_event_id": ingest.last_event_id,
            "tickets": len(context.ticket_facts),
        },
    )
    tracker.dispose()
    return BuiltReport(report, gaps.candidates_yaml(), ingest)
