"""The stack's one home for ports, secrets and endpoints: every port reaches
every process that uses it, secrets stay off command lines, files stay
private."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
import yaml

from scripts.rasa_cli import rasa_arguments
from scripts.servers import SharedServers
from scripts.stack import (
    ENDPOINTS_TEMPLATE,
    PRODUCTION_TEMPLATE,
    Ports,
    Secrets,
    Stack,
    Topology,
    make_private,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return Stack(
        ports=Ports(rasa=6005, actions=6055, bridge=6056),
        secrets=Secrets.generate(),
        var=tmp_path / "var",
    )


def test_ports_come_from_the_environment_the_readme_names():
    ports = Ports.from_environment(
        {"RASA_PORT": "7005", "ACTIONS_PORT": "7055", "HANDOFF_PORT": "7056"}
    )
    assert ports == Ports(rasa=7005, actions=7055, bridge=7056)
    assert Ports.from_environment({}) == Ports(rasa=5005, actions=5055, bridge=5056)


def test_rasa_gets_the_ports_and_the_action_servers_token_in_private_endpoints(stack: Stack):
    template = ENDPOINTS_TEMPLATE.read_text()
    stack.prepare()

    endpoints = yaml.safe_load(stack.endpoints.read_text())
    assert endpoints["action_endpoint"] == {
        "url": "http://127.0.0.1:6055/webhook",
        "headers": {"Authorization": f"Bearer {stack.secrets.action_server_token}"},
    }
    assert endpoints["event_broker"]["url"] == "http://127.0.0.1:6056"
    assert endpoints["event_broker"]["type"] == "addons.broker.HandoffEventBroker"
    assert endpoints["tracker_store"]["db"] == str(stack.var / "tracker.db")
    assert stack.tracker_db == stack.var / "tracker.db" and stack.tracker_db.exists()
    # The template stays as it was, valid for a plain `rasa run`.
    assert ENDPOINTS_TEMPLATE.read_text() == template
    assert mode(stack.var) == 0o700
    assert mode(stack.endpoints) == mode(stack.tracker_db) == 0o600


def test_every_process_gets_the_ports_it_calls(stack: Stack):
    bridge, actions, rasa = stack.services()
    assert bridge.env["HANDOFF_RASA_URL"] == "http://127.0.0.1:6005"
    assert "--port" in bridge.command and "6056" in bridge.command
    assert actions.env["HANDOFF_URL"] == rasa.env["HANDOFF_URL"] == "http://127.0.0.1:6056"
    assert actions.command[-4:] == ["--host", "127.0.0.1", "--port", "6055"]
    assert rasa.command[rasa.command.index("--endpoints") + 1] == str(stack.endpoints)
    assert rasa.command[rasa.command.index("--port") + 1] == "6005"


def test_each_stack_keeps_its_demo_accounts_in_its_own_var(stack: Stack):
    """The bridge wrote them to the project's var/ whatever the stack: a
    benchmark's or test's stack replaced `make run`'s accounts file with
    passwords its bridge does not know."""
    bridge = stack.services()[0]
    assert bridge.env["HANDOFF_DEMO_ACCOUNTS_PATH"] == str(stack.demo_accounts)
    assert stack.demo_accounts == stack.var / "handoff-accounts.txt"


def test_no_secret_is_on_a_command_line(stack: Stack):
    tokens = set(vars(stack.secrets).values())
    for service in stack.services():
        assert not tokens & set(service.command), service.name
        assert not any(token in part for token in tokens for part in service.command)
    bridge, actions, rasa = stack.services()
    assert rasa.env["RASA_JWT_SECRET"] == bridge.env["HANDOFF_RASA_TOKEN"]
    assert actions.env["ACTION_SERVER_TOKEN"] == stack.secrets.action_server_token


def test_rasas_secret_is_added_inside_the_process_for_rasa_run_only():
    assert rasa_arguments(["run", "--enable-api"], "s3cret") == [
        "run", "--enable-api", "--jwt-secret", "s3cret", "--jwt-method", "HS256",
    ]  # fmt: skip
    assert rasa_arguments(["shell"], "s3cret") == ["shell"]
    assert rasa_arguments(["run", "actions"], "s3cret") == ["run", "actions"]
    assert rasa_arguments(["run"], "") == ["run"]


def test_secrets_are_made_once_privately_and_kept(tmp_path: Path):
    path = tmp_path / "var" / "secrets.env"
    first = Secrets.load(path)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert len({first.handoff_api_token, first.rasa_jwt_secret, first.action_server_token}) == 3
    assert Secrets.load(path) == first


def test_an_older_secrets_file_gains_the_missing_tokens_and_keeps_its_own(tmp_path: Path):
    path = tmp_path / "secrets.env"
    path.write_text("HANDOFF_API_TOKEN=kept\nRASA_TOKEN=old\n")
    path.chmod(0o644)
    secrets = Secrets.load(path)
    assert secrets.handoff_api_token == "kept"
    assert secrets.rasa_jwt_secret and secrets.action_server_token
    assert mode(path) == 0o600


def test_files_earlier_versions_left_readable_become_private(tmp_path: Path):
    var = tmp_path / "var"
    (var / "analytics").mkdir(parents=True)
    for name in ("tracker.db", "handoff.db", "handoff.db-wal", "analytics/warehouse.db"):
        (var / name).write_text("")
        (var / name).chmod(0o644)
    var.chmod(0o755)
    (var / "analytics").chmod(0o755)
    make_private(var)
    assert mode(var) == mode(var / "analytics") == 0o700
    assert {mode(path) for path in var.rglob("*") if path.is_file()} == {0o600}


def production_stack(tmp_path: Path, **servers: str) -> Stack:
    return Stack(
        ports=Ports(rasa=6005, actions=6055, bridge=6056),
        secrets=Secrets.generate(),
        var=tmp_path / "var",
        topology=Topology(
            rasa_workers=2,
            action_workers=3,
            bridges=2,
            servers=SharedServers.from_environment(servers),
        ),
    )


def test_the_production_profile_reads_the_servers_and_counts_from_the_environment():
    topology = Topology.production(
        {"SANIC_WORKERS": "3", "HANDOFF_INSTANCES": "4", "POSTGRES_PORT": "6543"}
    )
    assert (topology.rasa_workers, topology.action_workers, topology.bridges) == (3, 2, 4)
    assert topology.servers.postgres_port == 6543  # a number, as read
    assert topology.template.name == "endpoints.production.yml"
    assert Topology().template == ENDPOINTS_TEMPLATE


def test_every_production_process_finds_the_shared_servers(tmp_path: Path):
    stack = production_stack(tmp_path, REDIS_PASSWORD="p@ss", RABBITMQ_QUEUE="q1")
    *bridges, actions, rasa = stack.services()
    # Two bridges share the port; each is checked on its own.
    assert [b.name for b in bridges] == ["bridge-1", "bridge-2"]
    assert [b.health_url for b in bridges] == [
        "http://127.0.0.1:6057/health",
        "http://127.0.0.1:6058/health",
    ]
    assert all(b.command[-4:-2] == ["--port", "6056"] for b in bridges)
    first = bridges[0].env
    assert first["HANDOFF_DATABASE_URL"] == "postgresql://postgres@127.0.0.1:5432/cloudpick_handoff"
    assert first["HANDOFF_REDIS_URL"] == "redis://:p%40ss@127.0.0.1:6379/0"
    assert first["HANDOFF_RABBITMQ_QUEUE"] == rasa.env["RABBITMQ_QUEUE"] == "q1"
    assert first["HANDOFF_RABBITMQ_EXCHANGE"] == rasa.env["RABBITMQ_EXCHANGE"]
    assert first["HANDOFF_ATTACHMENTS_DIR"] == bridges[1].env["HANDOFF_ATTACHMENTS_DIR"]
    assert rasa.env["SANIC_WORKERS"] == "2" and actions.env["ACTION_SERVER_SANIC_WORKERS"] == "3"
    assert rasa.env["CHANNELS_REDIS_URL"] == first["HANDOFF_REDIS_URL"]


def test_every_variable_of_the_production_endpoints_is_given_to_rasa(tmp_path: Path):
    """Rasa refuses to start on a `${VAR}` it cannot expand."""
    stack = production_stack(tmp_path)
    rendered = yaml.safe_dump(stack.rendered_endpoints())
    values = yaml.safe_dump(yaml.safe_load(PRODUCTION_TEMPLATE.read_text()))  # no comments
    wanted = set(re.findall(r"\$\{(\w+)\}", values))
    assert wanted, "the template names its servers through the environment"
    assert wanted <= set(stack.services()[-1].env), wanted - set(stack.services()[-1].env)
    assert stack.tracker_db is None  # PostgreSQL: no SQLite file to prepare
    assert "${ACTION_SERVER_URL}" not in rendered  # the launcher renders its own


def test_a_prefix_rasas_lock_store_would_ignore_is_refused():
    with pytest.raises(ValueError, match="REDIS_KEY_PREFIX"):
        SharedServers.from_environment({"REDIS_KEY_PREFIX": "my-shop"})


def test_isolated_servers_keep_their_state_apart():
    shared = SharedServers()
    mine = shared.isolated("t1")
    assert mine.postgres_host == shared.postgres_host
    assert {mine.tracker_db, mine.handoff_db} & {shared.tracker_db, shared.handoff_db} == set()
    assert mine.redis_key_prefix.startswith(shared.redis_key_prefix)
    assert mine.redis_key_prefix != shared.redis_key_prefix
    assert mine.redis_key_prefix.isalnum()  # Rasa's lock store ignores any other prefix
    assert mine.rabbitmq_queue != shared.rabbitmq_queue
    assert mine.rabbitmq_exchange != shared.rabbitmq_exchange
