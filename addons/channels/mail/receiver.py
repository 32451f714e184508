"""The SMTP server customers' mail arrives at (the MX, or a hop behind the
provider's), with aiosmtpd on Rasa's own event loop.

A mail is handled before the DATA command is answered: 250 once the
assistant has it, a temporary 451 when it cannot take it now (the
sending server retries later, so nothing is lost), a permanent 550 with the
reason when it never will (the sender gets a bounce that says why).
Mail for any address but the support address is refused at RCPT, so the
server is never a relay. Given a certificate, it offers STARTTLS.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from addons.channels.errors import ChannelError, RateLimited
from addons.channels.mail.parser import normalise_address

logger = logging.getLogger(__name__)

# Handles one mail: its bytes and the envelope sender ("" for a bounce).
Deliver = Callable[[bytes, str], Awaitable[Any]]
# An idle or stalled client is dropped after this many seconds.
CLIENT_TIMEOUT = 60


class MailReceiver:
    """aiosmtpd's handler: the support mailbox only, one mail at a time."""

    def __init__(self, *, mailbox: str, deliver: Deliver) -> None:
        self.mailbox = mailbox
        self.deliver = deliver

    async def handle_RCPT(  # aiosmtpd's hook names
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if normalise_address(address) != self.mailbox:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        # A bounce's MAIL FROM is the null path, "<>".
        sender = "" if envelope.mail_from in (None, "", "<>") else envelope.mail_from
        try:
            await self.deliver(raw, sender)
        except RateLimited:
            return "451 4.7.1 Too many mails from this sender; please try again later"
        except ChannelError as error:
            reason = " ".join(error.message.split()).encode("ascii", "replace").decode()
            return f"550 5.6.0 {reason}"
        except Exception:
            logger.exception("Could not handle a mail from %s", envelope.mail_from)
            return "451 4.3.0 Temporary failure; please try again later"
        return "250 OK"


def tls_context(certificate: str, key: str) -> ssl.SSLContext:
    """The server side of STARTTLS, from a PEM certificate chain and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    return context


async def start_receiver(
    receiver: MailReceiver,
    *,
    host: str,
    port: int,
    max_bytes: int,
    hostname: str,
    tls: ssl.SSLContext | None = None,
) -> asyncio.Server:
    """Listens on the running loop; close the returned server to stop.
    With `tls`, STARTTLS is offered (not required: many senders' servers
    still deliver without it)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(
            receiver,
            data_size_limit=max_bytes,
            enable_SMTPUTF8=True,
            hostname=hostname,
            timeout=CLIENT_TIMEOUT,
            tls_context=tls,
        ),
        host=host,
        port=port,
    )
