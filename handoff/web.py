"""HTTP plumbing shared by the views: app keys, the error, auth and origin
middlewares, role checks, and parsing of bodies and ids."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import sqlalchemy.exc
from aiohttp import hdrs, web
from pydantic import BaseModel, ValidationError

from handoff.agents import service as agents
from handoff.agents.models import Agent
from handoff.agents.security import same_secret
from handoff.app_keys import DATABASE, SETTINGS
from handoff.db import MAX_ID
from handoff.errors import (
    BodyTooLarge,
    Forbidden,
    ForeignOrigin,
    HandoffError,
    InvalidInput,
    NotAuthenticated,
    UnsupportedMediaType,
)
from handoff.policy import SERVICE

logger = logging.getLogger(__name__)

SESSION_COOKIE = "handoff_session"
# Rasa's event broker posts batches of tracker events of a few KiB each.
MAX_EVENTS_BODY_BYTES = 4 * 1024 * 1024
ASCII_NUMBER = re.compile(r"[0-9]{1,10}")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Answer headers an aiohttp error carries that the JSON error keeps (405's Allow).
_KEPT_ERROR_HEADERS = (hdrs.ALLOW, hdrs.RETRY_AFTER, hdrs.LOCATION)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Model = TypeVar("Model", bound=BaseModel)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place where errors become HTTP responses."""
    try:
        return await handler(request)
    except HandoffError as error:
        return error_response(
            error.status, error.code, error.message, error.details, headers=error.headers
        )
    except web.HTTPException as error:
        if error.status < 400:
            raise
        kept = {name: error.headers[name] for name in _KEPT_ERROR_HEADERS if name in error.headers}
        return error_response(error.status, "http_error", error.reason, headers=kept)
    except DATABASE_UNREACHABLE as error:
        # PostgreSQL restarting: nothing was changed, and a retry will work.
        logger.warning("Database unreachable on %s %s: %s", request.method, request.path, error)
        return error_response(
            503,
            "database_unavailable",
            "The database cannot be reached just now; nothing was changed. Try again shortly.",
            headers={"Retry-After": "5"},
        )
    except Exception:
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")


# Errors of a database that cannot be reached (not of a refused statement).
DATABASE_UNREACHABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    ConnectionRefusedError,
)


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return web.json_response(body, status=status, headers=headers)


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


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browsers attach the session cookie to requests other sites make them
    send, so every change made without the API token (signing in included)
    must come from the console's own origin or an allowed one."""
    if request.method not in SAFE_METHODS and not request["service"]:
        check_origin(request)
    return await handler(request)


def check_origin(request: web.Request) -> None:
    """Without `Origin` the caller is not a browser acting for a site
    (browsers send it on every cross-origin request and every POST), unless
    Fetch Metadata says the request is cross-site."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        if request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none"):
            return
        raise ForeignOrigin()
    if origin in request.app[SETTINGS].allowed_origins or urlsplit(origin).netloc == request.host:
        return
    raise ForeignOrigin()


def secure_cookies(request: web.Request) -> bool:
    """Whether the session cookie is for HTTPS only; "auto" allows plain
    HTTP only where the console is reached as this machine itself."""
    setting = request.app[SETTINGS].secure_cookies
    if isinstance(setting, bool):
        return setting
    return urlsplit(f"//{request.host}").hostname not in LOCAL_HOSTS


def client_address(request: web.Request) -> str:
    """The caller's address. Behind a trusted proxy, the right-most address in
    X-Forwarded-For that is not itself a trusted proxy: the left part of the
    header is whatever the client chose to send."""
    proxies = request.app[SETTINGS].trusted_proxies
    address = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    while proxies and _within(address, proxies) and hops:
        address = hops.pop()
    return address


def _within(address: str, networks: list[Any]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


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
    request: web.Request, model: type[Model], max_bytes: int | None = None
) -> Model:
    """The JSON body as `model`. Only JSON is read: a browser sends other
    types cross-site without asking, and a JSON API has no use for them."""
    settings = request.app[SETTINGS]
    max_bytes = max_bytes or settings.max_body_bytes
    too_large = BodyTooLarge(f"The body is larger than {max_bytes // 1024} KiB.")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    if request.body_exists and request.content_type != "application/json":
        raise UnsupportedMediaType()
    body = await request.read()
    if len(body) > max_bytes:
        raise too_large
    try:
        payload = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"The body is not valid JSON: {error}.") from error
    except RecursionError as error:
        raise InvalidInput("The body's JSON nests too deeply.") from error
    check_json(payload, max_depth=settings.max_json_depth)
    if not isinstance(payload, dict) and "__root__" not in model.__fields__:
        # pydantic would take [["key", "value"]] for an object, or fail with TypeError
        raise InvalidInput("The body must be a JSON object.")
    try:
        return model.parse_obj(payload)
    except ValidationError as error:
        raise InvalidInput(
            "The body does not match the schema.", errors=json.loads(error.json())
        ) from error


def check_json(payload: Any, *, max_depth: int) -> None:
    """Refuses what JSON allows but the bridge cannot use: nesting deeper than
    `max_depth` (Python's own limit would fail later, anywhere) and strings
    with lone surrogates such as "\\ud800" (no database can store them)."""
    level, depth = [payload], 0
    while level:
        children: list[Any] = []
        nested = False
        for value in level:
            if isinstance(value, str):
                _check_text(value)
            elif isinstance(value, dict):
                nested = True
                _check_text(*value)
                children += value.values()
            elif isinstance(value, list):
                nested = True
                children += value
        depth += nested
        if depth > max_depth:
            raise InvalidInput(f"The body's JSON nests deeper than {max_depth} levels.")
        level = children


def _check_text(*texts: str) -> None:
    for text in texts:
        try:
            text.encode()
        except UnicodeEncodeError as error:
            raise InvalidInput(
                f"The body holds text that is not valid Unicode: {text[:40]!r}."
            ) from error


def parse_id(text: str, name: str) -> int:
    """A record id as clients write it: ASCII digits only (`int` would also
    take "٣", " 3" and "3_0"), within the range a record id can have."""
    if ASCII_NUMBER.fullmatch(text) and 1 <= (number := int(text)) <= MAX_ID:
        return number
    raise InvalidInput(f"{name} must be a whole number from 1 to {MAX_ID}, not {text[:24]!r}.")


def int_param(request: web.Request, name: str) -> int:
    return parse_id(request.match_info[name], name)
