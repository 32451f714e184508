"""Message metadata only the server writes, whatever the channel.

Tickets read the customer's identity from a message's metadata, and the
bridge marks its own messages there, so a client that could send these keys
could claim to be a verified customer or speak as an agent. Every channel
that passes a client's metadata on drops them first (`client_metadata`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The customer's identity, and what the channel or the bridge add (an
# uploaded file, an agent's message).
SERVER_KEYS = frozenset(
    {
        "customer_name",
        "contact",
        "customer_id",
        "identity_verified",
        "attachment",
        "agent_id",
        "agent_name",
        "agent_avatar",
        "handoff_state",
        "ticket_id",
        "message_id",
        "is_external",
    }
)


def client_metadata(
    client: Mapping[str, Any], *, keep: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The client's metadata without the server's keys, but for those in
    `keep` that this channel takes from its clients as they are."""
    return {key: value for key, value in client.items() if key not in SERVER_KEYS - keep}
