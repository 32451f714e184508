"""The bridge's client for Rasa's HTTP API (started with `--enable-api
--jwt-secret`). One aiohttp session for the bridge's lifetime."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt

from handoff.errors import DeliveryFailed, HandoffError, NotFound, RasaUnavailable

logger = logging.getLogger(__name__)

# Rasa answers slowly only while it runs actions; agents should not wait longer.
TIMEOUT = aiohttp.ClientTimeout(total=30, connect=5)
# What the console reads (transcript, slots, agent assist) must not hold an
# opened conversation long when Rasa is down or busy: the console shows what
# the bridge holds meanwhile and asks again by itself.
# Typing is news for a moment only: never worth a longer wait.
TYPING_TIMEOUT = aiohttp.ClientTimeout(total=2, connect=1)
READ_TIMEOUT = aiohttp.ClientTimeout(
    total=float(os.environ.get("HANDOFF_RASA_READ_TIMEOUT_SECONDS", "4")), connect=2
)


# How Rasa answers an append whose bot event the customer's channel refused
# (rasa.server.append_events: the output channel raised, nothing was saved).
CONVERSATION_ERROR = "ConversationError"
UNEXPECTED_ERROR = "An unexpected error occurred. Error: "
MAX_REASON = 500


def delivery_failure(status: int, body: str) -> DeliveryFailed | None:
    """The channel's own words (`addons.channels.errors.DeliveryFailed`) for
    the agent, from Rasa's 500 answer to an append; None for other answers."""
    if status != 500:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("reason") != CONVERSATION_ERROR:
        return None
    reason = str(answer.get("message") or "").removeprefix(UNEXPECTED_ERROR).strip()
    return DeliveryFailed(reason[:MAX_REASON] or None)


class RasaCredentials:
    """Short-lived JWTs for Rasa's API, signed with the secret Rasa was
    started with (`--jwt-secret`, HS256). A header, unlike Rasa's `?token=`,
    stays out of access logs, and a leaked JWT expires within minutes."""

    USERNAME = "handoff-bridge"
    LIFETIME_SECONDS = 300
    # A JWT is reused until this close to its expiry, so a slow request
    # never arrives with an expired one.
    RENEW_BEFORE_SECONDS = 60

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._jwt = ""
        self._expires_at = 0.0

    def headers(self) -> dict[str, str]:
        if not self._secret:
            return {}
        now = time.time()
        if now > self._expires_at - self.RENEW_BEFORE_SECONDS:
            self._expires_at = now + self.LIFETIME_SECONDS
            self._jwt = rasa_api_jwt(self._secret, expires_at=self._expires_at)
        return {"Authorization": f"Bearer {self._jwt}"}


def rasa_api_jwt(
    secret: str, *, expires_at: float, username: str = RasaCredentials.USERNAME
) -> str:
    """Rasa grants every route to the role "admin" (rasa.server.requires_auth)."""
    payload = {"user": {"username": username, "role": "admin"}, "exp": int(expires_at)}
    return jwt.encode(payload, secret, algorithm="HS256")


class RasaClient:
    def __init__(self, *, url: str, token: str, session: aiohttp.ClientSession) -> None:
        self._url = url.rstrip("/")
        self._credentials = RasaCredentials(token)
        self._session = session
        self._domain: dict[str, Any] | None = None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        timeout: aiohttp.ClientTimeout = TIMEOUT,
        refusal: Callable[[int, str], HandoffError | None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """`refusal` turns an error answer into the error the caller should
        see; any other is RasaUnavailable."""
        try:
            async with self._session.request(
                method,
                f"{self._url}{path}",
                params=params,
                timeout=timeout,
                headers={"Accept": "application/json", **self._credentials.headers()},
                **kwargs,
            ) as response:
                if response.status == 404:
                    raise NotFound(f"Rasa has no {path}.")
                if response.status >= 400:
                    body = await response.text()
                    logger.warning(
                        "Rasa %s %s -> %s: %s", method, path, response.status, body[:500]
                    )
                    if refusal is not None and (error := refusal(response.status, body)):
                        raise error
                    raise RasaUnavailable(f"The assistant refused the request ({response.status}).")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.warning("Rasa %s %s failed: %s", method, path, error)
            raise RasaUnavailable() from error

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        return await self._request(
            "GET",
            f"/conversations/{_quote(conversation_id)}/tracker",
            params={"include_events": "ALL"},
            timeout=READ_TIMEOUT,
        )

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        """Logs events and sends any bot utterance among them on the channel
        the customer last wrote from; DeliveryFailed when that channel did
        not take it (Rasa then logged nothing)."""
        await self._request(
            "POST",
            f"/conversations/{_quote(conversation_id)}/tracker/events",
            params={
                "include_events": "NONE",
                "output_channel": "latest",
                "execute_side_effects": "true",
            },
            json=events,
            refusal=delivery_failure,
        )

    async def trigger_intent(
        self, conversation_id: str, intent: str, entities: dict[str, Any] | None = None
    ) -> None:
        await self._request(
            "POST",
            f"/conversations/{_quote(conversation_id)}/trigger_intent",
            params={"output_channel": "latest", "include_events": "NONE"},
            json={"name": intent, "entities": entities or {}},
        )

    async def agent_typing(self, conversation_id: str, *, typing: bool, agent_name: str) -> None:
        """The web channel (`addons.channels.socketio`) shows the customer
        that their agent is typing; it checks the same JWT Rasa's API does."""
        await self._request(
            "POST",
            "/webhooks/socketio/typing",
            json={"conversation_id": conversation_id, "typing": typing, "agent_name": agent_name},
            timeout=TYPING_TIMEOUT,
        )

    async def parse(self, text: str) -> dict[str, Any]:
        return await self._request(
            "POST", "/model/parse", json={"text": text}, timeout=READ_TIMEOUT
        )

    async def domain(self) -> dict[str, Any]:
        """Cached: the domain only changes when Rasa loads a new model, and the
        console merely reads FAQ answers from it."""
        if self._domain is None:
            self._domain = await self._request("GET", "/domain", timeout=READ_TIMEOUT)
        return self._domain


def _quote(conversation_id: str) -> str:
    return quote(conversation_id, safe="")
