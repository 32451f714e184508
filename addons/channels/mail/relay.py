"""Sending mail through the operator's SMTP relay (the provider's
submission server, or a local MTA), with aiosmtplib on Rasa's loop.

A refusal becomes `DeliveryFailed` in words an agent can act on: the
console shows it under the reply that did not go out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib

from addons.channels.errors import DeliveryFailed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailRelay:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    # STARTTLS when the server offers it (aiosmtplib's default); True
    # requires it, False never uses it (a relay on loopback).
    starttls: bool | None = None
    timeout: float = 30

    async def send(self, message: EmailMessage) -> None:
        recipient = parseaddr(str(message["To"]))[1]
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password or None,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise DeliveryFailed(
                f"The mail server refused the customer's address {recipient} "
                f"({_reasons(error)}); check the address on the ticket.",
                code="recipient_refused",
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryFailed(
                f"The mail server did not take the mail to {recipient}: "
                f"{error.code} {error.message}. Please try again later.",
                code=error.code,
            ) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            logger.warning("Mail relay %s:%s failed: %s", self.host, self.port, error)
            raise DeliveryFailed(
                f"The outgoing mail server {self.host}:{self.port} could not be reached, "
                f"so the mail to {recipient} was not sent. Please try again later.",
                code="relay_unreachable",
            ) from error


def _reasons(error: aiosmtplib.SMTPRecipientsRefused) -> str:
    return "; ".join(f"{refusal.code} {refusal.message}" for refusal in error.recipients)
