"""The ticket form end to end: its JSON API and its hosted page (in headless
Chromium, at desktop and phone width) open tickets on the session's bridge;
the receipt and an agent's reply reach an e-mail contact through the fake
mail provider, and the contact's mail reply continues the same ticket."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import headless_chromium
from tests.integration.conftest import HandoffStack
from tests.integration.test_handoff import ConsoleAgent
from tests.integration.test_mail_channel import Customer

pytestmark = pytest.mark.integration

SCREENSHOTS = Path("var/screenshots")


def post(stack: HandoffStack, client: str, **kwargs: Any) -> requests.Response:
    """A submission from `client`, as a reverse proxy on the host reports it."""
    return requests.post(
        f"{stack.assistant.url}/webhooks/form/tickets",
        headers={"X-Forwarded-For": client, **kwargs.pop("headers", {})},
        timeout=60,
        **kwargs,
    )


def client_address() -> str:
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}"


async def test_a_form_ticket_is_answered_by_mail_and_continued_by_mail(
    handoff_stack: HandoffStack,
):
    stack = handoff_stack
    customer = Customer(stack, name="Lin")
    answer = await asyncio.to_thread(
        post,
        stack,
        client_address(),
        json={
            "contact": customer.address,
            "name": "Lin",
            "subject": "发票抬头写错了",
            "description": "订单 241106117845 的发票抬头应为“云选科技”。",
            "category": "after_sales",
        },
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    ticket_id = created["ticket"]["id"]
    assert created["ticket"]["reference"] == f"#{ticket_id}" and created["receipt_mailed"]
    ticket = await asyncio.to_thread(stack.ticket, ticket_id)
    assert (ticket["channel"], ticket["source"], ticket["category"]) == (
        "form", "form", "after_sales",
    )  # fmt: skip
    assert (ticket["customer"]["name"], ticket["customer"]["contact"]) == ("Lin", customer.address)
    # The customer's mail conversation: their mail replies continue it.
    assert ticket["conversation_id"] == customer.conversation_id()

    receipt = await customer.receive()
    assert receipt["Subject"] == f"[工单 #{ticket_id}] 已收到：发票抬头写错了"
    assert f"#{ticket_id}" in receipt.get_content()

    name = f"formagent-{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(stack.create_agent, name, "password-123")
    async with ConsoleAgent(stack, name, "password-123") as console:
        # The customer answers the receipt and asks for a person: the same
        # conversation, so the handoff joins the form's ticket.
        await customer.send("我要转人工", subject=f"Re: {receipt['Subject']}", answering=receipt)
        queued = await customer.receive()
        assert "转接人工客服" in queued.get_content(), queued.get_content()
        live = await asyncio.to_thread(stack.ticket, ticket_id)
        assert live["live"] is True
        await console.claim(ticket_id)
        status, sent = await console.reply(ticket_id, "已为您更正发票抬头。")
        assert status == 201, sent
        reply = await customer.receive()
        while "已为您更正" not in reply.get_content():
            reply = await customer.receive()
        assert reply["Subject"] == f"[工单 #{ticket_id}] Re: 发票抬头写错了"
        assert receipt["Message-ID"] in reply["References"]
        assert reply["In-Reply-To"] == customer.last_sent["Message-ID"]


async def test_an_agent_answers_a_form_ticket_by_mail_with_nobody_in_a_chat(
    handoff_stack: HandoffStack,
):
    """Mail reaches the customer whenever it is sent, so an agent claims a
    form's ticket from the queue and answers it though the customer never
    wrote again."""
    stack = handoff_stack
    customer = Customer(stack, name="Zhou")
    answer = await asyncio.to_thread(
        post,
        stack,
        client_address(),
        json={"contact": customer.address, "subject": "退货地址", "description": "退货寄到哪里？"},
    )
    assert answer.status_code == 201, answer.text
    ticket_id = answer.json()["ticket"]["id"]
    receipt = await customer.receive()
    assert (await asyncio.to_thread(stack.ticket, ticket_id))["live"] is False

    name = f"formagent-{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(stack.create_agent, name, "password-123")
    async with ConsoleAgent(stack, name, "password-123") as console:
        claimed = await console.claim(ticket_id)
        assert (claimed["status"], claimed["live"]) == ("in_progress", False)
        status, sent = await console.reply(ticket_id, "请寄到上海市仓库。")
        assert status == 201, sent
    reply = await customer.receive()
    assert "请寄到上海市仓库。" in reply.get_content()
    assert reply["Subject"] == f"[工单 #{ticket_id}] Re: 退货地址"
    assert receipt["Message-ID"] in reply["References"]


async def test_a_phone_contacts_ticket_refuses_replies_in_words_the_agent_reads(
    handoff_stack: HandoffStack,
):
    stack = handoff_stack
    answer = await asyncio.to_thread(
        post,
        stack,
        client_address(),
        json={"contact": "138 0013 8000", "subject": "call me", "description": "about my order"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["receipt_mailed"] is False
    ticket = await asyncio.to_thread(stack.ticket, answer.json()["ticket"]["id"])
    # What the bridge does with an agent's reply: Rasa fails it with our words.
    appended = await asyncio.to_thread(
        requests.post,
        f"{stack.assistant.url}/conversations/{ticket['conversation_id']}/tracker/events",
        params={"output_channel": "latest", "execute_side_effects": "true"},
        json=[{"event": "bot", "text": "hello", "metadata": {"agent_id": 1, "ticket_id": 1}}],
        headers=stack.assistant.api_headers(),
        timeout=30,
    )
    assert appended.status_code == 500
    assert "phone number on the ticket" in appended.json()["message"]
    # And as the agent sees it: the bridge's 502 with those words.
    name = f"formagent-{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(stack.create_agent, name, "password-123")
    async with ConsoleAgent(stack, name, "password-123") as console:
        await console.claim(ticket["id"])
        status, refused = await console.reply(ticket["id"], "我们会致电您。")
    assert (status, refused["error"]["code"]) == (502, "delivery_failed"), refused
    assert "phone number on the ticket" in refused["error"]["message"]


async def test_the_api_names_each_bad_field_and_limits_each_address(handoff_stack: HandoffStack):
    stack = handoff_stack
    client = client_address()
    bad = await asyncio.to_thread(
        post,
        stack,
        client,
        json={"contact": "nobody@", "subject": "", "description": "x", "category": "vip"},
        headers={"Accept-Language": "en"},
    )
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "invalid_form"
    assert set(error["details"]["fields"]) == {"contact", "subject", "category"}

    honeypot = await asyncio.to_thread(
        post,
        stack,
        client,
        json={"contact": "a@example.com", "subject": "s", "description": "d", "website": "x"},
    )
    assert (honeypot.status_code, honeypot.json()["error"]["code"]) == (400, "form_rejected")
    # A page form (multipart) needs the page's token: a plain cross-site form has none.
    no_token = await asyncio.to_thread(
        post, stack, client, files={"contact": (None, "a@example.com")}
    )
    assert (no_token.status_code, no_token.json()["error"]["code"]) == (400, "form_rejected")
    not_json = await asyncio.to_thread(
        post, stack, client, data=b"{", headers={"Content-Type": "application/json"}
    )
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "malformed_body")

    # The burst (5) is spent: this address now waits; another does not.
    limited = await asyncio.to_thread(post, stack, client, json={})
    limited_again = await asyncio.to_thread(post, stack, client, json={})
    assert 429 in (limited.status_code, limited_again.status_code)
    assert int(limited_again.headers["Retry-After"]) > 0
    other = await asyncio.to_thread(post, stack, client_address(), json={})
    assert other.status_code == 400


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = headless_chromium(
        "The form's browser test", "--lang=zh-CN", prefs={"intl.accept_languages": "zh-CN,zh"}
    )
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.parametrize(
    ("width", "height", "label"), [(1280, 900, "desktop"), (390, 844, "phone")]
)
def test_the_hosted_page_opens_a_ticket(
    browser: webdriver.Chrome, handoff_stack: HandoffStack, width: int, height: int, label: str
):
    browser.set_window_size(width, height)
    browser.get(f"{handoff_stack.assistant.url}/webhooks/form/")
    wait = WebDriverWait(browser, 30)
    assert browser.find_element(By.TAG_NAME, "h1").text == "提交工单"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"form-{label}-empty.png"))
    # No horizontal scrolling on a phone.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width

    browser.find_element(By.ID, "contact").send_keys("not-a-contact")
    browser.find_element(By.ID, "send").click()
    wait.until(lambda _: browser.find_element(By.ID, "contact-error").text)
    assert browser.find_element(By.ID, "contact-error").text == "请填写有效的邮箱地址或手机号。"
    assert browser.find_element(By.ID, "subject-error").text == "请填写此项。"
    assert browser.find_element(By.ID, "contact").get_attribute("aria-invalid") == "true"
    browser.save_screenshot(str(SCREENSHOTS / f"form-{label}-errors.png"))

    contact = browser.find_element(By.ID, "contact")
    contact.clear()
    contact.send_keys(f"page-{uuid.uuid4().hex[:6]}@example.com")
    Select(browser.find_element(By.ID, "category")).select_by_visible_text("售后服务")
    browser.find_element(By.ID, "subject").send_keys("耳机左耳没声音")
    browser.find_element(By.ID, "description").send_keys("买了两周，左耳突然没声音了。")
    browser.find_element(By.ID, "send").click()
    wait.until(lambda _: browser.find_element(By.ID, "done").is_displayed())
    reference = browser.find_element(By.ID, "ticket-reference").text
    assert reference.startswith("#")
    browser.save_screenshot(str(SCREENSHOTS / f"form-{label}-done.png"))
    ticket = handoff_stack.ticket(int(reference[1:]))
    assert (ticket["title"], ticket["category"], ticket["channel"]) == (
        "耳机左耳没声音", "after_sales", "form",
    )  # fmt: skip
