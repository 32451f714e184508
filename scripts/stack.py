"""One home for what the processes of a stack share: ports, secrets, the
environment, the endpoints Rasa gets and the command of each process.

`make run`, the integration tests and anything else that starts the bridge,
the action server and Rasa together build a `Stack` and take its
`services()`, so a port or a token set once reaches every process that uses
it.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cloudpick_home import PROJECT
from scripts.servers import SharedServers

DEFAULT_VAR = PROJECT / "var"
ENDPOINTS_TEMPLATE = PROJECT / "endpoints.yml"
PRODUCTION_TEMPLATE = PROJECT / "endpoints.production.yml"
LOOPBACK = "127.0.0.1"
HANDOFF_BROKER = "addons.broker.HandoffEventBroker"
SQL_TRACKER_STORES = {"sql", "addons.tracker_store.sqltrackerstore"}
# Whatever the processes write (databases, secrets, rendered endpoints) is
# readable by the account that runs them only.
PRIVATE_UMASK = 0o077

# Defaults the caller's environment may override: quiet start-up, no telemetry.
QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}
# Sanic closes idle keep-alive connections after 5 s; under load Rasa can
# reuse one later than that and lose the action call ("Cannot write to
# closing transport"), so the action server keeps them longer.
ACTION_SERVER_ENV = {"SANIC_KEEP_ALIVE_TIMEOUT": "75"}


@dataclass(frozen=True)
class Ports:
    rasa: int = 5005
    actions: int = 5055
    bridge: int = 5056
    # With several bridge instances, all serve `bridge` (SO_REUSEPORT) and
    # each also its own port, where the launcher checks on it.
    bridge_instances: tuple[int, ...] = ()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Ports:
        """RASA_PORT, ACTIONS_PORT and HANDOFF_PORT, as the README documents."""
        defaults = cls()
        return cls(
            rasa=int(environ.get("RASA_PORT", defaults.rasa)),
            actions=int(environ.get("ACTIONS_PORT", defaults.actions)),
            bridge=int(environ.get("HANDOFF_PORT", defaults.bridge)),
        )

    @classmethod
    def free(cls, bridge_instances: int = 0) -> Ports:
        """Ports nobody listens on now: a stack beside `make run`'s (tests, benchmarks)."""
        return cls(
            rasa=free_port(),
            actions=free_port(),
            bridge=free_port(),
            bridge_instances=tuple(free_port() for _ in range(bridge_instances)),
        )

    def instance_port(self, index: int) -> int:
        if index < len(self.bridge_instances):
            return self.bridge_instances[index]
        return self.bridge + 1 + index


@dataclass(frozen=True)
class Topology:
    """How many of each process run, and where what they share lives: the
    embedded default (one of each, SQLite and memory) or the production
    topology on shared servers."""

    rasa_workers: int = 1
    action_workers: int = 1
    bridges: int = 1
    servers: SharedServers | None = None

    @classmethod
    def production(cls, environ: Mapping[str, str] = os.environ) -> Topology:
        """SANIC_WORKERS (Rasa's), ACTION_SERVER_SANIC_WORKERS (rasa_sdk's)
        and HANDOFF_INSTANCES, 2 of each by default."""
        return cls(
            rasa_workers=int(environ.get("SANIC_WORKERS") or 2),
            action_workers=int(environ.get("ACTION_SERVER_SANIC_WORKERS") or 2),
            bridges=int(environ.get("HANDOFF_INSTANCES") or 2),
            servers=SharedServers.from_environment(environ),
        )

    @property
    def template(self) -> Path:
        return ENDPOINTS_TEMPLATE if self.servers is None else PRODUCTION_TEMPLATE


@dataclass(frozen=True)
class Secrets:
    """The tokens the processes share: made once, kept in a private file."""

    handoff_api_token: str  # machine clients -> the bridge's API
    rasa_jwt_secret: str  # the bridge -> Rasa's HTTP API (signs JWTs)
    action_server_token: str  # Rasa -> the action server
    web_session_secret: str  # the web channel signs its customers' session tokens

    NAMES = {
        "handoff_api_token": "HANDOFF_API_TOKEN",
        "rasa_jwt_secret": "RASA_JWT_SECRET",
        "action_server_token": "ACTION_SERVER_TOKEN",
        "web_session_secret": "WEB_SESSION_SECRET",
    }

    @classmethod
    def generate(cls) -> Secrets:
        return cls(**{attribute: secrets.token_hex(24) for attribute in cls.NAMES})

    @classmethod
    def load(cls, path: Path) -> Secrets:
        """Reads `path`, adding any token it lacks (older files lack some)."""
        values: dict[str, str] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                name, _, value = line.partition("=")
                if name and value and not name.startswith("#"):
                    values[name.strip()] = value.strip()
        missing = [name for name in cls.NAMES.values() if name not in values]
        if missing:
            values.update({name: secrets.token_hex(24) for name in missing})
            write_private(path, "".join(f"{name}={values[name]}\n" for name in sorted(values)))
        else:
            path.chmod(0o600)
        return cls(**{attribute: values[name] for attribute, name in cls.NAMES.items()})


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None  # None: the launcher's own stdout and stderr


@dataclass
class Stack:
    """Where each process listens, which secrets they share and where their
    files go. Everything the processes write lands in `var`."""

    ports: Ports
    secrets: Secrets
    var: Path = DEFAULT_VAR
    model: Path = PROJECT / "models"
    credentials: Path = PROJECT / "credentials.yml"
    topology: Topology = field(default_factory=Topology)
    # The endpoints to render; by default the topology's.
    template: Path | None = None
    # Rasa serves the customers' channels; the action server only Rasa.
    rasa_host: str = "0.0.0.0"
    actions_host: str = LOOPBACK
    # Extra environment for every process (the caller's own wins over none of it).
    environment: dict[str, str] = field(default_factory=dict)
    # Each process's output goes to var/<name>.log instead of the terminal.
    log_to_files: bool = False

    def __post_init__(self) -> None:
        if self.template is None:
            self.template = self.topology.template

    @property
    def servers(self) -> SharedServers | None:
        return self.topology.servers

    @property
    def rasa_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.rasa}"

    @property
    def actions_url(self) -> str:
        return f"http://{_reachable(self.actions_host)}:{self.ports.actions}"

    @property
    def bridge_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.bridge}"

    @property
    def endpoints(self) -> Path:
        return self.var / "endpoints.yml"

    @property
    def demo_accounts(self) -> Path:
        """Where the bridge writes the demo accounts it creates."""
        return self.var / "handoff-accounts.txt"

    @property
    def database_url(self) -> str:
        """The bridge's database: the operator's HANDOFF_DATABASE_URL, else var/."""
        if configured := (
            self.environment.get("HANDOFF_DATABASE_URL") or os.environ.get("HANDOFF_DATABASE_URL")
        ):
            return configured
        if self.servers is not None:
            return self.servers.handoff_database_url
        return f"sqlite:///{self.var / 'handoff.db'}"

    @property
    def tracker_db(self) -> Path | None:
        """The SQLite tracker store's file, if that is the store."""
        store = self.rendered_endpoints().get("tracker_store") or {}
        if str(store.get("type", "")).lower() not in SQL_TRACKER_STORES:
            return None
        if str(store.get("dialect", "sqlite")).lower() != "sqlite":
            return None
        return Path(str(store.get("db") or "rasa.db"))

    def rendered_endpoints(self) -> dict[str, Any]:
        """The template with this stack's URLs and the action server's token.

        The template stays valid for plain `rasa run`/`rasa shell`; only the
        processes started here get the rendered copy."""
        endpoints: dict[str, Any] = yaml.safe_load(self.template.read_text(encoding="utf-8")) or {}
        action = dict(endpoints.get("action_endpoint") or {})
        action["url"] = f"{self.actions_url}/webhook"
        action["headers"] = {
            **(action.get("headers") or {}),
            "Authorization": f"Bearer {self.secrets.action_server_token}",
        }
        endpoints["action_endpoint"] = action
        broker = endpoints.get("event_broker") or {}
        if broker.get("type") == HANDOFF_BROKER:
            endpoints["event_broker"] = {**broker, "url": self.bridge_url}
        store = endpoints.get("tracker_store") or {}
        if str(store.get("dialect", "")).lower() == "sqlite" and store.get("db"):
            endpoints["tracker_store"] = {**store, "db": str(self._in_var(Path(store["db"])))}
        return endpoints

    def prepare(self) -> None:
        """Makes var/ private, writes the endpoints and readies the tracker
        store; call before starting the services."""
        make_private(self.var)
        write_private(
            self.endpoints,
            f"# Rendered from {self.template.name} by scripts/stack.py for the processes "
            "it starts; edit the template.\n"
            + yaml.safe_dump(self.rendered_endpoints(), allow_unicode=True, sort_keys=False),
        )
        if (tracker_db := self.tracker_db) is not None:
            prepare_sqlite_tracker_store(tracker_db)
        if self.servers is not None:
            self.servers.create_databases()

    def services(self) -> list[Service]:
        """In start order: the bridge, the action server, then Rasa, which
        calls both."""
        return [*self._bridges(), self._action_server(), self._rasa()]

    def _to_bridge(self) -> dict[str, str]:
        return {
            "HANDOFF_URL": self.bridge_url,
            "HANDOFF_API_TOKEN": self.secrets.handoff_api_token,
        }

    def _bridges(self) -> list[Service]:
        command = [sys.executable, "-m", "handoff", "serve", "--port", str(self.ports.bridge)]
        env = {
            "HANDOFF_API_TOKEN": self.secrets.handoff_api_token,
            "HANDOFF_DATABASE_URL": self.database_url,
            "HANDOFF_RASA_URL": self.rasa_url,
            "HANDOFF_RASA_TOKEN": self.secrets.rasa_jwt_secret,
            "HANDOFF_DEMO_ACCOUNTS_PATH": str(self.demo_accounts),
        }
        if self.servers is None:
            return [
                Service("bridge", command, f"{self.bridge_url}/health", env, self._log("bridge"))
            ]
        env |= {
            "HANDOFF_REDIS_URL": self.servers.redis_url,
            "HANDOFF_REDIS_PREFIX": f"{self.servers.redis_key_prefix}.handoff",
            "HANDOFF_RABBITMQ_URL": self.servers.rabbitmq_url,
            "HANDOFF_RABBITMQ_EXCHANGE": self.servers.rabbitmq_exchange,
            "HANDOFF_RABBITMQ_QUEUE": self.servers.rabbitmq_queue,
            # Any instance may be asked for a file another one stored.
            "HANDOFF_ATTACHMENTS_DIR": str(self.var / "attachments"),
        }
        bridges = []
        for index in range(self.topology.bridges):
            name, port = f"bridge-{index + 1}", self.ports.instance_port(index)
            bridges.append(
                Service(
                    name,
                    [*command, "--instance-port", str(port)],
                    f"http://{LOOPBACK}:{port}/health",
                    {**env, "HANDOFF_INSTANCE_ID": name},
                    self._log(name),
                )
            )
        return bridges

    def _action_server(self) -> Service:
        return Service(
            "actions",
            [
                sys.executable,
                "-m",
                "actions.server",
                "--host",
                self.actions_host,
                "--port",
                str(self.ports.actions),
            ],  # fmt: skip
            f"{self.actions_url}/health",
            {
                **self._to_bridge(),
                **ACTION_SERVER_ENV,
                "ACTION_SERVER_TOKEN": self.secrets.action_server_token,
                "ACTION_SERVER_SANIC_WORKERS": str(self.topology.action_workers),
                # Handoffs held while the bridge is down (actions/outbox.py):
                # each stack its own, so one never delivers another's.
                "HANDOFF_OUTBOX_PATH": self.environment.get("HANDOFF_OUTBOX_PATH")
                or os.environ.get("HANDOFF_OUTBOX_PATH")
                or str(self.var / "handoff-outbox.db"),
            },
            self._log("actions"),
        )

    def _rasa(self) -> Service:
        env = {
            **self._to_bridge(),
            "RASA_JWT_SECRET": self.secrets.rasa_jwt_secret,
            "WEB_SESSION_SECRET": self.secrets.web_session_secret,
            "SANIC_WORKERS": str(self.topology.rasa_workers),
        }
        if self.servers is not None:
            env |= {
                **self.servers.environment(),
                "CHANNELS_REDIS_URL": self.servers.redis_url,
                # endpoints.production.yml names them; the rendered copy
                # already holds both.
                "ACTION_SERVER_URL": f"{self.actions_url}/webhook",
                "ACTION_SERVER_TOKEN": self.secrets.action_server_token,
            }
        return Service(
            "rasa",
            [
                sys.executable,
                "-m",
                "scripts.rasa_cli",
                "run",
                "--enable-api",
                "--cors",
                "*",
                "--model",
                str(self.model),
                "--endpoints",
                str(self.endpoints),
                "--credentials",
                str(self.credentials),
                "--interface",
                self.rasa_host,
                "--port",
                str(self.ports.rasa),
            ],  # fmt: skip
            f"{self.rasa_url}/",
            env,
            self._log("rasa"),
        )

    def process_environment(self, service: Service) -> dict[str, str]:
        return {**QUIET_ENVIRONMENT, **os.environ, **self.environment, **service.env}

    def create_agent(self, username: str, *, role: str, password: str) -> None:
        """Creates a console account before the bridge starts (migrating its
        database); raises CalledProcessError, whose stderr says why."""
        bridge = self._bridges()[0]
        subprocess.run(
            [sys.executable, "-m", "handoff", "create-agent", username, "--role", role],
            cwd=PROJECT,
            env={**self.process_environment(bridge), "HANDOFF_NEW_AGENT_PASSWORD": password},
            check=True,
            capture_output=True,
            text=True,
        )

    def _log(self, name: str) -> Path | None:
        return self.var / f"{name}.log" if self.log_to_files else None

    def _in_var(self, path: Path) -> Path:
        """Absolute, as Rasa resolves it from the project; a path under the
        template's var/ moves to this stack's var directory."""
        if path.is_absolute():
            return path
        if path.parts and path.parts[0] == "var":
            return self.var.joinpath(*path.parts[1:])
        return PROJECT / path


def _reachable(host: str) -> str:
    """The address to call a server on that listens on `host`."""
    return LOOPBACK if host in ("0.0.0.0", "::", "") else host


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def write_private(path: Path, text: str) -> None:
    """Writes a file only its owner can read, whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    path.chmod(0o600)


def make_private(directory: Path) -> None:
    """Creates `directory` owner-only and takes group and world access away
    from what earlier versions left there (databases were world-readable)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in [directory, *directory.rglob("*")]:
        if path.is_symlink() or path.stat().st_uid != os.getuid():
            continue
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & 0o700)


def prepare_sqlite_tracker_store(path: Path) -> None:
    """Puts a SQLite tracker store in WAL mode (it stays so): Rasa commits
    every message, and WAL makes those commits cheap and lets the analytics
    read while Rasa writes. Creating the file here also keeps Rasa from
    falling back to an in-memory store when its folder is missing."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
