"""The analytics' errors: each says what is wrong and what to do."""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base of every error the report command explains to the analyst."""


class SourceError(AnalyticsError):
    """A database cannot be reached or does not hold what it should."""


class ConfigError(AnalyticsError):
    """endpoints.yml, the bridge settings or the command line are unusable."""
