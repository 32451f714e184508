"""deploy/compose: a valid Compose file whose settings all come from the
env file, with the bridge's replicas, the migration once, and PostgreSQL's
first start making the tracker's database."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import jsonschema
import psycopg2
import pytest

from tests.deploy.topology import (
    COMPOSE_FILE,
    compose_document,
    compose_settings,
    interpolate,
)

SCHEMA = Path(__file__).with_name("schemas") / "compose-spec.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    # The schema refuses what Compose refuses: this test can fail.
    assert not validator.is_valid({"services": {"rasa": {"image": "r", "replica": 3}}})
    return validator


def test_the_compose_file_follows_the_compose_specification(validator):
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(compose_document())
    ]
    assert errors == []


def test_every_setting_comes_from_the_env_file():
    referenced = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text(encoding="utf-8")))
    assert referenced - set(compose_settings()) == set()


def test_compose_stops_without_the_secrets():
    """`${NAME:?…}`: no container starts with an empty password or token."""
    settings = {k: v for k, v in compose_settings().items() if k != "HANDOFF_API_TOKEN"}
    with pytest.raises(KeyError, match="HANDOFF_API_TOKEN"):
        interpolate(COMPOSE_FILE.read_text(encoding="utf-8"), settings)


def test_the_bridge_runs_replicas_after_the_migration_ran_once():
    services = compose_document()["services"]
    bridge, migrate = services["bridge"], services["migrate"]
    replicas = bridge["deploy"]["replicas"]
    assert replicas >= 2
    (published,) = bridge["ports"]
    first, last = map(int, published.split(":")[0].split("-"))
    assert last - first + 1 == replicas  # a host port for each replica
    assert bridge["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert migrate["restart"] == "no"
    assert migrate["image"] == bridge["image"]


def test_rasa_starts_after_what_it_calls():
    depends_on = compose_document()["services"]["rasa"]["depends_on"]
    for service in ("postgres", "redis", "rabbitmq", "actions", "bridge"):
        assert depends_on[service] == {"condition": "service_healthy"}


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_postgres_first_start_creates_the_tracker_database():
    """The script the postgres image runs from docker-entrypoint-initdb.d,
    run against this machine's PostgreSQL."""
    postgres = compose_document()["services"]["postgres"]
    (mount,) = (volume for volume in postgres["volumes"] if "docker-entrypoint-initdb.d" in volume)
    script = COMPOSE_FILE.parent / mount.split(":")[0]
    database = f"cloudpick_tracker_{secrets.token_hex(4)}"
    environment = {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        "TRACKER_DB": database,
    }
    subprocess.run(["sh", str(script)], env=environment, check=True, capture_output=True)
    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            assert cursor.fetchone() == (1,)
            cursor.execute(f'DROP DATABASE "{database}"')
    finally:
        connection.close()
