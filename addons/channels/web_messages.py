"""What the web widget receives: live messages and the replayed history.

Both are built from what Rasa holds for a bot turn (`BotUttered.message()`:
`{**data, "text", "timestamp", **metadata}`, or the stored `bot` event).
An agent's message is one payload marked `sender: "agent"` with the
agent's name and avatar; a bot's buttons are rasa-webchat's
`quick_replies`; a handoff step (the handoff action's queue position, or
the bridge's `handoff_state` notices) is a `handoff` field the widget shows
as "connecting / you are number N".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypedDict

HANDOFF_STATES = frozenset({"queued", "connecting", "connected", "released", "resolved"})


class AgentInfo(TypedDict):
    id: Any
    name: str | None
    avatar: str | None


class Handoff(TypedDict, total=False):
    state: str
    position: int
    ticket_id: Any


def bot_payload(message: Mapping[str, Any]) -> dict[str, Any]:
    """One `bot_uttered` payload for one bot or agent message.

    At the top only what rasa-webchat reads (`text`, `quick_replies`, an
    image `attachment`): it drops a message with any other key. Ours
    (`sender`, `agent`, `handoff`, `message_id`, `at`, `custom`) are under
    `metadata`, which rasa-webchat strips and our widget reads.
    """
    payload: dict[str, Any] = {"text": message.get("text")}
    buttons = _buttons(message)
    if buttons:
        payload["quick_replies"] = [
            {"content_type": "text", "title": b["title"], "payload": b["payload"]} for b in buttons
        ]
    image = message.get("image")
    if isinstance(image, str) and image:
        payload["attachment"] = {"type": "image", "payload": {"src": image}}
    ours: dict[str, Any] = {"sender": "bot"}
    agent = agent_info(message)
    if agent is not None:
        ours["sender"] = "agent"
        ours["agent"] = agent
    handoff = handoff_step(message)
    if handoff:
        ours["handoff"] = handoff
    custom = {k: v for k, v in (message.get("custom") or {}).items() if k != "handoff"}
    if custom:
        ours["custom"] = custom
    if message.get("message_id") is not None:
        ours["message_id"] = message["message_id"]
    if message.get("timestamp") is not None:
        ours["at"] = _iso(message["timestamp"])
    payload["metadata"] = ours
    return payload


def agent_info(message: Mapping[str, Any]) -> AgentInfo | None:
    if message.get("agent_id") is None:
        return None
    return {
        "id": message["agent_id"],
        "name": message.get("agent_name"),
        "avatar": message.get("agent_avatar"),
    }


def handoff_step(message: Mapping[str, Any]) -> Handoff | None:
    """The handoff action's `custom.handoff`, else the bridge's `handoff_state`."""
    custom = message.get("custom")
    step = custom.get("handoff") if isinstance(custom, Mapping) else None
    if isinstance(step, Mapping) and step.get("state") in HANDOFF_STATES:
        handoff: Handoff = {"state": step["state"]}
        if isinstance(step.get("position"), int):
            handoff["position"] = step["position"]
        if step.get("ticket_id") is not None:
            handoff["ticket_id"] = step["ticket_id"]
        return handoff
    state = message.get("handoff_state")
    if state in HANDOFF_STATES:
        handoff = {"state": state}
        if message.get("ticket_id") is not None:
            handoff["ticket_id"] = message["ticket_id"]
        return handoff
    return None


def history(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as the customer saw it, from the tracker's events.

    Triggered intents (the greeting's, the bridge's) and empty turns are
    left out; a clicked button shows as its title.
    """
    entries: list[dict[str, Any]] = []
    offered: dict[str, str] = {}
    for event in events:
        kind = event.get("event")
        metadata = event.get("metadata") or {}
        if kind == "user":
            text = (event.get("text") or "").strip()
            if metadata.get("is_external") or not text:
                continue
            entry = _entry("customer", offered.get(text, text), event)
            if isinstance(metadata.get("attachment"), Mapping):
                entry["attachment"] = metadata["attachment"]
            entries.append(entry)
            offered = {}
        elif kind == "bot":
            message = {**(event.get("data") or {}), **metadata, "text": event.get("text")}
            agent = agent_info(message)
            entry = _entry("agent" if agent else "bot", event.get("text"), event)
            entry["buttons"] = _buttons(message)
            image = message.get("image")
            entry["image"] = image if isinstance(image, str) and image else None
            if agent:
                entry["agent"] = {"name": agent["name"], "avatar": agent["avatar"]}
            handoff = handoff_step(message)
            if handoff:
                entry["handoff"] = handoff
            entries.append(entry)
            offered = {b["payload"]: b["title"] for b in entry["buttons"]}
    return entries


def _entry(sender: str, text: str | None, event: Mapping[str, Any]) -> dict[str, Any]:
    timestamp = event.get("timestamp")
    return {"sender": sender, "text": text, "at": _iso(timestamp) if timestamp else None}


def _buttons(message: Mapping[str, Any]) -> list[dict[str, str]]:
    buttons = message.get("buttons") or message.get("quick_replies") or []
    return [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in buttons
        if isinstance(b, Mapping) and isinstance(b.get("payload"), str)
    ]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(float(timestamp), UTC).isoformat()
