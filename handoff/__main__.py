"""The handoff bridge.

    python -m handoff serve                 # the API and agent console
    python -m handoff migrate               # upgrade the database schema
    python -m handoff create-agent NAME --role admin --skills technical ...

Settings come from the environment (`HANDOFF_*`, see `handoff/settings.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import sys

from aiohttp import web

from handoff.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the bridge")
    serve.add_argument("--port", type=int, help="overrides HANDOFF_PORT")
    serve.add_argument(
        "--instance-port",
        type=int,
        help="one of several instances: share --port with the others (SO_REUSEPORT) "
        "and also serve this port alone, for health checks",
    )
    commands.add_parser("migrate", help="upgrade the database to the latest schema")
    create = commands.add_parser("create-agent", help="add a console account")
    create.add_argument("username")
    create.add_argument("--display-name")
    create.add_argument("--role", choices=["admin", "agent", "analyst"], default="agent")
    create.add_argument("--skills", nargs="*", default=[], help="categories; none means all")
    create.add_argument("--languages", nargs="*", default=["zh", "en"])
    create.add_argument("--capacity", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("HANDOFF_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings()
    if args.command == "serve":
        from handoff.app import create_app

        if not settings.api_token:
            logging.warning("HANDOFF_API_TOKEN is empty: the assistant cannot reach the bridge.")
        port = args.port or settings.port
        with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
            asyncio.run(_serve(create_app(settings), settings.host, port, args.instance_port))
    elif args.command == "migrate":
        from handoff.migrations import upgrade

        upgrade(settings.database_url)
    else:
        return asyncio.run(_create_agent(settings, args))
    return 0


async def _serve(app: web.Application, host: str, port: int, instance_port: int | None) -> None:
    """aiohttp's `run_app`, with a second, private port when several
    instances share the first: `run_app` listens on one port only."""
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=instance_port is not None).start()
        if instance_port is not None:
            await web.TCPSite(runner, host, instance_port).start()
        print(f"Agent console: http://{host}:{port}/console/", flush=True)
        await asyncio.Event().wait()  # until SIGINT/SIGTERM (GracefulExit)
    finally:
        await runner.cleanup()


async def _create_agent(settings: Settings, args: argparse.Namespace) -> int:
    from handoff.agents import service as agents
    from handoff.agents.enums import AgentRole
    from handoff.db import Database
    from handoff.errors import HandoffError
    from handoff.migrations import upgrade

    password = os.environ.get("HANDOFF_NEW_AGENT_PASSWORD") or getpass.getpass("Password: ")
    await asyncio.to_thread(upgrade, settings.database_url)
    database = Database(settings.database_url)
    try:
        async with database.transaction() as db:
            agent = await agents.create(
                db,
                username=args.username,
                password=password,
                display_name=args.display_name,
                role=AgentRole(args.role),
                skills=args.skills,
                languages=args.languages,
                capacity=args.capacity,
            )
            print(f"Created {agent.role} {agent.username} (id {agent.id}).")
    except (HandoffError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        await database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
