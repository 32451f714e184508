"""Errors of the shop backend. Actions turn them into messages for the customer."""

from __future__ import annotations


class ShopError(Exception):
    """Base of every shop backend error; ``code`` names the response to send."""

    code = "shop_error"
    default_message = "The shop backend could not do that."

    def __init__(self, message: str | None = None, **details: object) -> None:
        super().__init__(message or self.default_message)
        self.details = details


class OrderNotFound(ShopError):
    code = "order_not_found"
    default_message = "No order with this number."


class OrderStateError(ShopError):
    """The order exists but its state does not allow the operation.

    ``problem`` says why (e.g. ``in_transit``), so each reason gets its own reply.
    """

    code = "order_state"
    default_message = "The order's status does not allow this."

    def __init__(self, problem: str, message: str | None = None, **details: object) -> None:
        super().__init__(message or f"{self.default_message} ({problem})", **details)
        self.problem = problem
