"""The signature on every request between an app and us, both ways.

    X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

The timestamp is signed with the body, so a captured request cannot be sent
again once it is older than the replay window (5 minutes); within it, the
receiver remembers what it took. Compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from addons.channels.errors import InvalidSignature

HEADER = "X-Signature"
REPLAY_WINDOW_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The X-Signature header for `body`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    now: float | None = None,
    window: float = REPLAY_WINDOW_SECONDS,
) -> str:
    """The request's signature if it is right and fresh; else InvalidSignature."""
    fields: dict[str, list[str]] = {}
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise InvalidSignature(f"The {HEADER} header is missing or has no t=<unix time>.") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > window:
        raise InvalidSignature(
            f"The signature's time is more than {int(window)} seconds from ours; "
            "sign each request when sending it (and check the clock)."
        )
    expected = signature(secret, timestamp, body)
    for candidate in fields.get("v1", []):
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            return expected
    raise InvalidSignature("The signature does not match the body.")
