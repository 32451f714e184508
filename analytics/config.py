"""Where the data is: the tracker store from endpoints.yml, the tickets from
the bridge's settings, unless URLs are given on the command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from analytics.errors import ConfigError
from cloudpick_home import PROJECT

DEFAULT_TICKETS_URL = f"sqlite:///{PROJECT / 'var' / 'handoff.db'}"
SQL_DIALECT_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}
# Rasa's own SQL store and ours (addons/tracker_store.py) share the tables.
_SQL_TRACKER_STORE_TYPES = {"sql", "addons.tracker_store.sqltrackerstore"}


def _is_sql_tracker_store(store: dict[str, Any]) -> bool:
    """Whether an endpoints.yml `tracker_store` section is Rasa's SQL store."""
    return str(store.get("type", "")).lower() in _SQL_TRACKER_STORE_TYPES


def tracker_url_from_endpoints(path: Path) -> str:
    """Rasa's SQL tracker store settings as an SQLAlchemy URL; relative
    SQLite paths are relative to the project, where Rasa runs."""
    try:
        text = os.path.expandvars(path.read_text(encoding="utf-8"))
        endpoints = yaml.safe_load(text) or {}
    except OSError as error:
        raise ConfigError(f"Cannot read {path}: {error.strerror}.") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    store: dict[str, Any] = endpoints.get("tracker_store") or {}
    if not _is_sql_tracker_store(store):
        raise ConfigError(
            f"{path} has no SQL tracker store (type: SQL or "
            "addons.tracker_store.SQLTrackerStore); pass --tracker-url instead."
        )
    dialect = str(store.get("dialect") or "sqlite").lower()
    if dialect not in SQL_DIALECT_DRIVERS:
        raise ConfigError(
            f"Tracker store dialect {dialect!r} is not supported (sqlite, postgresql)."
        )
    if dialect == "sqlite":
        database = Path(str(store.get("db") or "rasa.db"))
        if not database.is_absolute():
            database = path.resolve().parent / database
        return f"sqlite:///{database}"
    url = URL.create(
        SQL_DIALECT_DRIVERS[dialect],
        username=store.get("username"),
        password=store.get("password"),
        host=store.get("url") or store.get("host") or "localhost",
        port=int(store["port"]) if store.get("port") else None,
        database=store.get("db") or "rasa",
    )
    return url.render_as_string(hide_password=False)


def tickets_url_from_settings() -> str:
    return os.environ.get("HANDOFF_DATABASE_URL") or DEFAULT_TICKETS_URL


def checked_url(url: str, what: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigError(f"The {what} URL {url!r} is not a database URL.") from error
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"The {what} URL must be sqlite:/// or postgresql://, not {url!r}.")
    is_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (
        None,
        "",
        ":memory:",
    )
    if is_file and not Path(parsed.database).exists():
        raise ConfigError(f"The {what} database {parsed.database} does not exist.")
    return url
