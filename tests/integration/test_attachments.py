"""A customer's file through the real stack: a channel's upload (the real
`addons.channels.handoff_client`) during a live handoff lands on the ticket,
the agent sees it in the console (headless Chromium, desktop and phone
widths) and downloads it; the bridge refuses files it does not keep, files
for conversations without an open ticket, and agents who may not read the
conversation."""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from addons.channels.handoff_client import AttachmentRefused, HandoffClient
from tests.browser import headless_chromium
from tests.integration.conftest import HandoffStack

pytestmark = pytest.mark.integration

PASSWORD = "password-123"
TIMEOUT = 20
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
# Where the screenshots are kept after the run, to look at.
SHOTS = Path("/tmp/attachment-screenshots")


def photo() -> bytes:
    buffer = io.BytesIO()
    picture = Image.new("RGB", (320, 200), "#2563eb")
    picture.paste(Image.new("RGB", (120, 80), "#f59e0b"), (40, 40))
    picture.save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = headless_chromium(
        "The console's attachments test",
        "--window-size=1440,900",
        "--lang=zh-CN",
        prefs={"intl.accept_languages": "zh-CN,zh"},
    )
    try:
        yield driver
    finally:
        driver.quit()


def upload(stack: HandoffStack, conversation_id: str, name: str, kind: str, data: bytes):
    """What a channel does, on an event loop of its own."""

    async def send() -> dict:
        client = HandoffClient(url=stack.bridge_url, token=stack.api_token)
        try:
            return await client.upload_attachment(
                conversation_id, filename=name, content_type=kind, data=data, channel="rest"
            )
        finally:
            await client.close()

    return asyncio.run(send())


@contextlib.contextmanager
def live_conversation(stack: HandoffStack, agent: dict, password: str) -> Iterator[tuple[str, int]]:
    """A customer asks Rasa for a human and `agent` (online) claims it; the
    agent goes offline afterwards, or the session's later tests would find
    their customers offered to this agent."""
    session = stack.login(agent["username"], password)
    presence = f"{stack.bridge_url}/api/agents/me/presence"
    session.put(presence, json={"presence": "online"}, timeout=10).raise_for_status()
    try:
        customer = f"files-{uuid.uuid4().hex[:8]}"
        replies = stack.assistant.texts(customer, "我要转人工")
        assert any("人工客服" in text for text in replies), replies
        ticket_id = int(stack.assistant.slots(customer)["ticket_id"])
        claimed = session.post(f"{stack.bridge_url}/api/tickets/{ticket_id}/claim", timeout=10)
        claimed.raise_for_status()
        yield customer, ticket_id
    finally:
        session.put(presence, json={"presence": "offline"}, timeout=10).raise_for_status()


def test_a_customers_files_reach_the_agent_and_nobody_else(handoff_stack: HandoffStack):
    stack = handoff_stack
    agent = stack.create_agent(f"files-{uuid.uuid4().hex[:8]}", PASSWORD)
    other = stack.create_agent(f"files-{uuid.uuid4().hex[:8]}", PASSWORD)
    nobody = f"files-{uuid.uuid4().hex[:8]}"

    with pytest.raises(AttachmentRefused) as refused:
        upload(stack, nobody, "a.jpg", "image/jpeg", photo())
    assert refused.value.code == "no_open_ticket"

    with live_conversation(stack, agent, PASSWORD) as (customer, ticket_id):
        picture = photo()
        kept = upload(stack, customer, "坏了的耳机.jpg", "image/jpeg", picture)
        assert (kept["ticket_id"], kept["content_type"], kept["size"]) == (
            ticket_id,
            "image/jpeg",
            len(picture),
        )

        mine = stack.login(agent["username"], PASSWORD)
        download = mine.get(f"{stack.bridge_url}{kept['url']}", timeout=10)
        assert (download.status_code, download.content) == (200, picture)
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in download.headers["Content-Security-Policy"]
        context = mine.get(f"{stack.bridge_url}/api/tickets/{ticket_id}/context", timeout=10).json()
        assert [attachment["id"] for attachment in context["attachments"]] == [kept["id"]]

        theirs = stack.login(other["username"], PASSWORD)
        assert theirs.get(f"{stack.bridge_url}{kept['url']}", timeout=10).status_code == 403
        assert requests.get(f"{stack.bridge_url}{kept['url']}", timeout=10).status_code == 401

        for name, kind, data, code in (
            ("page.html", "text/html", b"<script>alert(1)</script>", "attachment_type_not_allowed"),
            ("fake.jpg", "image/jpeg", b"MZ\x90\x00 an executable", "attachment_type_not_allowed"),
            ("huge.jpg", "image/jpeg", picture + bytes(10 * 1024 * 1024), "attachment_too_large"),
        ):
            with pytest.raises(AttachmentRefused) as refused:
                upload(stack, customer, name, kind, data)
            assert refused.value.code == code, name
        context = mine.get(f"{stack.bridge_url}/api/tickets/{ticket_id}/context", timeout=10).json()
        assert len(context["attachments"]) == 1


def test_the_console_shows_images_and_file_links_live(
    handoff_stack: HandoffStack, browser: webdriver.Chrome, tmp_path: Path
):
    stack = handoff_stack
    agent = stack.create_agent(f"files-{uuid.uuid4().hex[:8]}", PASSWORD)
    with live_conversation(stack, agent, PASSWORD) as (customer, ticket_id):
        upload(stack, customer, "坏了的耳机.jpg", "image/jpeg", photo())

        browser.get(f"{stack.bridge_url}/console/")
        browser.delete_all_cookies()
        browser.get(f"{stack.bridge_url}/console/")
        wait = WebDriverWait(browser, TIMEOUT, poll_frequency=0.1)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="login-form"]'))
        browser.find_element(By.CSS_SELECTOR, '[data-testid="login-username"]').send_keys(
            agent["username"]
        )
        browser.find_element(By.CSS_SELECTOR, '[data-testid="login-password"]').send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, '[data-testid="login-submit"]').click()
        mine = f'[data-testid="my-ticket"][data-ticket-id="{ticket_id}"]'
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, mine))
        browser.find_element(By.CSS_SELECTOR, mine).click()

        image = '[data-testid="transcript"] [data-testid="attachment-image"] img'
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, image))
        # Loaded through the console's CSP and the bridge's access check.
        wait.until(
            lambda d: d.execute_script(
                "return arguments[0].naturalWidth", d.find_element(By.CSS_SELECTOR, image)
            )
            == 320
        )
        assert browser.find_element(By.CSS_SELECTOR, image).get_attribute("alt") == "坏了的耳机.jpg"

        # Sent while the agent looks: it appears at once, as a download link.
        upload(stack, customer, "发票.pdf", "application/pdf", PDF)
        link = '[data-testid="transcript"] [data-testid="attachment-file"]'
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, link))
        element = browser.find_element(By.CSS_SELECTOR, link)
        assert "发票.pdf" in element.text and "PDF" in element.text
        assert element.get_attribute("download") == "发票.pdf"

        SHOTS.mkdir(exist_ok=True)
        for name, size, shown in (("desktop", (1440, 900), link), ("phone", (390, 844), image)):
            browser.set_window_size(*size)
            browser.execute_script(
                "arguments[0].scrollIntoView({block: 'center'})",
                browser.find_element(By.CSS_SELECTOR, shown),
            )
            browser.save_screenshot(str(tmp_path / f"attachments-{name}.png"))
            shutil.copy(tmp_path / f"attachments-{name}.png", SHOTS / f"attachments-{name}.png")
        browser.set_window_size(1440, 900)
        browser.get("about:blank")
