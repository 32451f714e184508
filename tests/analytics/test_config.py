"""Where the report finds its databases."""

from __future__ import annotations

import pytest

from analytics.config import checked_url, tickets_url_from_settings, tracker_url_from_endpoints
from analytics.errors import ConfigError
from tests.conftest import PROJECT


def test_the_projects_endpoints_name_its_sqlite_tracker_store():
    assert tracker_url_from_endpoints(PROJECT / "endpoints.yml") == (
        f"sqlite:///{PROJECT / 'var' / 'tracker.db'}"
    )


def test_a_postgresql_tracker_store_becomes_a_url(tmp_path, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "s3cret")
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        "tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: db.internal\n"
        "  port: 5433\n  username: rasa\n  password: ${DB_PASSWORD}\n  db: tracker\n"
    )
    assert tracker_url_from_endpoints(endpoints) == (
        "postgresql://rasa:s3cret@db.internal:5433/tracker"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tracker_store:\n  type: redis\n", "no SQL tracker store"),
        ("tracker_store: [unclosed\n", "not valid YAML"),
        ("tracker_store:\n  type: SQL\n  dialect: oracle\n", "not supported"),
    ],
)
def test_unusable_endpoints_are_explained(tmp_path, content, message):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(content)
    with pytest.raises(ConfigError, match=message):
        tracker_url_from_endpoints(endpoints)


def test_a_missing_endpoints_file_is_explained(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read"):
        tracker_url_from_endpoints(tmp_path / "nope.yml")


def test_the_ticket_database_follows_the_bridge_settings(monkeypatch):
    monkeypatch.setenv("HANDOFF_DATABASE_URL", "postgresql://bridge@localhost/handoff")
    assert tickets_url_from_settings() == "postgresql://bridge@localhost/handoff"
    monkeypatch.delenv("HANDOFF_DATABASE_URL")
    assert tickets_url_from_settings().endswith("var/handoff.db")


def test_urls_are_checked():
    with pytest.raises(ConfigError, match="not a database URL"):
        checked_url("not a url", "tracker store")
