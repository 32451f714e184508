"""summary.json: the whole report as plain JSON, for scripts and dashboards.

Keys are the stable names, never the translated labels. Values are made
JSON-safe: NaN and infinity become null and floats are rounded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from analytics.model import Report

FLOAT_DECIMALS = 4  # keeps 12.34 % (0.1234) and sub-second durations


def build_summary(report: Report) -> dict[str, Any]:
    return json_safe(
        {
            "period": {"since": report.since, "until": report.until},
            "language": report.language,
            "filters": report.filters,
            "generated_at": report.generated_at,
            "warnings": report.warnings,
            "stats": report.stats,
            "sections": {
                section.name: {
                    "metrics": {metric.name: metric.value for metric in section.metrics},
                    "tables": {table.name: table.as_records() for table in section.tables},
                }
                for section in report.sections
            },
        }
    )


def write_summary(report: Report, path: Path) -> Path:
    text = json.dumps(build_summary(report), ensure_ascii=False, indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def json_safe(value: Any) -> Any:
    """`value` as JSON types only; anything unknown becomes its string."""
    match value:
        case None | bool() | int() | str():
            return value
        case float():
            return round(value, FLOAT_DECIMALS) if math.isfinite(value) else None
        case Decimal():
            return json_safe(float(value))
        case Enum():
            return json_safe(value.value)
        case dt.datetime() | dt.date() | dt.time():
            return value.isoformat()
        case dt.timedelta():
            return json_safe(value.total_seconds())
        case dict():
            return {str(key): json_safe(item) for key, item in value.items()}
        case list() | tuple():
            return [json_safe(item) for item in value]
        case set() | frozenset():
            return sorted((json_safe(item) for item in value), key=str)
        case Path():
            return str(value)
        case _ if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return json_safe(dataclasses.asdict(value))
        case _:
            return str(value)
