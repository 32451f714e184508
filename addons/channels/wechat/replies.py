"""What the channel says on WeChat: the bot's and agents' messages as
WeChat text, passive replies, and the channel's own polite notices.

A passive reply carries one text and no buttons, so buttons become options
the customer answers by typing: a button whose payload is an intent
shortcut (`/order_status`) is numbered ("1. 查询订单") and "1", or its title,
is read back as its payload; a button whose payload is plain text (the CSAT
scores "5".."1") is shown by its title, and the customer types the payload
itself. Only the options just offered are mapped, and Rasa
(addons/rasa_fixes.py) unpacks a shortcut only if the bot offered it, so
typing reaches nothing a click could not.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply

# Rasa's INTENT_MESSAGE_PREFIX (this module imports no rasa).
SHORTCUT_PREFIX = "/"
# A passive reply's text is at most 2,048 bytes; a longer answer goes out
# as customer-service messages instead.
PASSIVE_TEXT_MAX_BYTES = 2048
# Characters XML 1.0 cannot carry at all; WeChat would refuse the reply.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Followers whose offered options are remembered; the least recent go first.
MAX_REMEMBERED_MENUS = 100_000

# The channel's own words. The conversation's language is not known here,
# so each speaks both.
SLOW_DOWN = (
    "您发送得太快了，请稍等几秒再发。You are sending messages too fast; please wait a few seconds."
)
NOT_ACCEPTED = (
    "抱歉，这条消息未能接收，请分成几条较短的文字发送。"
    "Sorry, this message could not be accepted; please send it as shorter text messages."
)
VOICE_NOT_RECOGNISED = (
    "抱歉，没能听清这段语音，请直接输入文字。"
    "Sorry, I could not make out this voice message; please type your question."
)
UNSUPPORTED = (
    "抱歉，暂时无法处理这类消息，请发送文字。"
    "Sorry, I cannot read this kind of message yet; please send text."
)
PICTURES_FOR_AGENTS = (
    "图片只有人工客服能看到；需要人工帮助请输入“转人工”。"
    "Only our human agents see pictures; type “human” to talk to one."
)
PICTURE_NOT_PASSED = (
    "抱歉，这张图片未能转给客服，请稍后再试或用文字描述。"
    "Sorry, this picture could not be passed to the agent; please try again or describe it."
)
OPTIONS_HINT = "（回复序号选择 / reply with a number）"


@dataclass(frozen=True)
class Outgoing:
    """One bot or agent message as WeChat text, with what typing may choose."""

    text: str
    choices: dict[str, str] = field(default_factory=dict)


def render(message: dict[str, Any]) -> Outgoing:
    """A Rasa response (`BotUttered.message()`) as WeChat text.

    An agent's own words are headed by the agent's name, so the customer
    knows a person is writing; the bridge's notices (`handoff_state`) are not.
    Images go as their address: a 客服消息 image needs media uploaded first.
    """
    lines: list[str] = []
    text = (message.get("text") or "").strip()
    agent_name = message.get("agent_name")
    if text and agent_name and message.get("agent_id") and not message.get("handoff_state"):
        text = f"【{agent_name}】{text}"
    if text:
        lines.append(text)
    if image := message.get("image"):
        lines.append(f"[图片 / image] {image}")
    buttons = [
        button
        for button in (message.get("buttons") or message.get("quick_replies") or [])
        if isinstance(button, dict) and isinstance(button.get("payload"), str)
    ]
    choices: dict[str, str] = {}
    number = 0
    for button in buttons:
        title, payload = str(button.get("title") or button["payload"]), button["payload"].strip()
        if payload.startswith(SHORTCUT_PREFIX):
            number += 1
            choices[str(number)] = payload
            choices[title.strip()] = payload
            lines.append(f"{number}. {title}")
        else:
            lines.append(title if title.startswith(payload) else f"{payload}（{title}）")
    if number:
        lines.append(OPTIONS_HINT)
    return Outgoing(xml_safe("\n".join(lines)), choices)


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


def passive_text(outgoing: list[Outgoing]) -> str | None:
    """The texts as one passive reply, or None when they do not fit in one."""
    text = "\n\n".join(item.text for item in outgoing if item.text)
    if not text or len(text.encode()) > PASSIVE_TEXT_MAX_BYTES:
        return None
    return text


def text_reply(message: BaseMessage, content: str) -> str:
    """A passive text reply to `message`, as XML.

    wechatpy writes each field into `<![CDATA[...]]>` as it is, so a text
    holding "]]>" (a customer's words echoed by the bot) would end the
    CDATA and write its own XML; such a text is split over two CDATA
    sections instead.
    """
    reply = TextReply(
        source=_cdata_safe(message.target),
        target=_cdata_safe(message.source),
        content=_cdata_safe(xml_safe(content)),
    )
    return reply.render()


def _cdata_safe(text: str) -> str:
    return text.replace("]]>", "]]]]><![CDATA[>")


class OfferedOptions:
    """The options last offered to each follower, so "1" means the first."""

    def __init__(self, max_followers: int = MAX_REMEMBERED_MENUS) -> None:
        self._choices: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._max = max_followers

    def offer(self, openid: str, choices: dict[str, str]) -> None:
        if not choices:
            return
        self._choices.pop(openid, None)
        self._choices[openid] = choices
        if len(self._choices) > self._max:
            self._choices.popitem(last=False)

    def remembers(self, openid: str) -> bool:
        return openid in self._choices

    def read(self, openid: str, text: str) -> str:
        """What the customer's text chooses; options are forgotten once
        answered, as Rasa forgets offered buttons after the next user turn."""
        choices = self._choices.pop(openid, {})
        return choices.get(text.strip(), text)
