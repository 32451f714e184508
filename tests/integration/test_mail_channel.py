"""The e-mail channel end to end: customers write with a real SMTP client to
the channel's receiver in the session's Rasa, or through the inbound-parse
webhook, and read the answers the channel sends through its relay, the
fake provider's real SMTP server. An agent takes over through the bridge,
replies, resolves; the survey is answered by mail."""

from __future__ import annotations

import asyncio
import base64
import http.client
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from addons.channels.mail.threads import ThreadStore
from scripts.stack import LOOPBACK
from tests.fakes.mail import SUPPORT_ADDRESS, FakeMailProvider
from tests.integration.conftest import HandoffStack, tiny_png
from tests.integration.test_handoff import ConsoleAgent

pytestmark = pytest.mark.integration


class Customer:
    """A person with a mailbox at the fake provider and a mail client."""

    def __init__(self, stack: HandoffStack, name: str = "王小明") -> None:
        self.stack = stack
        self.provider: FakeMailProvider = stack.fakes["mail"]
        self.address = f"mail-{uuid.uuid4().hex[:8]}@example.com"
        self.name = name
        self.read = 0  # mails read so far
        self.last_sent: EmailMessage | None = None

    def compose(self, body: str, *, subject: str, answering: EmailMessage | None) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = f"{self.name} <{self.address}>"
        mail["To"] = SUPPORT_ADDRESS
        mail["Subject"] = subject
        mail["Message-ID"] = make_msgid(domain="example.com")
        if answering is not None:
            mail["In-Reply-To"] = answering["Message-ID"]
            mail["References"] = f"{answering['References'] or ''} {answering['Message-ID']}"
            quoted = "\n".join(f"> {line}" for line in answering.get_content().splitlines())
            body = f"{body}\n\n在 2026年12月7日 10:00，云选客服 写道：\n{quoted}\n"
        mail.set_content(body)
        return mail

    async def send(
        self, body: str, *, subject: str = "你好", answering: EmailMessage | None = None
    ) -> EmailMessage:
        mail = self.compose(body, subject=subject, answering=answering)
        await asyncio.to_thread(self._submit, mail)
        self.last_sent = mail
        return mail

    def _submit(self, mail: EmailMessage) -> None:
        with smtplib.SMTP(LOOPBACK, self.provider.channel_port, timeout=60) as client:
            client.send_message(mail)

    async def receive(self, timeout: float = 60) -> EmailMessage:
        mail = await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(
                self.provider.next_mail(self.address, self.read, timeout),
                self.stack.fakes._loop,
            )
        )
        self.read += 1
        return mail

    def open_ticket(self) -> dict:
        """The ticket of this customer's conversation, once there is one."""

        def find() -> dict | None:
            response = self.stack.api(
                "GET", "/api/tickets", params={"conversation_id": self.conversation_id()}
            )
            return next(iter(response.json()["tickets"]), None)

        return self.stack.wait_for(find, 30, 0.3, "the customer's ticket")

    def conversation_id(self) -> str:
        store = ThreadStore(Path(self.provider.environment["MAIL_THREADS_DB"]))
        return store.conversation_id(self.address)


async def test_buttons_handoff_agent_reply_and_survey_all_by_mail(handoff_stack: HandoffStack):
    stack = handoff_stack
    name = f"mailagent-{uuid.uuid4().hex[:6]}"
    agent = await asyncio.to_thread(stack.create_agent, name, "password-123")
    customer = Customer(stack)

    greeting_mail = await customer.send("你好")
    greeting = await customer.receive()
    body = greeting.get_content()
    assert "1. 查询订单" in body and "4. 转人工" in body and "请直接回复对应的数字" in body
    assert greeting["In-Reply-To"] == greeting_mail["Message-ID"]
    assert greeting["Subject"] == "Re: 你好"
    assert greeting["Auto-Submitted"] == "auto-replied"
    assert greeting["From"].addresses[0].addr_spec == SUPPORT_ADDRESS

    async with ConsoleAgent(stack, name, "password-123") as console:
        # "4" is the offered /request_human button: Rasa takes it as the click.
        choice = await customer.send("4", subject="Re: 你好", answering=greeting)
        queued = await customer.receive()
        assert "转接人工客服" in queued.get_content(), queued.get_content()
        assert queued["In-Reply-To"] == choice["Message-ID"]
        ticket = await asyncio.to_thread(customer.open_ticket)
        assert ticket["channel"] == "email"
        assert (ticket["customer"]["name"], ticket["customer"]["contact"]) == (
            "王小明",
            customer.address,
        )
        claimed = await console.claim(ticket["id"])
        assert claimed["assignee"]["id"] == agent["id"]
        joined = await customer.receive()  # the bridge's notice that an agent joined
        assert joined["Subject"] == f"[工单 #{ticket['id']}] Re: 你好"

        # The paused bot stays silent; the customer's mail and file reach the agent.
        words = "我的订单241108302211一直没到"
        mail = customer.compose(words, subject="Re: 你好", answering=joined)
        mail.add_attachment(tiny_png(), maintype="image", subtype="png", filename="快递单.png")
        await asyncio.to_thread(customer._submit, mail)
        heard = await console.next_event("message.customer", ticket_id=ticket["id"])
        assert heard["text"] == words  # the quoted history is not shown
        status, context = await console.call("GET", f"/api/tickets/{ticket['id']}/context")
        assert [a["name"] for a in context["attachments"]] == ["快递单.png"]
        # The agent also sees it in the conversation, where it came.
        said = [turn["text"] for turn in context["transcript"] if turn["sender"] == "customer"]
        assert "[附件] 快递单.png" in said

        status, _ = await console.reply(ticket["id"], "您好，我来帮您查一下")
        assert status == 201
        reply = await customer.receive()
        assert reply["Subject"] == f"[工单 #{ticket['id']}] Re: 你好"
        assert reply["In-Reply-To"] == mail["Message-ID"]
        assert mail["Message-ID"] in reply["References"]
        assert reply["Auto-Submitted"] == "no"
        assert "您好，我来帮您查一下" in reply.get_content()

        # The provider refuses the address: the agent reads why, nothing is saved.
        customer.provider.unknown_recipients.add(customer.address)
        try:
            status, failed = await console.reply(ticket["id"], "还在吗？")
        finally:
            customer.provider.unknown_recipients.discard(customer.address)
        assert (status, failed["error"]["code"]) == (502, "delivery_failed")
        assert f"refused the customer's address {customer.address}" in failed["error"]["message"]

        await console.resolve(ticket["id"])

    # Back to the bot: the resolution notice, then the survey with its scores.
    survey = await customer.receive()
    while "打分" not in survey.get_content():
        survey = await customer.receive()
    assert "5. 非常满意" in survey.get_content() and "1. 非常不满意" in survey.get_content()
    assert survey["Subject"].startswith(f"[工单 #{ticket['id']}]")
    await customer.send("4", subject=f"Re: {survey['Subject']}", answering=survey)
    comment_question = await customer.receive()
    await customer.send("回复很及时", subject="Re: 你好", answering=comment_question)
    thanks = await customer.receive()
    assert "感谢您的评价" in thanks.get_content(), thanks.get_content()
    stored = await asyncio.to_thread(stack.ticket, ticket["id"])
    assert stored["csat"]["score"] == 4 and stored["csat"]["comment"] == "回复很及时"

    # The bot answers again.
    await customer.send("查订单 241108302211", subject="订单")
    status_mail = await customer.receive()
    assert "241108302211" in status_mail.get_content()


async def test_robots_get_no_answer_and_two_robots_never_loop(handoff_stack: HandoffStack):
    customer = Customer(handoff_stack)
    provider = customer.provider
    out_of_office = customer.compose(
        "I am away until Monday.", subject="Auto: 你好", answering=None
    )
    out_of_office["Auto-Submitted"] = "auto-replied"
    await asyncio.to_thread(customer._submit, out_of_office)

    bounce = customer.compose("Delivery failed.", subject="Undelivered", answering=None)

    def submit_bounce() -> None:
        with smtplib.SMTP(LOOPBACK, provider.channel_port, timeout=60) as client:
            client.sendmail("", [SUPPORT_ADDRESS], bounce.as_bytes())

    await asyncio.to_thread(submit_bounce)
    await customer.send("你好")  # a person: answered
    answer = await customer.receive()
    assert answer["In-Reply-To"] == customer.last_sent["Message-ID"]
    assert len(provider.mails_to(customer.address)) == 1
    tracker = await asyncio.to_thread(handoff_stack.assistant.tracker, customer.conversation_id())
    said = [event.get("text") for event in tracker["events"] if event["event"] == "user"]
    assert said == ["你好"]


def webhook(stack: HandoffStack, token: str | None, **kwargs) -> requests.Response:
    url = f"{stack.assistant.url}/webhooks/email/inbound"
    params = {"token": token} if token is not None else {}
    return requests.post(url, params=params, timeout=60, **kwargs)


def declared_too_large(stack: HandoffStack, token: str) -> int:
    """Announces a 26 MB body and waits for the answer before sending it."""
    host, port = urlsplit(stack.assistant.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", f"/webhooks/email/inbound?token={token}")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(26 * 1024 * 1024))
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


async def test_the_inbound_parse_webhook(handoff_stack: HandoffStack):
    stack = handoff_stack
    customer = Customer(stack, name="Jane Doe")
    token = customer.provider.environment["MAIL_INBOUND_TOKEN"]
    message_id = make_msgid(domain="example.com")
    fields = {
        "from": f"Jane Doe <{customer.address}>",
        "to": SUPPORT_ADDRESS,
        "subject": "hello",
        "text": "hello",
        "html": "<p>hello</p>",
        "headers": f"Message-ID: {message_id}\nFrom: Jane Doe <{customer.address}>\n",
    }
    files = {"attachment1": ("note.txt", b"just a note", "text/plain")}

    answered = await asyncio.to_thread(webhook, stack, token, data=fields, files=files)
    assert answered.status_code == 200 and answered.json() == {"status": "answered"}
    greeting = await customer.receive()
    assert "1. Check an order" in greeting.get_content()
    # No ticket is open: the customer learns that files are for agents.
    assert "Attachments are seen by our agents only" in greeting.get_content()
    assert greeting["In-Reply-To"] == message_id

    replayed = await asyncio.to_thread(webhook, stack, token, data=fields)
    assert replayed.json() == {"status": "duplicate"}

    basic = "Basic " + base64.b64encode(f"inbound:{token}".encode()).decode()
    by_basic_auth = await asyncio.to_thread(
        webhook,
        stack,
        None,
        data={**fields, "headers": "", "text": "1"},
        headers={"Authorization": basic},
    )
    assert by_basic_auth.json() == {"status": "answered"}
    assert "order number" in (await customer.receive()).get_content().lower()

    for wrong in (None, "wrong-token"):
        refused = await asyncio.to_thread(webhook, stack, wrong, data=fields)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    no_sender = await asyncio.to_thread(webhook, stack, token, data={"text": "hi"})
    assert (no_sender.status_code, no_sender.json()["error"]["code"]) == (400, "malformed_mail")
    not_a_form = await asyncio.to_thread(webhook, stack, token, data=b"{}")
    assert not_a_form.status_code == 400
    assert await asyncio.to_thread(declared_too_large, stack, token) == 413

    flood = Customer(stack)
    statuses = []
    for index in range(20):
        flood_fields = {**fields, "from": flood.address, "headers": "", "text": f"hi {index}"}
        response = await asyncio.to_thread(webhook, stack, token, data=flood_fields)
        statuses.append(response.status_code)
    assert statuses[:10] == [200] * 10 and 429 in statuses
    assert stack.assistant.alive()
