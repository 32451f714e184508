"""The console page in headless Chromium against a bridge on loopback (Rasa
faked): while the agent types, the bridge hears "typing" and passes it on;
a reply the customer's channel refuses stays in the box with the channel's
reason beside it, and goes out once the channel takes it again. Desktop and
phone widths are kept as screenshots."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import headless_chromium
from tests.handoff.conftest import PASSWORD, eventually, serve_rasa
from tests.handoff.test_typing import WidgetRasa
from tests.handoff.tickets.test_flows import WECHAT_45015, RefusingRasa

SHOTS = Path("/tmp/attachment-screenshots")
AVATAR = "https://cdn.example.com/agents/wang.png"


class WidgetChannelRasa(WidgetRasa, RefusingRasa):
    """Rasa whose customer is on the web widget: typing goes through, and
    replies are refused while `refusal` is set."""


@pytest.fixture
async def rasa(aiohttp_server) -> WidgetChannelRasa:
    return await serve_rasa(aiohttp_server, WidgetChannelRasa())


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = headless_chromium(
        "The console page test",
        "--window-size=1440,900",
        "--lang=zh-CN",
        prefs={"intl.accept_languages": "zh-CN,zh"},
    )
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """Blocking Selenium calls; the test runs them off the bridge's loop."""

    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver = driver
        self.url = url

    def css(self, testid: str) -> str:
        return f'[data-testid="{testid}"]'

    def wait(self, condition: Callable[[], Any], what: str) -> Any:
        return WebDriverWait(
            self.driver,
            15,
            poll_frequency=0.1,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        ).until(lambda _: condition(), message=f"waiting for {what}")

    def find(self, testid: str):
        return self.driver.find_element(By.CSS_SELECTOR, self.css(testid))

    def sign_in_and_open(self, username: str, ticket_id: int) -> None:
        self.driver.get(f"{self.url}/console/")
        self.driver.delete_all_cookies()
        self.driver.get(f"{self.url}/console/")
        self.wait(lambda: self.find("login-form").is_displayed(), "the sign-in form")
        self.find("login-username").send_keys(username)
        self.find("login-password").send_keys(PASSWORD)
        self.find("login-submit").click()
        self.open_mine(ticket_id)
        self.wait(lambda: self.find("reply-input").is_enabled(), "the reply box")

    def open_mine(self, ticket_id: int) -> None:
        mine = f'[data-testid="my-ticket"][data-ticket-id="{ticket_id}"]'
        self.wait(lambda: self.driver.find_elements(By.CSS_SELECTOR, mine), "my conversation")
        self.driver.find_element(By.CSS_SELECTOR, mine).click()

    def thumbnail(self) -> tuple[dict, dict]:
        """The sizes of the first image bubble and its picture, once loaded."""
        css = '[data-testid="message-attachment"]'
        self.wait(
            lambda: self.driver.execute_script(
                "const image = document.querySelector(arguments[0] + ' img');"
                " return image && image.naturalWidth",
                css,
            ),
            "the thumbnail",
        )
        bubble = self.driver.find_element(By.CSS_SELECTOR, css)
        return bubble.rect, bubble.find_element(By.TAG_NAME, "img").rect

    def type(self, text: str) -> None:
        self.find("reply-input").send_keys(text)

    def send(self) -> None:
        self.find("reply-input").send_keys(Keys.ENTER)

    def reply_state(self, containing: str) -> str:
        return self.wait(
            lambda: containing in self.find("reply-state").text and self.find("reply-state").text,
            f"the reply state to say {containing!r}",
        )

    def set_avatar(self, url: str) -> None:
        self.find("agent-name").click()
        self.wait(lambda: self.find("profile-dialog").is_displayed(), "the profile dialog")
        self.find("profile-avatar").send_keys(url)
        SHOTS.mkdir(exist_ok=True)
        self.driver.save_screenshot(str(SHOTS / "profile-dialog.png"))
        self.find("profile-save").click()
        self.wait(lambda: not self.find("profile-dialog").is_displayed(), "the profile saved")

    def screenshots(self, name: str) -> None:
        SHOTS.mkdir(exist_ok=True)
        for width, size in (("desktop", (1440, 900)), ("phone", (390, 844))):
            self.driver.set_window_size(*size)
            self.driver.execute_script(
                "arguments[0].scrollIntoView({block: 'center'})", self.find("reply-state")
            )
            self.driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
        self.driver.set_window_size(1440, 900)


async def test_typing_goes_out_and_a_refused_reply_says_why(bridge, browser):
    agent = await bridge.add("wang", online=True, display_name="小王")
    ticket_id = (await bridge.handoff("web-9", channel="socketio"))["ticket"]["id"]
    await bridge.claim(ticket_id, agent)
    form = aiohttp.FormData()
    form.add_field("file", picture(), filename="照片.png", content_type="image/png")
    await bridge.post("/api/conversations/web-9/attachments", data=form, expect=201)
    page = Page(browser, str(bridge.client.make_url("")).rstrip("/"))
    await asyncio.to_thread(page.sign_in_and_open, "wang", ticket_id)
    # The customer's picture as a thumbnail, its bubble no wider than it.
    bubble, image = await asyncio.to_thread(page.thumbnail)
    assert image["width"] == 240 and bubble["width"] <= image["width"] + 12, (bubble, image)

    reply = "您好，我帮您查一下物流"
    await asyncio.to_thread(page.type, reply)

    async def typing_seen() -> bool:
        return {"conversation_id": "web-9", "typing": True, "agent_name": "小王"} in (
            bridge.rasa.typing()
        )

    await eventually(typing_seen, what="the agent's typing at Rasa")

    bridge.rasa.refusal = WECHAT_45015
    await asyncio.to_thread(page.send)
    state = await asyncio.to_thread(page.reply_state, "未送达")
    assert state == f"未送达：{WECHAT_45015}"
    assert page.find("reply-input").get_attribute("value") == reply
    assert "is-blocked" in page.find("reply-state").get_attribute("class")
    assert {"conversation_id": "web-9", "typing": False, "agent_name": "小王"} in (
        bridge.rasa.typing()
    )
    await asyncio.to_thread(page.screenshots, "delivery-failed")

    bridge.rasa.refusal = None
    await asyncio.to_thread(page.send)
    await asyncio.to_thread(page.reply_state, "Enter")
    assert bridge.rasa.logged_agent_messages("web-9")[-1] == reply
    assert page.find("reply-input").get_attribute("value") == ""

    # The agent's picture, set in the console, goes with their next reply.
    await asyncio.to_thread(page.set_avatar, AVATAR)
    assert (await bridge.agent(agent))["avatar_url"] == AVATAR
    await asyncio.to_thread(page.type, "好的")
    await asyncio.to_thread(page.send)
    await eventually(
        lambda: _last_reply_avatar(bridge.rasa), what="the reply with the agent's avatar"
    )
    await asyncio.to_thread(browser.get, "about:blank")


async def test_a_mail_ticket_is_answered_though_the_customer_is_not_in_a_chat(bridge, browser):
    """The box of an e-mail ticket's agent is open (channels.yml
    `delivers_offline`) and says the reply goes by mail; a Telegram
    customer who left keeps it closed."""
    agent = await bridge.add("zhao", online=True)
    mail = await bridge.open_ticket("mail-7", channel="email", source="email")
    chat = await bridge.open_ticket("tg-7", channel="telegram")
    assert mail["live"] is False and chat["live"] is False
    await bridge.claim(mail["id"], agent)
    await bridge.claim(chat["id"], agent)
    page = Page(browser, str(bridge.client.make_url("")).rstrip("/"))
    await asyncio.to_thread(page.sign_in_and_open, "zhao", mail["id"])
    assert "is-blocked" not in page.find("reply-state").get_attribute("class")
    await asyncio.to_thread(page.reply_state, "回复将通过邮件发送")
    await asyncio.to_thread(page.type, "您好，退款已处理，请查收。")
    await asyncio.to_thread(page.screenshots, "mail-reply")
    await asyncio.to_thread(page.send)
    await eventually(
        lambda: _logged(bridge.rasa, "mail-7", ["您好，退款已处理，请查收。"]),
        what="the reply at Rasa",
    )
    await asyncio.to_thread(
        page.wait, lambda: page.find("reply-input").get_attribute("value") == "", "the box cleared"
    )

    await asyncio.to_thread(page.open_mine, chat["id"])
    await asyncio.to_thread(page.reply_state, "机器人")
    assert not page.find("reply-input").is_enabled()
    await asyncio.to_thread(browser.get, "about:blank")


async def _logged(rasa: WidgetChannelRasa, conversation_id: str, texts: list[str]) -> bool:
    return rasa.logged_agent_messages(conversation_id) == texts


async def _last_reply_avatar(rasa: WidgetChannelRasa) -> bool:
    events = [e for e in rasa.sent_events("web-9") if e["event"] == "bot"]
    return events[-1]["text"] == "好的" and events[-1]["metadata"]["agent_avatar"] == AVATAR


def picture() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), "#2563eb").save(buffer, format="PNG")
    return buffer.getvalue()
