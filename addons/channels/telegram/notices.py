"""What the Telegram channel itself tells a customer, in their language
(their Telegram's `language_code`; Chinese when unknown)."""

from __future__ import annotations

from enum import StrEnum


class Notice(StrEnum):
    TYPE_INSTEAD = "type_instead"
    UNSUPPORTED = "unsupported"
    FILES_FOR_AGENTS = "files_for_agents"
    FILE_REFUSED = "file_refused"
    FILE_NOT_DELIVERED = "file_not_delivered"
    BUTTON_EXPIRED = "button_expired"
    SLOW_DOWN = "slow_down"


TEXTS: dict[Notice, dict[str, str]] = {
    Notice.TYPE_INSTEAD: {
        "zh": "抱歉，我还听不了语音消息，请把您的问题打字发给我。",
        "en": "Sorry, I can't listen to voice messages yet; please type your question.",
    },
    Notice.UNSUPPORTED: {
        "zh": "抱歉，这类消息我还看不懂，请用文字告诉我。",
        "en": "Sorry, I can't read this kind of message; please tell me in words.",
    },
    Notice.FILES_FOR_AGENTS: {
        "zh": "图片和文件只有人工客服能看到。请先用文字描述问题，转人工后再发送。",
        "en": (
            "Only our human agents can see photos and files. Please describe your "
            "question in words; you can send the file once an agent is with you."
        ),
    },
    Notice.FILE_REFUSED: {
        "zh": "这个文件没能转给客服：{reason}",
        "en": "This file could not be passed to the agent: {reason}",
    },
    Notice.FILE_NOT_DELIVERED: {
        "zh": "文件暂时没能送到客服那里，请稍后再发一次。",
        "en": "Your file could not reach the agent just now; please send it again shortly.",
    },
    Notice.BUTTON_EXPIRED: {
        "zh": "这个按钮已失效，请直接打字告诉我。",
        "en": "That button has expired; please type your answer instead.",
    },
    Notice.SLOW_DOWN: {
        "zh": "您发送得太快了，请稍等几秒再发，刚才的消息没有收到。",
        "en": "You are sending messages too fast; please wait a few seconds and send it again.",
    },
}


def notice(name: Notice, language: str, **values: str) -> str:
    texts = TEXTS[name]
    return texts.get(language, texts["zh"]).format(**values)
