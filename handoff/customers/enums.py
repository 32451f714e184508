"""Kinds of identity a customer is recognised by."""

from __future__ import annotations

from enum import StrEnum


class IdentityKind(StrEnum):
    """Besides these, a channel whose user ids are the platform's own
    (`platform_ids` in channels.yml) is a kind of its own: `wechat`,
    `telegram`."""

    PHONE = "phone"
    EMAIL = "email"
    # Our site's user id: the same on the web widget, the app and REST.
    USER = "user"
    # The key of a customer nobody verified: their one conversation.
    CONVERSATION = "conversation"
