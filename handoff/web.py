"""HTTP plumbing shared by the views: app keys, the error and auth
middlewares, role checks and body parsing."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from handoff.agents import service as agents
from handoff.agents.models import Agent
from handoff.agents.security import same_secret
from handoff.app_keys import DATABASE
from handoff.errors import BodyTooLarge, Forbidden, HandoffError, InvalidInput, NotAuthenticated

logger = logging.getLogger(__name__)

SESSION_COOKIE = "handoff_session"
SERVICE = "service"  # the pseudo-role of machine clients holding the API token
MAX_BODY_BYTES = 256 * 1024
# Rasa's event broker posts batches of tracker events of a few KiB each.
MAX_EVENTS_BODY_BYTES = 4 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Model = TypeVar("Model", bound=BaseModel)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place where errors become HTTP responses."""
    try:
        return await handler(request)
    except HandoffError as error:
        return error_response(error.status, error.code, error.message, error.details)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(error.status, "http_error", error.reason)
    except Exception:
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return web.json_response(body, status=status)


def authentication_middleware(*, api_token: str, idle_seconds: float) -> Any:
    """Finds who is calling: a machine client with the API token, or an agent
    with a session cookie. Views decide with `require` what each may do."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request["agent"] = None
        request["service"] = False
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            if not same_secret(header.removeprefix("Bearer ").strip(), api_token):
                raise NotAuthenticated("The API token is not valid.")
            request["service"] = True
        elif token := request.cookies.get(SESSION_COOKIE):
            # Read-only on the hot path; it writes (touch, expire) about once
            # a minute per agent, and SQLite's busy timeout covers those.
            async with request.app[DATABASE].reading() as db:
                request["agent"] = await agents.authenticate(
                    db, token=token, idle_seconds=idle_seconds
                )
                if db.dirty or db.deleted:
                    await db.commit()
        return await handler(request)

    return middleware


def require(request: web.Request, *roles: str) -> Agent | None:
    """Returns the agent (None for a machine client) if their role is among
    `roles`; raises otherwise."""
    if request["service"]:
        if SERVICE in roles:
            return None
        raise Forbidden("This endpoint is for signed-in staff, not the API token.")
    agent: Agent | None = request["agent"]
    if agent is None:
        raise NotAuthenticated()
    if agent.role not in roles:
        raise Forbidden()
    return agent


async def parse_body(
    request: web.Request, model: type[Model], max_bytes: int = MAX_BODY_BYTES
) -> Model:
    too_large = BodyTooLarge(f"The body is larger than {max_bytes // 1024} KiB.")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    body = await request.read()
    if len(body) > max_bytes:
        raise too_large
    try:
        payload = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"The body is not valid JSON: {error}.") from error
    try:
        return model.parse_obj(payload)
    except ValidationError as error:
        raise InvalidInput(
            "The body does not match the schema.", errors=json.loads(error.json())
        ) from error


def int_param(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError as error:
        raise InvalidInput(f"{name} must be a number.") from error
