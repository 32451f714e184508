"""The receiver and the relay over real SMTP on loopback: smtplib talks to
our aiosmtpd receiver, our relay talks to the fake provider's server."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import subprocess
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from addons.channels.errors import DeliveryFailed, RateLimited
from addons.channels.mail.parser import MalformedMail
from addons.channels.mail.receiver import MailReceiver, start_receiver, tls_context
from addons.channels.mail.relay import MailRelay
from scripts.stack import LOOPBACK, free_port
from tests.addons.channels.mail import samples
from tests.fakes.mail import FakeMailProvider

MAILBOX = "support@cloudpick.test"


@pytest.fixture
async def provider() -> AsyncIterator[FakeMailProvider]:
    fake = FakeMailProvider()
    await fake.start()
    yield fake
    await fake.stop()


def mail_to(address: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = MAILBOX
    message["To"] = address
    message["Subject"] = "Re: 订单"
    message.set_content("您好")
    return message


async def test_the_relay_delivers_and_says_plainly_why_it_could_not(provider: FakeMailProvider):
    relay = MailRelay(LOOPBACK, int(provider.environment["MAIL_SMTP_RELAY_PORT"]), starttls=False)
    await relay.send(mail_to("alice@example.com"))
    [delivered] = provider.mails_to("alice@example.com")
    assert delivered["Subject"] == "Re: 订单" and delivered.get_content().strip() == "您好"

    provider.unknown_recipients.add("gone@example.com")
    with pytest.raises(DeliveryFailed, match=r"refused the customer's address gone@example.com"):
        await relay.send(mail_to("gone@example.com"))

    closed = MailRelay(LOOPBACK, free_port(), starttls=False, timeout=5)
    with pytest.raises(DeliveryFailed, match="could not be reached"):
        await closed.send(mail_to("alice@example.com"))


async def test_the_receiver_answers_each_outcome_with_its_smtp_code():
    received: list[tuple[bytes, str]] = []

    async def deliver(raw: bytes, envelope_sender: str) -> None:
        if b"flood" in raw:
            raise RateLimited(30)
        if b"unreadable" in raw:
            raise MalformedMail()
        if b"crash" in raw:
            raise RuntimeError("bug")
        received.append((raw, envelope_sender))

    port = free_port()
    server = await start_receiver(
        MailReceiver(mailbox=MAILBOX, deliver=deliver),
        host=LOOPBACK, port=port, max_bytes=64 * 1024, hostname="cloudpick.test",
    )  # fmt: skip

    def send(body: bytes, to: str = MAILBOX, sender: str = "alice@example.com") -> None:
        with smtplib.SMTP(LOOPBACK, port, timeout=10) as client:
            client.sendmail(sender, [to], body)

    try:
        await asyncio.to_thread(send, samples.GMAIL_REPLY)
        raw, envelope_sender = received[-1]
        assert b"Message-ID: <CAF=abc123@mail.gmail.com>" in raw
        assert envelope_sender == "alice@example.com"
        await asyncio.to_thread(send, samples.BOUNCE, MAILBOX, "")
        assert received[-1][1] == ""

        with pytest.raises(smtplib.SMTPRecipientsRefused):  # never a relay
            await asyncio.to_thread(send, samples.GMAIL_REPLY, "someone@elsewhere.test")
        for body, code in ((b"flood", 451), (b"unreadable", 550), (b"crash", 451)):
            with pytest.raises(smtplib.SMTPDataError) as refused:
                await asyncio.to_thread(send, b"Subject: x\r\n\r\n" + body)
            assert refused.value.smtp_code == code
        with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as too_big:
            await asyncio.to_thread(send, b"Subject: x\r\n\r\n" + b"a" * 70_000)
        assert too_big.value.smtp_code == 552
        assert len(received) == 2
    finally:
        server.close()
        await server.wait_closed()


async def test_the_receiver_offers_starttls_with_a_certificate(tmp_path: Path):
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=mx.cloudpick.test", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )  # fmt: skip
    received: list[bytes] = []

    async def deliver(raw: bytes, envelope_sender: str) -> None:
        received.append(raw)

    port = free_port()
    server = await start_receiver(
        MailReceiver(mailbox=MAILBOX, deliver=deliver),
        host=LOOPBACK, port=port, max_bytes=64 * 1024, hostname="cloudpick.test",
        tls=tls_context(str(certificate), str(key)),
    )  # fmt: skip

    def send_encrypted() -> str:
        client_context = ssl.create_default_context(cafile=str(certificate))
        client_context.check_hostname = False
        with smtplib.SMTP(LOOPBACK, port, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=client_context)
            cipher = client.sock.cipher()[0]
            client.sendmail("alice@example.com", [MAILBOX], samples.GMAIL_REPLY)
        return cipher

    try:
        assert await asyncio.to_thread(send_encrypted)
        assert len(received) == 1
    finally:
        server.close()
        await server.wait_closed()
