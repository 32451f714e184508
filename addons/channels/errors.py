"""Why a channel refuses an inbound message.

Each error has a stable `code` for clients and a default message; only the
channel modules turn them into HTTP statuses or socket.io events.
"""

from __future__ import annotations

from typing import Any


class ChannelError(Exception):
    """Base of every refusal; the message changed nothing on our side."""

    code = "bad_request"
    default_message = "The message could not be accepted."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        """The body clients get, shaped like the handoff bridge's errors."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class MalformedBody(ChannelError):
    code = "malformed_body"
    default_message = "The body must be a JSON object."


class BodyTooLarge(ChannelError):
    code = "body_too_large"
    default_message = "The request body is too large."


class InvalidPacket(ChannelError):
    code = "invalid_packet"
    default_message = "The body holds an engine.io packet that clients do not send."


class InvalidSenderId(ChannelError):
    code = "invalid_sender_id"
    default_message = "The sender id has an invalid shape."


class InvalidMessage(ChannelError):
    code = "invalid_message"
    default_message = "The message must be a string."


class MessageTooLong(ChannelError):
    code = "message_too_long"
    default_message = "The message is too long; please split it."


class InvalidMetadata(ChannelError):
    code = "invalid_metadata"
    default_message = "The metadata must be a JSON object."


class MetadataTooLarge(ChannelError):
    code = "metadata_too_large"
    default_message = "The metadata is too large."


class RateLimited(ChannelError):
    code = "rate_limited"
    default_message = "Too many messages from this sender; please slow down."

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(retry_after_seconds=round(retry_after, 1))


class InvalidSignature(ChannelError):
    """The platform's signature or secret is missing, wrong or too old:
    nothing in the request is trusted or processed."""

    code = "invalid_signature"
    default_message = "The request's signature is missing or wrong."


class DuplicateMessage(ChannelError):
    """A message already received (a replay, or the sender's retry)."""

    code = "duplicate_message"
    default_message = "This message was already received."


class ChannelNotConfigured(ChannelError):
    """The channel is listed in credentials.yml but its secrets are empty."""

    code = "channel_not_configured"
    default_message = "This channel is not configured on this server."


class NotAuthorized(ChannelError):
    """A route's bearer token is missing or does not verify."""

    code = "not_authorized"
    default_message = "The request's bearer token is missing or wrong."


class InvalidSession(ChannelError):
    """A web chat session token this server did not issue, or that expired."""

    code = "invalid_session"
    default_message = "The session is unknown or has expired; please ask for a new session."


class AttachmentTypeNotAllowed(ChannelError):
    code = "attachment_type_not_allowed"
    default_message = "This type of file cannot be sent."


class NoOpenTicket(ChannelError):
    """Files reach agents only: without a handoff nobody would see it."""

    code = "no_open_ticket"
    default_message = "Files can be sent while you are talking with an agent."


class BridgeUnavailable(ChannelError):
    code = "bridge_unavailable"
    default_message = "Files cannot be received right now; please try again later."


class AssistantUnavailable(ChannelError):
    """The message could not be handled because a server the assistant
    needs is away (the lock store's Redis, the tracker store's database):
    nothing of it was kept, so the customer should send it again."""

    code = "assistant_unavailable"
    default_message = (
        "抱歉，系统暂时繁忙，请稍后再发一次。"
        "Sorry, we could not take your message just now; please send it again in a moment."
    )


class DeliveryFailed(Exception):
    """A platform did not take a message going out to a customer.

    Raised from an output channel, it fails Rasa's append of the agent's
    message (Rasa then saves nothing) and its text reaches the agent in the
    console, so it says in plain words what happened and what to do.
    """

    def __init__(self, message: str, *, code: str | int | None = None) -> None:
        self.message = message
        self.code = code
        super().__init__(message)


class InvalidInputChannel(ChannelError):
    """A client naming another channel than its own: agents' replies follow
    a conversation's latest input channel, so it would have them sent there."""

    code = "invalid_input_channel"
    default_message = "The input_channel must be left out or be this channel's own name."
