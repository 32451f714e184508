"""The shop's site that embeds the web chat.

It shares `WEB_IDENTITY_SECRET` with the web channel and signs its
signed-in users for the widget on its own server, as docs/channels.md
("Identity from your site") tells site owners to. It serves no page here:
the browser tests host theirs (tests/integration/widget_page.py).
"""

from __future__ import annotations

import secrets
from typing import Any

from addons.channels.web_identity import identity_signature


class FakeWebSite:
    def __init__(self) -> None:
        self.identity_secret = secrets.token_hex(32)
        self.environment = {"WEB_IDENTITY_SECRET": self.identity_secret}

    async def start(self) -> None:
        """Nothing to run: the site's part is the secret and its signatures."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def signed_in(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """The widget's `customer` for a user signed in on the site."""
        return {
            "id": user_id,
            **fields,
            "signature": identity_signature(self.identity_secret, user_id),
        }
