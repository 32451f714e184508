"""Reports for analysts.

    python -m analytics report --since 2026-11-01 --until 2026-11-30 --out reports/

The tracker store comes from endpoints.yml and the tickets from the bridge's
settings (HANDOFF_DATABASE_URL, else var/handoff.db), unless --tracker-url /
--tickets-url say otherwise. Re-runs read only events added since the last
run (the checkpoint is in var/analytics/); --full starts over.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

from analytics.config import (
    PROJECT,
    checked_url,
    tickets_url_from_settings,
    tracker_url_from_endpoints,
)
from analytics.errors import AnalyticsError, ConfigError
from analytics.period import MAX_PERIOD_DAYS, Period, parse_date
from analytics.reports.base import FILTERABLE, Thresholds
from analytics.warehouse import default_path

logger = logging.getLogger("analytics")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m analytics", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="write the HTML, CSV, XLSX and JSON report")
    report.add_argument("--since", required=True, help="first day, e.g. 2026-11-01")
    report.add_argument("--until", required=True, help="last day (included)")
    report.add_argument("--out", type=Path, default=Path("reports"), help="output directory")
    report.add_argument("--tracker-url", help="SQLAlchemy URL of Rasa's SQL tracker store")
    report.add_argument("--tickets-url", help="SQLAlchemy URL of the bridge's ticket database")
    report.add_argument("--endpoints", type=Path, default=PROJECT / "endpoints.yml")
    report.add_argument(
        "--report-language", "--lang", choices=["zh", "en"], default="zh",
        help="the language the report is written in",
    )  # fmt: skip
    report.add_argument("--timezone", default="Asia/Shanghai")
    report.add_argument(
        "--max-days", type=int, default=MAX_PERIOD_DAYS,
        help=f"the longest period a report may cover (default {MAX_PERIOD_DAYS})",
    )  # fmt: skip
    for name in FILTERABLE:
        report.add_argument(f"--{name}", help=f"only conversations and tickets of this {name}")
    report.add_argument("--low-confidence", type=float, default=Thresholds.low_confidence)
    report.add_argument(
        "--sla-first-response", type=float, default=Thresholds.sla_first_response_seconds,
        help="seconds (default 300)",
    )  # fmt: skip
    report.add_argument(
        "--sla-queue-wait", type=float, default=Thresholds.sla_queue_wait_seconds,
        help="seconds (default 120)",
    )  # fmt: skip
    report.add_argument(
        "--sla-resolution", type=float, default=Thresholds.sla_resolution_seconds,
        help="seconds (default 86400)",
    )  # fmt: skip
    report.add_argument("--state", type=Path, help="the incremental state database")
    report.add_argument("--full", action="store_true", help="ignore the checkpoint")
    report.add_argument("--quiet", action="store_true", help="no progress bars")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return run_report(args)
    except AnalyticsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run_report(args: argparse.Namespace) -> int:
    from analytics.output import write_report
    from analytics.report import ReportRequest, build_report

    period = Period(
        parse_date(args.since, "--since"),
        parse_date(args.until, "--until"),
        args.timezone,
        max_days=args.max_days,
    )
    thresholds = checked_thresholds(args)
    tracker_url = checked_url(
        args.tracker_url or tracker_url_from_endpoints(args.endpoints), "tracker store"
    )
    tickets_url = args.tickets_url or tickets_url_from_settings()
    if args.tickets_url:
        checked_url(tickets_url, "ticket database")
    else:
        try:
            checked_url(tickets_url, "ticket database")
        except AnalyticsError as error:
            logger.warning("%s The ticket sections will be empty.", error)
            tickets_url = None
    built = build_report(
        ReportRequest(
            tracker_url=tracker_url,
            tickets_url=tickets_url,
            warehouse_path=args.state or default_path(PROJECT / "var" / "analytics", tracker_url),
            period=period,
            filters={name: getattr(args, name) for name in FILTERABLE if getattr(args, name)},
            thresholds=thresholds,
            language=args.report_language,
            full=args.full,
            progress=not args.quiet,
        )
    )
    gaps = args.out / "knowledge_gaps.yml"
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        paths = write_report(built.report, args.out)
        gaps.write_text(built.gaps_yaml, encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"Cannot write the report to {args.out}: {error.strerror or error}."
        ) from error
    ingest = built.ingest
    skipped = f"; corrupted rows skipped: {ingest.corrupted_rows}" if ingest.corrupted_rows else ""
    print(
        f"Read {ingest.events_read} events into {ingest.conversations} conversations "
        f"({'incremental' if ingest.incremental else 'full'}{skipped}).",
        file=sys.stderr,
    )
    for kind, path in {**paths, "knowledge_gaps": gaps}.items():
        print(f"{kind}: {path}")
    return 0


def checked_thresholds(args: argparse.Namespace) -> Thresholds:
    """A confidence is a probability and an SLA a positive time: anything
    else gives a report that looks right and is not."""
    if not 0 <= args.low_confidence <= 1:
        raise ConfigError(f"--low-confidence must be from 0 to 1, not {args.low_confidence}.")
    for option in ("sla_first_response", "sla_queue_wait", "sla_resolution"):
        seconds = getattr(args, option)
        if not (0 < seconds < math.inf):
            flag = "--" + option.replace("_", "-")
            raise ConfigError(f"{flag} must be more than 0 seconds, not {seconds}.")
    return Thresholds(
        low_confidence=args.low_confidence,
        sla_first_response_seconds=args.sla_first_response,
        sla_queue_wait_seconds=args.sla_queue_wait,
        sla_resolution_seconds=args.sla_resolution,
    )


if __name__ == "__main__":
    sys.exit(main())
