"""The channels' client for the handoff bridge: a customer's image or file
goes to their conversation's ticket, where the agent sees it.

Where the bridge is and its token come from the Rasa process's environment
(`HANDOFF_URL`, `HANDOFF_API_TOKEN`, set by the launcher). One aiohttp
session serves every upload on Rasa's event loop; nothing here imports
sanic or rasa, so a connector calls `upload_attachment` and decides what to
tell the customer from the error it gets.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import quote

import aiohttp

from addons.channels.http import LoopBoundSession

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:5056"
# A 10 MB file on loopback takes well under a second; a stuck bridge must
# not hold a channel's webhook for long.
TIMEOUT = aiohttp.ClientTimeout(total=30, connect=3)
# Statuses with which the bridge refuses this file for good (too large, type
# not allowed, no open ticket, invalid form); anything else is the bridge's
# trouble, not the customer's.
REFUSALS = frozenset({400, 409, 413, 415, 422})


class AttachmentRefused(Exception):
    """The bridge will not keep this file; `code` says why (the bridge's
    `attachment_too_large`, `attachment_type_not_allowed`, `no_open_ticket`...)."""

    def __init__(self, message: str, code: str) -> None:
        self.message = message
        self.code = code
        super().__init__(message)


class BridgeUnavailable(Exception):
    """The bridge could not be reached, or failed, or refused our token."""


class HandoffClient:
    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = (url or os.environ.get("HANDOFF_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("HANDOFF_API_TOKEN", "")
        self._http = LoopBoundSession(
            timeout=TIMEOUT, headers={"Authorization": f"Bearer {self.token}"}
        )

    async def upload_attachment(
        self, conversation_id: str, *, filename: str, content_type: str, data: bytes, channel: str
    ) -> dict[str, Any]:
        """Keeps the file on the conversation's live (else latest open)
        ticket; returns `{"id", "name", "content_type", "size", "url"}`."""
        if not self.token:
            raise BridgeUnavailable("HANDOFF_API_TOKEN is not set.")
        # The name as browsers send it, in UTF-8 (aiohttp would otherwise
        # percent-encode it, and servers show it so); no line breaks in a header.
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("channel", channel)
        form.add_field(
            "file",
            data,
            filename="".join(ch for ch in filename if ch.isprintable()) or "attachment",
            content_type=content_type or "application/octet-stream",
        )
        path = f"/api/conversations/{quote(conversation_id, safe='')}/attachments"
        try:
            async with self._http.get().post(f"{self.url}{path}", data=form) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            logger.warning("Bridge upload for %s failed: %s", conversation_id, error)
            raise BridgeUnavailable(f"The bridge could not be reached: {error}") from error
        if status < 300:
            return body
        detail = body.get("error", {}) if isinstance(body, dict) else {}
        message = detail.get("message") or f"The bridge answered {status}."
        if status in REFUSALS:
            raise AttachmentRefused(message, detail.get("code", "refused"))
        logger.warning("Bridge refused an upload for %s (%s): %s", conversation_id, status, message)
        raise BridgeUnavailable(message)

    async def close(self) -> None:
        await self._http.close()


_default: HandoffClient | None = None


def default_client() -> HandoffClient:
    """The process's client, configured from the environment on first use."""
    global _default
    if _default is None:
        _default = HandoffClient()
    return _default


async def upload_attachment(
    conversation_id: str, *, filename: str, content_type: str, data: bytes, channel: str
) -> dict[str, Any]:
    """`HandoffClient.upload_attachment` on the process's client."""
    return await default_client().upload_attachment(
        conversation_id, filename=filename, content_type=content_type, data=data, channel=channel
    )
