"""What the bridge itself tells customers, in their language. Everything
else customers read comes from the assistant's domain or from agents."""

from __future__ import annotations

from enum import StrEnum


class HandoffState(StrEnum):
    """Where a live handoff stands, on the notices that change it; channels
    that show it (the web widget) read `handoff_state` from the message."""

    CONNECTED = "connected"  # an agent took the conversation
    RELEASED = "released"  # the agent gave it back to the bot
    RESOLVED = "resolved"  # the agent resolved the ticket
    TRANSFERRED = "transferred"  # passed to another agent or back to a queue


NOTICES: dict[str, dict[str, str]] = {
    "agent_joined": {
        "zh": "人工客服 {agent} 已接入，正在查看您的问题。",
        "en": "{agent} from our support team has joined and is looking at your request.",
    },
    "released": {
        "zh": "人工客服已将对话交回智能助手。",
        "en": "The agent has handed the chat back to the assistant.",
    },
    "resolved": {
        "zh": "人工客服已结束本次服务，感谢您的耐心。",
        "en": "The agent has finished helping you. Thank you for your patience.",
    },
    "transferred": {
        "zh": "已为您转接到更合适的客服，请稍候。",
        "en": "We're transferring you to a colleague who can help better; one moment please.",
    },
}


def notice(name: str, language: str, **values: str) -> str:
    texts = NOTICES[name]
    return texts.get(language, texts["zh"]).format(**values)
