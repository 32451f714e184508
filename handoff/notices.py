"""What the bridge itself tells customers, in their language. Everything
else customers read comes from the assistant's domain or from agents."""

from __future__ import annotations

NOTICES: dict[str, dict[str, str]] = {
    "agent_joined": {
        "zh": "人工客服 {agent} 已接入，正在查看您的问题。",
        "en": "{agent} from our support team has joined and is looking at your request.",
    },
    "transferred": {
        "zh": "已为您转接到更合适的客服，请稍候。",
        "en": "We're transferring you to a colleague who can help better; one moment please.",
    },
}


def notice(name: str, language: str, **values: str) -> str:
    texts = NOTICES[name]
    return texts.get(language, texts["zh"]).format(**values)
