"""The bridge's errors. Each carries the HTTP status and a stable code; only
the error middleware in `web.py` turns them into responses."""

from __future__ import annotations

import math


class HandoffError(Exception):
    status = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(self, message: str | None = None, **details: object) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer needs besides the JSON body."""
        return {}


class InvalidInput(HandoffError):
    status = 422
    code = "invalid_input"
    message = "The request body is not valid."


class BodyTooLarge(HandoffError):
    status = 413
    code = "body_too_large"
    message = "The request body is too large."


class UnsupportedMediaType(HandoffError):
    status = 415
    code = "unsupported_media_type"
    message = "Send the body as JSON (Content-Type: application/json)."


class NotAuthenticated(HandoffError):
    status = 401
    code = "not_authenticated"
    message = "Sign in or send a valid API token."


class Forbidden(HandoffError):
    status = 403
    code = "forbidden"
    message = "Your role does not allow this."


class ForeignOrigin(Forbidden):
    code = "foreign_origin"
    message = "Requests from this origin may not act with a console session."


class NotFound(HandoffError):
    status = 404
    code = "not_found"
    message = "No such record."


class InvalidTransition(HandoffError):
    status = 409
    code = "invalid_transition"
    message = "The ticket cannot move to that status from its current one."


class AlreadyClaimed(HandoffError):
    status = 409
    code = "already_claimed"
    message = "Another agent has already taken this conversation."


class Conflict(HandoffError):
    status = 409
    code = "conflict"
    message = "The record changed; reload it and try again."


class NoOpenTicket(HandoffError):
    status = 409
    code = "no_open_ticket"
    message = "This conversation has no open ticket to keep the file on."


class AttachmentTooLarge(HandoffError):
    status = 413
    code = "attachment_too_large"
    message = "The file is too large."


class AttachmentTypeNotAllowed(HandoffError):
    status = 415
    code = "attachment_type_not_allowed"
    message = "Only images (JPEG, PNG, GIF, WebP), PDF, plain text and office documents are kept."


class RasaUnavailable(HandoffError):
    status = 502
    code = "rasa_unavailable"
    message = "The assistant did not accept the message; try again."


class RetryLater(HandoffError):
    """Refused for now; `Retry-After` says when asking again can succeed."""

    def __init__(self, message: str | None = None, *, retry_after: float, **details: object):
        super().__init__(message, **details)
        self.retry_after = max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TooManyAttempts(RetryLater):
    status = 429
    code = "too_many_attempts"
    message = "Too many failed sign-ins; wait before trying again."


class Busy(RetryLater):
    status = 503
    code = "busy"
    message = "The bridge is busy checking other sign-ins; try again shortly."


class DeliveryFailed(HandoffError):
    """The customer's channel did not take an agent's message (Rasa's output
    channel raised `addons.channels.errors.DeliveryFailed`); the message says
    why in the channel's words, for the agent."""

    status = 502
    code = "delivery_failed"
    message = "The customer's channel did not take the message."
