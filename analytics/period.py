"""The report's period, in an explicit time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analytics.errors import ConfigError

# Rasa's timestamps start in 1970, and the day after the last one must
# still be a date in every time zone.
EARLIEST = date(1970, 1, 1)
LATEST = date(9998, 12, 31)
# Each day of the period is a bucket in every daily table: 10 years take a
# few seconds, thousands of years took minutes and gigabytes (--max-days).
MAX_PERIOD_DAYS = 3660


@dataclass(frozen=True)
class Period:
    """From the start of `since` to the end of `until` (both included)."""

    since: date
    until: date
    timezone: str = "UTC"
    max_days: int = MAX_PERIOD_DAYS

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise ConfigError(f"--until {self.until} is before --since {self.since}.")
        if (days := (self.until - self.since).days + 1) > self.max_days:
            raise ConfigError(
                f"The period has {days} days; a report covers at most {self.max_days} days "
                "(--max-days)."
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ConfigError(f"Unknown time zone {self.timezone!r}.") from error

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start(self) -> float:
        return datetime.combine(self.since, time(), self.zone).timestamp()

    @property
    def end(self) -> float:
        return datetime.combine(self.until + timedelta(days=1), time(), self.zone).timestamp()

    @property
    def offset_seconds(self) -> int:
        """The zone's UTC offset at the period's start, used to bucket times
        in SQL (exact for zones without daylight saving, like China's)."""
        offset = datetime.combine(self.since, time(), self.zone).utcoffset()
        return int(offset.total_seconds()) if offset else 0

    def start_utc(self) -> datetime:
        return datetime.fromtimestamp(self.start, UTC).replace(tzinfo=None)

    def end_utc(self) -> datetime:
        return datetime.fromtimestamp(self.end, UTC).replace(tzinfo=None)

    def days(self) -> list[str]:
        count = (self.until - self.since).days + 1
        return [(self.since + timedelta(days=i)).isoformat() for i in range(count)]

    def weeks(self) -> list[str]:
        """Mondays of the weeks the period touches."""
        monday = self.since - timedelta(days=self.since.weekday())
        weeks = []
        while monday <= self.until:
            weeks.append(monday.isoformat())
            monday += timedelta(days=7)
        return weeks


def parse_date(value: str, option: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ConfigError(f"{option} must be a date like 2026-11-01, not {value!r}.") from error
    if not EARLIEST <= day <= LATEST:
        raise ConfigError(f"{option} must be a date from {EARLIEST} to {LATEST}, not {value!r}.")
    return day
