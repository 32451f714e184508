"""The bridge's errors. Each carries the HTTP status and a stable code; only
the error middleware in `web.py` turns them into responses."""

from __future__ import annotations


class HandoffError(Exception):
    status = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(self, message: str | None = None, **details: object) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details


class InvalidInput(HandoffError):
    status = 422
    code = "invalid_input"
    message = "The request body is not valid."


class BodyTooLarge(HandoffError):
    status = 413
    code = "body_too_large"
    message = "The request body is too large."


class NotAuthenticated(HandoffError):
    status = 401
    code = "not_authenticated"
    message = "Sign in or send a valid API token."


class Forbidden(HandoffError):
    status = 403
    code = "forbidden"
    message = "Your role does not allow this."


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


class RasaUnavailable(HandoffError):
    status = 502
    code = "rasa_unavailable"
    message = "The assistant did not accept the message; try again."
