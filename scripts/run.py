"""Starts the whole system on this machine: handoff bridge, action server, Rasa.

    python -m scripts.run            # REST and socket.io channels on :5005
    python -m scripts.run --shell    # everything but Rasa's server, plus `rasa shell`

Secrets (the bridge's API token, Rasa's API token) are generated on the
first start into var/secrets.env and reused. Waits until every server
answers, prints where to find them, and on Ctrl-C (or when any process
dies) stops the others cleanly.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
VAR = PROJECT / "var"
SECRETS = VAR / "secrets.env"
STARTUP_TIMEOUT = 180
STOP_TIMEOUT = 15


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)


def load_secrets(path: Path = SECRETS) -> dict[str, str]:
    """The tokens shared by the processes; made once, kept private."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            if name and value and not name.startswith("#"):
                values[name.strip()] = value.strip()
    missing = {"HANDOFF_API_TOKEN", "RASA_TOKEN"} - values.keys()
    if missing:
        # Hex: a token starting with "-" would read as an option to `rasa run`.
        values.update({name: secrets.token_hex(24) for name in sorted(missing)})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{name}={value}\n" for name, value in sorted(values.items())))
        path.chmod(0o600)
    return values


# Sanic closes idle keep-alive connections after 5 s; under load Rasa can
# reuse one later than that and lose the action call ("Cannot write to
# closing transport"), so the action server keeps them longer.
ACTION_SERVER_ENV = {"SANIC_KEEP_ALIVE_TIMEOUT": "75"}


def prepare_tracker_store(endpoints: Path = PROJECT / "endpoints.yml") -> None:
    """Puts a SQLite tracker store in WAL mode (it stays so): Rasa commits
    every message, and WAL makes those commits cheap and lets the analytics
    read while Rasa writes."""
    import sqlite3

    from sqlalchemy.engine import make_url

    from analytics.config import tracker_url_from_endpoints
    from analytics.errors import ConfigError

    try:
        url = make_url(tracker_url_from_endpoints(endpoints))
    except ConfigError:  # not an SQL store, or a file Rasa rejects with its own error
        return
    if url.get_backend_name() != "sqlite":
        return
    path = Path(str(url.database))
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def wait_until_up(service: Service, processes: list[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(
                    f"{' '.join(process.args[:3])} exited with status {process.returncode}"
                )
        if answers(service.health_url):
            return
        time.sleep(1)
    raise SystemExit(f"{service.name} ({service.health_url}) did not answer within {timeout:.0f} s")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def stop(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()


def services(args: argparse.Namespace, tokens: dict[str, str]) -> list[Service]:
    bridge_url = f"http://127.0.0.1:{args.bridge_port}"
    rasa_url = f"http://127.0.0.1:{args.port}"
    to_bridge = {"HANDOFF_URL": bridge_url, "HANDOFF_API_TOKEN": tokens["HANDOFF_API_TOKEN"]}
    rasa = str(BIN / "rasa")
    common = ["--model", "models", "--endpoints", "endpoints.yml"]
    return [
        Service(
            "handoff bridge",
            [str(sys.executable), "-m", "handoff", "serve", "--port", str(args.bridge_port)],
            f"{bridge_url}/health",
            {
                "HANDOFF_API_TOKEN": tokens["HANDOFF_API_TOKEN"],
                "HANDOFF_RASA_URL": rasa_url,
                "HANDOFF_RASA_TOKEN": tokens["RASA_TOKEN"],
                "HANDOFF_DEMO_AGENTS": os.environ.get("HANDOFF_DEMO_AGENTS", "true"),
            },
        ),
        Service(
            "action server",
            [rasa, "run", "actions", "--actions", "actions", "--port", str(args.actions_port)],
            f"http://127.0.0.1:{args.actions_port}/health",
            {**to_bridge, **ACTION_SERVER_ENV},
        ),
        Service(
            "assistant",
            [
                rasa,
                "run",
                *common,
                "--credentials",
                "credentials.yml",
                "--port",
                str(args.port),
                "--cors",
                "*",
                "--enable-api",
                "--auth-token",
                tokens["RASA_TOKEN"],
            ],  # fmt: skip
            f"{rasa_url}/",
            to_bridge,
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shell", action="store_true", help="chat in this terminal")
    parser.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    parser.add_argument(
        "--actions-port", type=int, default=int(os.environ.get("ACTIONS_PORT", 5055))
    )
    parser.add_argument(
        "--bridge-port", type=int, default=int(os.environ.get("HANDOFF_PORT", 5056))
    )
    args = parser.parse_args()
    tokens = load_secrets()
    prepare_tracker_store()
    wanted = services(args, tokens)
    processes: list[subprocess.Popen] = []
    try:
        for service in wanted:
            if args.shell and service.name == "assistant":
                continue
            # `make shell` next to `make run` shares the running servers.
            if args.shell and answers(service.health_url):
                continue
            processes.append(
                subprocess.Popen(service.command, cwd=PROJECT, env={**os.environ, **service.env})
            )
            wait_until_up(service, processes, STARTUP_TIMEOUT)
        if args.shell:
            port = args.port + 1 if answers(f"http://127.0.0.1:{args.port}/") else args.port
            shell = subprocess.Popen(
                [str(BIN / "rasa"), "shell", "--model", "models", "--endpoints", "endpoints.yml",
                 "--port", str(port)],
                cwd=PROJECT,
                env={**os.environ, **wanted[-1].env},
            )  # fmt: skip
            processes.append(shell)
            return shell.wait()
        print(
            "\nThe system is up.\n"
            f"  REST:          POST http://localhost:{args.port}/webhooks/rest/webhook "
            '{"sender": "me", "message": "你好"}\n'
            f"  socket.io:     http://localhost:{args.port}/socket.io\n"
            f"  agent console: http://localhost:{args.bridge_port}/console/ "
            "(demo accounts in var/handoff-accounts.txt)\n"
            f"  bridge API:    http://localhost:{args.bridge_port}/api/openapi.yaml "
            "(token in var/secrets.env)\n"
            "  terminal:      make shell (in another terminal)\n"
            "  databases:     var/tracker.db (conversations), var/handoff.db (tickets)\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        failed = next(p for p in processes if p.poll() is not None)
        print(
            f"{' '.join(failed.args[:3])} stopped with status {failed.returncode}", file=sys.stderr
        )
        return failed.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)


if __name__ == "__main__":
    sys.exit(main())
