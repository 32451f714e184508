"""The compose file and the Kubernetes manifests against the configuration
contract: each process runs the contract's command with every variable it
reads in production, and the values agree across processes (tokens,
addresses, the exchange and queue, the databases), as resolved by Compose
from the example env file and by the kubelet from the ConfigMap and the
Secret template."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

import pytest
from sqlalchemy.engine import make_url

from tests.deploy.topology import (
    COMMANDS,
    ENVIRONMENT,
    IMAGES,
    Dockerfile,
    Process,
    compose_processes,
    endpoint_references,
    kubernetes_object,
    kubernetes_processes,
    service_address,
)

TOPOLOGIES: dict[str, Callable[[], dict[str, Process]]] = {
    "compose": compose_processes,
    "kubernetes": kubernetes_processes,
}


@pytest.fixture(params=list(TOPOLOGIES))
def processes(request: pytest.FixtureRequest) -> dict[str, Process]:
    return TOPOLOGIES[request.param]()


def rasa_reads() -> set[str]:
    """The contract's variables, and those Rasa expands in the endpoints the
    manifests mount (the project's file: tests/deploy/test_kubernetes.py)."""
    endpoints = kubernetes_object("ConfigMap", "cloudpick-endpoints")["data"]
    return ENVIRONMENT["rasa"] | endpoint_references(endpoints["endpoints.production.yml"])


def test_each_process_runs_the_contracts_command_from_its_image(processes):
    assert set(processes) == set(COMMANDS)
    for name, process in processes.items():
        assert process.command == COMMANDS[name]
        assert process.image == IMAGES[name]


def test_each_process_gets_every_variable_it_reads(processes):
    for name, process in processes.items():
        required = rasa_reads() if name == "rasa" else ENVIRONMENT[name]
        assert required - set(process.environment) == set(), name
        for variable in required:
            value = process.environment[variable]
            assert value, f"{name}: {variable} is empty"
            assert not re.search(r"\$[({]", value), f"{name}: {variable}={value} is unresolved"


def test_listening_ports_are_the_images(processes):
    for name in ("rasa", "actions", "bridge"):
        process = processes[name]
        assert process.container_port in (None, Dockerfile.read(process.image).exposed_port)
    assert processes["rasa"].container_port == 5005


def test_the_processes_share_their_secrets(processes):
    rasa, actions, bridge = (processes[name].environment for name in ("rasa", "actions", "bridge"))
    assert rasa["ACTION_SERVER_TOKEN"] == actions["ACTION_SERVER_TOKEN"]
    assert rasa["HANDOFF_API_TOKEN"] == actions["HANDOFF_API_TOKEN"] == bridge["HANDOFF_API_TOKEN"]
    assert bridge["HANDOFF_RASA_TOKEN"] == rasa["RASA_JWT_SECRET"]


def test_the_processes_call_each_other_where_they_listen(processes):
    rasa, actions, bridge = processes["rasa"], processes["actions"], processes["bridge"]
    expected = {
        rasa.environment["ACTION_SERVER_URL"]: ("actions", 5055),
        rasa.environment["HANDOFF_URL"]: ("bridge", 5056),
        actions.environment["HANDOFF_URL"]: ("bridge", 5056),
        bridge.environment["HANDOFF_RASA_URL"]: ("rasa", 5005),
    }
    for url, (host, port) in expected.items():
        assert service_address(url) == (host, port), url
        assert str(port) in COMMANDS[host]
    assert rasa.environment["ACTION_SERVER_URL"].endswith("/webhook")


def test_the_bridge_and_rasa_share_the_servers(processes):
    rasa, bridge = processes["rasa"].environment, processes["bridge"].environment
    database = make_url(bridge["HANDOFF_DATABASE_URL"])
    assert database.get_backend_name() == "postgresql"
    assert (database.host, database.port) == (rasa["POSTGRES_HOST"], int(rasa["POSTGRES_PORT"]))
    assert (database.username, database.password) == (
        rasa["POSTGRES_USER"],
        rasa["POSTGRES_PASSWORD"],
    )
    assert database.database != rasa["TRACKER_DB"]
    assert (
        processes["migrate"].environment["HANDOFF_DATABASE_URL"] == bridge["HANDOFF_DATABASE_URL"]
    )

    for redis in (bridge["HANDOFF_REDIS_URL"], rasa["CHANNELS_REDIS_URL"]):
        assert (
            redis
            == f"redis://:{rasa['REDIS_PASSWORD']}@{rasa['REDIS_HOST']}:{rasa['REDIS_PORT']}/0"
        )
    assert rasa["REDIS_LOCK_DB"] != "0"  # the lock store keeps to its own database

    rabbitmq = "amqp://{RABBITMQ_USER}:{RABBITMQ_PASSWORD}@{RABBITMQ_HOST}:{RABBITMQ_PORT}/"
    assert bridge["HANDOFF_RABBITMQ_URL"] == rabbitmq.format(**rasa)
    assert bridge["HANDOFF_RABBITMQ_EXCHANGE"] == rasa["RABBITMQ_EXCHANGE"]
    # Rasa's durable queue, which keeps events while no bridge is up.
    assert bridge["HANDOFF_RABBITMQ_QUEUE"] == rasa["RABBITMQ_QUEUE"]


def test_state_lives_on_volumes(processes):
    """The outbox survives a restart of its container; the attachments are
    on one volume for every bridge replica."""
    outbox = PurePosixPath(processes["actions"].environment["HANDOFF_OUTBOX_PATH"])
    assert any(outbox.is_relative_to(mount) for mount in processes["actions"].mounts)
    attachments = processes["bridge"].environment["HANDOFF_ATTACHMENTS_DIR"]
    assert attachments in processes["bridge"].mounts
