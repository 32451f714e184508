"""Who the web customer is, as the host page says, in the metadata tickets read.

A site with signed-in customers passes them to the widget as
`customer: {id, name, email, phone, signature}`, where `signature` is the
hex HMAC-SHA256 of `id` under the secret the site shares with us
(`WEB_IDENTITY_SECRET`), as Chatwoot's identity validation does. The site
computes it on its server, so a visitor cannot sign another id.

Only a matching signature makes the identity verified: the ticket then
carries the site's user id, which links the customer across channels. An
unsigned (or wrongly signed) identity still gives the agent a name and a
contact to go by, marked unverified, and no user id.

The widget sends what it has as `customData` (rasa-webchat's name) or
`metadata`; Rasa reads `metadata`. The keys tickets read are ours to set,
so a client sending them directly is ignored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from addons.channels.metadata import client_metadata

IDENTITY_KEY = "customer"
MAX_FIELD_CHARS = 255


def identity_signature(secret: str, user_id: str) -> str:
    """What the site computes on its server for its signed-in user."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def customer_metadata(client: Mapping[str, Any], identity_secret: str) -> dict[str, Any]:
    """The client's metadata without server keys, plus the identity tickets read."""
    metadata = client_metadata(client)
    identity = metadata.pop(IDENTITY_KEY, None)
    if not isinstance(identity, Mapping):
        return metadata
    user_id = _field(identity.get("id"))
    verified = bool(identity_secret and user_id) and _signed(
        identity_secret, user_id, identity.get("signature")
    )
    facts = {
        "customer_name": _field(identity.get("name")),
        "contact": _field(identity.get("phone")) or _field(identity.get("email")),
        "customer_id": user_id if verified else None,
        "identity_verified": verified,
    }
    return {**metadata, **{key: value for key, value in facts.items() if value is not None}}


def _signed(secret: str, user_id: str, signature: Any) -> bool:
    if not isinstance(signature, str):
        return False
    expected = identity_signature(secret, user_id)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def _field(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_FIELD_CHARS]
