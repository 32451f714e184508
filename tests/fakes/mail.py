"""A mail provider on loopback: a real SMTP server (aiosmtpd) standing in
for the provider's relay and the customers' mailboxes. Everything the
e-mail channel sends lands here and is kept, parsed, for the tests to read.

Its `environment` turns the stack's e-mail channel on: the relay is this
server, the channel's own SMTP receiver gets a free port, and the
inbound-parse webhook a token.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from scripts.stack import LOOPBACK, free_port

SUPPORT_ADDRESS = "support@cloudpick.test"


class FakeMailProvider:
    def __init__(self) -> None:
        self.environment: dict[str, str] = {}
        self.delivered: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        # Recipients whose mailbox does not exist: RCPT gets 550.
        self.unknown_recipients: set[str] = set()
        self._server: asyncio.Server | None = None
        self._arrived: asyncio.Condition | None = None
        self._directory = tempfile.TemporaryDirectory(prefix="fake-mail-")

    async def start(self) -> None:
        self._arrived = asyncio.Condition()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="mail.provider.test", enable_SMTPUTF8=True),
            host=LOOPBACK,
            port=0,
        )
        port = self._server.sockets[0].getsockname()[1]
        self.environment = {
            "MAIL_FROM": f"云选客服 CloudPick <{SUPPORT_ADDRESS}>",
            "MAIL_SMTP_RELAY_HOST": LOOPBACK,
            "MAIL_SMTP_RELAY_PORT": str(port),
            "MAIL_SMTP_RELAY_STARTTLS": "false",
            "MAIL_SMTP_HOST": LOOPBACK,
            "MAIL_SMTP_PORT": str(free_port()),
            "MAIL_INBOUND_TOKEN": secrets.token_urlsafe(16),
            "MAIL_THREADS_DB": str(Path(self._directory.name) / "mail-threads.db"),
        }

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._directory.cleanup()

    @property
    def channel_port(self) -> int:
        """Where the channel's own SMTP receiver listens."""
        return int(self.environment["MAIL_SMTP_PORT"])

    # aiosmtpd's handler hooks
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.lower() in self.unknown_recipients:
            return "550 5.1.1 User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert self._arrived is not None
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or b"")
        async with self._arrived:
            self.delivered.append(message)
            self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
            self._arrived.notify_all()
        return "250 OK"

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.delivered if address.lower() in str(m["To"]).lower()]

    async def next_mail(self, address: str, after: int, timeout: float = 30) -> EmailMessage:
        """The first mail to `address` after the first `after` ones."""
        assert self._arrived is not None

        def arrived() -> Any:
            mails = self.mails_to(address)
            return mails[after] if len(mails) > after else None

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(arrived), timeout)
        return arrived()
