"""The console's customer tab in headless Chromium, at desktop and phone
width: a verified customer's tickets from other channels, named as
channels.yml names them, the ones the agent may not open marked read-only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import headless_chromium
from tests.handoff.conftest import PASSWORD

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = headless_chromium(
        "The customer panel's browser test",
        "--lang=zh-CN",
        prefs={"intl.accept_languages": "zh-CN,zh"},
    )
    try:
        yield driver
    finally:
        driver.quit()


def verified(customer_id: str, **fields: str) -> dict[str, Any]:
    return {"customer": {**fields, "customer_id": customer_id, "identity_verified": True}}


class Page:
    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def css(self, selector: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def testid(self, name: str) -> str:
        return f'[data-testid="{name}"]'

    def wait(self, condition: Callable[[], Any], what: str) -> Any:
        return WebDriverWait(
            self.driver,
            15,
            poll_frequency=0.1,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        ).until(lambda _: condition(), message=f"waiting for {what}")

    def visible(self, name: str) -> bool:
        found = self.css(self.testid(name))
        return bool(found) and found[0].is_displayed()

    def click(self, selector: str, what: str) -> None:
        def clicked() -> bool:
            found = [node for node in self.css(selector) if node.is_displayed()]
            if found:
                found[0].click()
            return bool(found)

        self.wait(clicked, what)

    def customer_tab(self, url: str, username: str, ticket_id: int, size: tuple[int, int]) -> None:
        """Signs in, opens the ticket from "my conversations" and its customer tab."""
        self.driver.set_window_size(*size)
        self.driver.delete_all_cookies()
        self.driver.get(url)
        self.wait(lambda: self.visible("login-form"), "the sign-in form")
        self.css(self.testid("login-username"))[0].send_keys(username)
        self.css(self.testid("login-password"))[0].send_keys(PASSWORD)
        self.css(self.testid("login-submit"))[0].click()
        self.click(f'[data-ticket-id="{ticket_id}"]', "the ticket in my conversations")
        self.click(self.testid("tab-past"), "the customer tab")
        self.wait(lambda: self.visible("customer-card"), "the customer card")


@pytest.mark.parametrize("size", SIZES)
async def test_the_customer_tab_shows_their_tickets_from_every_channel(
    bridge, browser, size, tmp_path: Path
):
    alice = await bridge.add("alice", online=True)
    web = (await bridge.handoff("web-li", channel="socketio", **verified("u-1", name="李娜")))[
        "ticket"
    ]
    await bridge.claim(web["id"], alice)
    await bridge.set_status(web["id"], "resolved", alice)
    await bridge.presence(alice, "offline")
    await bridge.add("bob", online=True)
    mail = await bridge.open_ticket("mail-li", channel="email", **verified("u-1"))
    app = (
        await bridge.handoff("app-li", channel="app", title="App 里付款失败", **verified("u-1"))
    )["ticket"]
    bob = await bridge.login("bob")
    await bridge.claim(app["id"], bob)

    page = Page(browser)
    url = str(bridge.client.make_url("/console/"))
    await asyncio.to_thread(page.customer_tab, url, "bob", app["id"], SIZES[size])

    def shown() -> dict[str, Any]:
        items = page.css(page.testid("past-ticket"))
        return {
            "name": page.css(page.testid("customer-name"))[0].text,
            "verified": page.css(page.testid("customer-verified"))[0].text,
            "channels": page.css(page.testid("customer-channels"))[0].text,
            "tickets": [
                (
                    int(item.get_attribute("data-ticket-id")),
                    item.find_element(By.CSS_SELECTOR, page.testid("past-channel")).text,
                    "is-read-only" in item.get_attribute("class"),
                )
                for item in items
            ],
        }

    seen = await asyncio.to_thread(
        page.wait, lambda: (s := shown())["tickets"] and s, "the customer's other tickets"
    )
    card = page.css(page.testid("customer-card"))[0]
    await asyncio.to_thread(browser.execute_script, "arguments[0].scrollIntoView()", card)
    await asyncio.to_thread(browser.save_screenshot, str(tmp_path / f"customer-{size}.png"))
    assert seen["name"] == "李娜" and seen["verified"] == "已验证身份"
    assert seen["channels"] == "渠道：App、邮件、网页"
    # Newest first; alice's resolved web ticket is his to read here, not to open.
    assert seen["tickets"] == [(mail["id"], "邮件", False), (web["id"], "网页", True)]
    width = await asyncio.to_thread(
        browser.execute_script, "return document.documentElement.scrollWidth"
    )
    assert width <= SIZES[size][0]  # nothing pushes the page sideways
    # Her next ticket, on another channel, joins the open panel.
    form = await bridge.open_ticket("form-li", channel="form", **verified("u-1"))
    joined = await asyncio.to_thread(
        page.wait,
        lambda: (s := shown())["tickets"][0][0] == form["id"] and s,
        "the new form ticket in the panel",
    )
    assert joined["tickets"][0][1] == "表单" and joined["channels"] == "渠道：表单、App、邮件、网页"
    # Opening the other channel's ticket from the panel shows its conversation.
    await asyncio.to_thread(page.click, f'[data-ticket-id="{mail["id"]}"].past-item', "email")
    await asyncio.to_thread(
        page.wait,
        lambda: page.css("#conversation-title")[0].text == "A follow-up",
        "the e-mail ticket's conversation",
    )
