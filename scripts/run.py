"""Starts the whole system on this machine: handoff bridge, action server, Rasa.

    python -m scripts.run            # REST and socket.io channels on :5005
    python -m scripts.run --shell    # everything but Rasa's server, plus `rasa shell`
    python -m scripts.run --profile production
                                     # PostgreSQL, Redis, RabbitMQ; several of each process

Secrets (the bridge's API token, Rasa's JWT secret, the action server's
token) are generated on the first start into var/secrets.env and reused.
Waits until every server answers and prints where to find them. A process
that dies is restarted after a growing delay; one that keeps dying stops
everything. Ctrl-C stops all.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from scripts.stack import DEFAULT_VAR, PRIVATE_UMASK, PROJECT, Ports, Secrets, Stack, Topology
from scripts.supervisor import RestartPolicy, Supervisor, SupervisorError, answers

STARTUP_TIMEOUT = 180

logger = logging.getLogger("launcher")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    ports = Ports.from_environment()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shell", action="store_true", help="chat in this terminal")
    parser.add_argument(
        "--profile",
        choices=["embedded", "production"],
        default=os.environ.get("PROFILE", "embedded"),
        help="embedded: SQLite and memory, one of each process; production: the "
        "servers in POSTGRES_*, REDIS_* and RABBITMQ_* (default: this machine's), "
        "SANIC_WORKERS Rasa workers, HANDOFF_INSTANCES bridges (PROFILE)",
    )
    parser.add_argument("--port", type=int, default=ports.rasa, help="Rasa (RASA_PORT)")
    parser.add_argument(
        "--actions-port", type=int, default=ports.actions, help="action server (ACTIONS_PORT)"
    )
    parser.add_argument(
        "--bridge-port", type=int, default=ports.bridge, help="handoff bridge (HANDOFF_PORT)"
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(os.environ.get("VAR_DIR", DEFAULT_VAR)),
        help="secrets, databases, rendered endpoints (VAR_DIR, default var/)",
    )
    return parser.parse_args(argv)


def build_stack(args: argparse.Namespace) -> Stack:
    var = args.var_dir.resolve()
    return Stack(
        ports=Ports(rasa=args.port, actions=args.actions_port, bridge=args.bridge_port),
        secrets=Secrets.load(var / "secrets.env"),
        var=var,
        topology=Topology.production() if args.profile == "production" else Topology(),
        actions_host=os.environ.get("ACTION_SERVER_HOST", Stack.actions_host),
        environment={"HANDOFF_DEMO_AGENTS": os.environ.get("HANDOFF_DEMO_AGENTS", "true")},
    )


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s launcher: %(message)s", stream=sys.stderr
    )
    # Whatever the launcher and its processes create is private.
    os.umask(PRIVATE_UMASK)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    stack = build_stack(args)
    stack.prepare()
    supervisor = Supervisor(stack, policy=RestartPolicy.from_environment())
    try:
        if args.shell:
            return run_shell(stack, supervisor)
        supervisor.start(stack.services(), STARTUP_TIMEOUT)
        print(banner(stack), flush=True)
        supervisor.watch()
    except SupervisorError as error:
        logger.error("%s", error)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        supervisor.stop()
    return 0


def run_shell(stack: Stack, supervisor: Supervisor) -> int:
    """`make shell` next to `make run` shares the servers already running."""
    *bridges, actions, rasa = stack.services()
    supervisor.start([s for s in (*bridges, actions) if not answers(s.health_url)], STARTUP_TIMEOUT)
    port = stack.ports.rasa + 1 if answers(rasa.health_url) else stack.ports.rasa
    shell = subprocess.Popen(
        [sys.executable, "-m", "scripts.rasa_cli", "shell", "--model", str(stack.model),
         "--endpoints", str(stack.endpoints), "--port", str(port)],
        cwd=PROJECT,
        env=stack.process_environment(rasa),
    )  # fmt: skip
    try:
        return shell.wait()
    finally:
        if shell.poll() is None:
            shell.terminate()
            shell.wait()


def banner(stack: Stack) -> str:
    ports = stack.ports
    return (
        "\nThe system is up.\n"
        f"  REST:          POST http://localhost:{ports.rasa}/webhooks/rest/webhook "
        '{"sender": "me", "message": "你好"}\n'
        f"  web chat:      http://localhost:{ports.rasa}/webhooks/socketio/widget/demo.html "
        "(embed: docs/channels.md)\n"
        f"  ticket form:   http://localhost:{ports.rasa}/webhooks/form/\n"
        f"  agent console: http://localhost:{ports.bridge}/console/ "
        f"(demo accounts in {stack.demo_accounts})\n"
        f"  bridge API:    http://localhost:{ports.bridge}/api/openapi.yaml "
        f"(token in {stack.var / 'secrets.env'})\n"
        "  terminal:      make shell (in another terminal)\n"
        f"  stores:        {stores(stack)}\n"
        "A process that dies is restarted. Press Ctrl-C to stop.\n"
    )


def stores(stack: Stack) -> str:
    servers, topology = stack.servers, stack.topology
    if servers is None:
        return f"{stack.tracker_db} (conversations), {stack.database_url} (tickets)"
    return (
        f"PostgreSQL {servers.postgres_host}:{servers.postgres_port} "
        f"({servers.tracker_db}, {servers.handoff_db}), "
        f"Redis {servers.redis_host}:{servers.redis_port}, "
        f"RabbitMQ {servers.rabbitmq_host}:{servers.rabbitmq_port} "
        f"(queue {servers.rabbitmq_queue});\n"
        f"                 {topology.rasa_workers} Rasa workers, "
        f"{topology.action_workers} action-server workers, {topology.bridges} bridges"
    )


if __name__ == "__main__":
    sys.exit(main())
