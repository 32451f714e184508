"""The action server's entry point: rasa_sdk's app, on loopback unless told
otherwise, and answering only callers that present its token.

    ACTION_SERVER_TOKEN=… python -m actions.server [--host 127.0.0.1] [--port 5055]

The actions hold the bridge's API token and act on customers' tickets, so a
caller that could reach `/webhook` could open tickets with forged slots or
rate any ticket. Rasa presents the token as a header set in its endpoints
(`action_endpoint.headers.Authorization: Bearer …`, which `make run` renders
into var/endpoints.yml). `/health` stays open for probes.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app as create_sdk_app
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "ACTION_SERVER_TOKEN"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055
OPEN_PATHS = frozenset({"/health"})

Middleware = Callable[[Request], Awaitable[HTTPResponse | None]]


class ActionServerConfigError(ValueError):
    """A setting that would expose the actions to anyone on the network."""


def create_app(*, token: str, actions: str = "actions") -> Sanic:
    """rasa_sdk's app with no CORS origins (only Rasa calls it, never a
    browser) and, when a token is set, the caller check in front of it."""
    app = create_sdk_app(actions, cors_origins=None)
    if token:
        app.register_middleware(require_caller_token(token), "request")
    return app


def require_caller_token(token: str) -> Middleware:
    expected = f"Bearer {token}".encode()

    async def check_caller(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        presented = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(presented, expected):
            return None
        # Answered here, not raised: rasa_sdk's catch-all handler turns any
        # exception into a 500.
        return response.json(
            {"error": "This action server needs its token (Authorization: Bearer …)."},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    return check_caller


def check_exposure(host: str, token: str) -> None:
    """Refuses to serve the actions beyond loopback without a token."""
    if token:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ActionServerConfigError(
            f"{TOKEN_VARIABLE} must be set to serve the actions on {host}: "
            "anyone reaching the port could run them."
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Starts the action server.")
    parser.add_argument("--host", default=os.environ.get("ACTION_SERVER_HOST", DEFAULT_HOST))
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--actions", default="actions", help="package to load actions from")
    utils.add_logging_level_option_arguments(parser)
    args = parser.parse_args(argv)
    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()

    token = os.environ.get(TOKEN_VARIABLE, "")
    try:
        check_exposure(args.host, token)
    except ActionServerConfigError as error:
        raise SystemExit(str(error)) from None
    if not token:
        logger.warning("%s is not set: any local process may run the actions.", TOKEN_VARIABLE)
    app = create_app(token=token, actions=args.actions)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    logger.info("Action server on http://%s:%s", args.host, args.port)
    app.run(args.host, args.port, workers=utils.number_of_sanic_workers())


if __name__ == "__main__":
    main()
