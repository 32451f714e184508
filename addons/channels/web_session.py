"""Web chat sessions that belong to their customer: tokens signed by the server.

Rasa's socket.io channel took any `session_id` a client sent as its room and
conversation, so whoever knew or guessed one read that customer's agent
replies. Here the server issues each session a token:

    <nonce>.<issued at, unix seconds>.<HMAC-SHA256(secret, nonce.issued), base64url>

A token that does not verify (forged, altered, expired, signed with another
secret) opens nothing: the client gets a fresh session instead. The Rasa
sender id is another HMAC of the nonce, so the ids agents and logs see
cannot be turned back into a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# A session a customer has not resumed for this long starts afresh.
SESSION_LIFETIME_SECONDS = 30 * 24 * 3600
SENDER_PREFIX = "web-"
_NONCE_BYTES = 16
_SENDER_HEX_CHARS = 32
# Domain separation: the same secret signs tokens and derives sender ids.
_TOKEN_CONTEXT = b"web-session-token:"
_SENDER_CONTEXT = b"web-session-sender:"


@dataclass(frozen=True)
class WebSession:
    """A verified session: the token the client keeps, and its conversation."""

    token: str
    sender_id: str


class SessionTokens:
    """Issues and verifies session tokens with one secret."""

    def __init__(
        self,
        secret: str,
        *,
        lifetime_seconds: float = SESSION_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            secret = secrets.token_hex(32)
            logger.warning(
                "WEB_SESSION_SECRET is not set: web chat sessions are signed with a "
                "secret made for this process and will not survive a restart."
            )
        self._key = secret.encode()
        self._lifetime = lifetime_seconds
        self._clock = clock

    def issue(self) -> WebSession:
        nonce = _b64(secrets.token_bytes(_NONCE_BYTES))
        signed = f"{nonce}.{int(self._clock())}"
        return WebSession(f"{signed}.{self._sign(signed)}", self._sender_id(nonce))

    def open(self, token: object) -> WebSession | None:
        """The session of a token this server issued and that has not expired."""
        if not isinstance(token, str) or len(token) > 256:
            return None
        signed, _, signature = token.rpartition(".")
        nonce, _, issued = signed.partition(".")
        if not nonce or not issued.isdigit():
            return None
        if not hmac.compare_digest(signature.encode(), self._sign(signed).encode()):
            return None
        if self._clock() - int(issued) > self._lifetime:
            return None
        return WebSession(token, self._sender_id(nonce))

    def _sign(self, signed: str) -> str:
        return _b64(hmac.digest(self._key, _TOKEN_CONTEXT + signed.encode(), hashlib.sha256))

    def _sender_id(self, nonce: str) -> str:
        digest = hmac.new(self._key, _SENDER_CONTEXT + nonce.encode(), hashlib.sha256)
        return SENDER_PREFIX + digest.hexdigest()[:_SENDER_HEX_CHARS]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
