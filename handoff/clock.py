"""Time in the bridge: naive UTC everywhere in the database, ISO 8601 with a
`Z` on the wire. SQLite keeps no time zone, so storing UTC keeps both
backends identical for the analytics."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def isoformat(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds") + "Z"


def from_timestamp(timestamp: float) -> datetime:
    """A Rasa event's Unix timestamp as the bridge's naive UTC."""
    return datetime.fromtimestamp(float(timestamp), UTC).replace(tzinfo=None)
