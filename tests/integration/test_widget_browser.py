"""Our web chat widget in headless Chromium against the whole system: a
customer on a shop's site (its own origin, the widget embedded with one
script tag) is greeted, presses a button, asks for a human, an agent claims
the conversation and replies, resolves, the customer rates with stars, and a
reload replays the conversation from the server. At desktop and phone
sizes, with screenshots kept in the test's tmp dir. Then rasa-webchat from
npm, as a compatibility check of the socket.io channel."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from tests.browser import headless_chromium
from tests.integration.conftest import HandoffStack
from tests.integration.test_handoff import ConsoleAgent
from tests.integration.widget_page import (
    DESKTOP,
    PHONE,
    WIDGET,
    WidgetPage,
    customer_site,
    set_offline,
    set_viewport,
)

pytestmark = pytest.mark.integration

PASSWORD = "password-123"
FALLBACK = "没有理解"
# The shop's signed-in user as its page passes them, unsigned: the ticket
# shows the name and contact, unverified.
CUSTOMER = {"id": "shop-user-42", "name": "王小明", "phone": "13800138000"}
RASA_WEBCHAT = Path(__file__).parent / "vendor" / "rasa-webchat" / "index.js"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = headless_chromium(
        "The widget's browser test",
        "--lang=zh-CN",
        # rasa-webchat's CSS imports a web font; offline, that must fail fast.
        "--host-resolver-rules=MAP fonts.googleapis.com ~NOTFOUND",
        prefs={"intl.accept_languages": "zh-CN,zh"},
        log=True,
    )
    try:
        yield driver
    finally:
        # What the page looked like at the end, shown with a failure's output.
        driver.save_screenshot(str(tmp_path / "last.png"))
        log = "\n".join(entry["message"] for entry in driver.get_log("browser"))
        (tmp_path / "browser.log").write_text(log)
        print(f"Widget screenshots and browser log: {tmp_path}")
        driver.quit()


@pytest.fixture
def site(handoff_stack: HandoffStack, tmp_path: Path) -> Iterator[str]:
    with customer_site(
        tmp_path / "site",
        handoff_stack.assistant.url,
        {"customer": CUSTOMER},
        zh="",
        en='data-lang="en"',
    ) as url:
        yield url


def photo(path: Path) -> Path:
    """A real PNG: the bridge tells a file's kind by its bytes."""
    Image.new("RGB", (160, 100), (203, 213, 225)).save(path)
    return path


def order_number() -> str:
    """An order number of the shop's shape, unique to this run."""
    return "2411" + "".join(random.choices("0123456789", k=8))


def test_rasa_serves_the_widget_with_its_demo_page(handoff_stack: HandoffStack):
    base = f"{handoff_stack.assistant.url}/webhooks/socketio/widget"
    for name in ("widget.js", "chat.js", "model.js", "widget.css", "demo.html"):
        response = requests.get(f"{base}/{name}", timeout=10)
        assert response.status_code == 200, name
        assert response.content == (WIDGET / name).read_bytes(), name
    assert "javascript" in requests.get(f"{base}/chat.js", timeout=10).headers["Content-Type"]
    assert requests.get(f"{base}/../../../credentials.yml", timeout=10).status_code in (400, 404)


def test_the_demo_page_served_by_rasa_greets_with_the_script_origin_as_server(
    browser: webdriver.Chrome, handoff_stack: HandoffStack
):
    set_viewport(browser, DESKTOP)
    page = WidgetPage(browser)
    page.load(f"{handoff_stack.assistant.url}/webhooks/socketio/widget/demo.html")
    page.open()
    greeting = page.wait_for_message("bot", lambda text: "小云" in text, "the greeting")
    assert FALLBACK not in greeting


def test_a_customer_is_helped_by_bot_and_agent_on_a_desktop(
    browser: webdriver.Chrome, site: str, handoff_stack: HandoffStack, tmp_path: Path
):
    stack = handoff_stack
    set_viewport(browser, DESKTOP)
    page = WidgetPage(browser)
    page.load(f"{site}/zh.html")
    page.screenshot(tmp_path / "desktop-0-launcher.png")
    page.open()

    greeting = page.wait_for_message("bot", lambda text: "小云" in text, "the greeting")
    assert FALLBACK not in greeting
    assert {"查询订单", "转人工"} <= {button.text for button in page.replies()}
    page.screenshot(tmp_path / "desktop-1-greeting.png")

    page.press("查询订单")
    page.wait_for_message("customer", lambda text: text == "查询订单", "the pressed title")
    page.wait_for_message("bot", lambda text: "订单号" in text, "the bot asking for the order")
    assert not page.replies() or "查询订单" not in {b.text for b in page.replies()}

    number = order_number()
    page.say(f"我的订单{number}一直没发货")
    page.wait_for_message("bot", lambda text: number in text, "the order's status")

    name = f"widget-{uuid.uuid4().hex[:6]}"
    agent = stack.create_agent(name, PASSWORD)

    async def agent_helps_and_resolves() -> int:
        async with ConsoleAgent(stack, name, PASSWORD) as console:
            await asyncio.to_thread(page.say, "我要转人工")
            ticket = await console.offered(agent["id"], lambda offered: number in offered["title"])
            assert ticket["channel"] == "socketio"
            customer = ticket["customer"]
            assert (customer["name"], customer["contact"]) == ("王小明", "13800138000")
            await asyncio.to_thread(
                page.wait, lambda: page.banner()[0] == "queued", "the queue banner"
            )
            assert "排在第" in page.banner()[1]
            await asyncio.to_thread(page.screenshot, tmp_path / "desktop-2-queued.png")

            status, claimed = await console.call("POST", f"/api/tickets/{ticket['id']}/claim")
            assert status == 200, claimed
            await asyncio.to_thread(agent_types, ticket["conversation_id"], True)
            await asyncio.to_thread(
                page.wait, lambda: page.typing() == f"{name} 正在输入…", "the agent typing"
            )
            await asyncio.to_thread(agent_types, ticket["conversation_id"], False)
            await asyncio.to_thread(page.wait, lambda: page.typing() == "", "the typing to stop")

            # During the handoff the customer's photo lands on the ticket.
            await asyncio.to_thread(page.attach, photo(tmp_path / "receipt.png"))
            added = await console.next_event("ticket.attachment_added", ticket_id=ticket["id"])
            assert (added["attachment"]["name"], added["attachment"]["content_type"]) == (
                "receipt.png",
                "image/png",
            )
            await asyncio.to_thread(page.wait, uploaded, "the photo shown as sent")
            status, sent = await console.call(
                "POST",
                f"/api/tickets/{ticket['id']}/messages",
                json={"text": "您好，我来帮您查一下 <b>物流</b>"},
            )
            assert status == 201, sent
            await asyncio.to_thread(
                page.wait_for_message, "agent", lambda text: "物流" in text, "the agent's reply"
            )
            await asyncio.to_thread(agent_is_shown)
            status, resolved = await console.call(
                "PATCH", f"/api/tickets/{ticket['id']}/status", json={"status": "resolved"}
            )
            assert status == 200, resolved
            return ticket["id"]

    def uploaded() -> bool:
        return browser.execute_script(
            "const rows = arguments[0].shadowRoot.querySelectorAll('.message-customer');"
            "const last = rows[rows.length - 1];"
            "return !!last.querySelector('img') && !last.classList.contains('pending')",
            page.host,
        )

    def agent_types(conversation_id: str, typing: bool) -> None:
        """What the bridge tells Rasa while the agent types in the console."""
        response = requests.post(
            f"{stack.assistant.url}/webhooks/socketio/typing",
            json={"conversation_id": conversation_id, "typing": typing, "agent_name": name},
            headers=stack.assistant.api_headers(),
            timeout=10,
        )
        assert response.status_code in (200, 204), response.text

    def agent_is_shown() -> None:
        said = [m for m in page.messages() if m["sender"] == "agent"]
        # The bridge's notice that the agent joined, then the agent's words as
        # text, never HTML; one person, named at the start (the display name
        # is the username by default).
        assert said[-1]["text"] == "您好，我来帮您查一下 <b>物流</b>"
        assert said[0]["agent"] == name
        assert len({m["speaker"] for m in said}) == 1
        assert page.banner() == ("connected", f"人工客服 {name} 正在为您服务")
        page.screenshot(tmp_path / "desktop-3-agent.png")

    ticket_id = asyncio.run(agent_helps_and_resolves())
    page.wait(lambda: len(page.all("star")) == 5, "the CSAT stars")
    assert page.banner()[1] == ""
    page.screenshot(tmp_path / "desktop-4-csat.png")
    page.all("star")[3].click()
    page.wait_for_message("customer", lambda text: text == "4 满意", "the rating's title")
    page.press("没有了")
    page.wait_for_message("bot", lambda text: "感谢您的评价" in text, "the thanks")
    page.screenshot(tmp_path / "desktop-5-rated.png")
    assert stack.ticket(ticket_id)["csat"]["score"] == 4

    token = page.token()
    shown = page.settled_messages()
    browser.refresh()
    page.load(browser.current_url)
    page.open()
    page.wait(lambda: len(page.messages()) >= len(shown), "the replayed history")
    assert page.token() == token
    replayed = page.messages()
    assert [(m["sender"], m["text"]) for m in replayed] == [(m["sender"], m["text"]) for m in shown]
    assert any(m["agent"] == name for m in replayed)
    page.screenshot(tmp_path / "desktop-6-reloaded.png")
    # Greeted once: the reload resumed the session rather than starting one.
    assert sum("小云" in text and "有什么可以帮您" in text for text in page.texts("bot")) == 1


def test_on_a_phone_the_chat_fills_the_screen_and_speaks_the_page_language(
    browser: webdriver.Chrome, site: str, tmp_path: Path
):
    set_viewport(browser, PHONE)
    page = WidgetPage(browser)
    page.load(f"{site}/en.html")
    page.open()
    width, height = browser.execute_script(
        "const box = arguments[0].getBoundingClientRect(); return [box.width, box.height]",
        page.find("panel"),
    )
    assert (width, height) == PHONE
    assert page.find("input").get_attribute("placeholder") == "Type a message…"

    greeting = page.wait_for_message("bot", lambda text: "Yun" in text, "the greeting")
    assert "CloudPick" in greeting
    page.screenshot(tmp_path / "phone-1-greeting.png")
    page.press("Check an order")
    page.wait_for_message("customer", lambda text: text == "Check an order", "the pressed title")
    page.wait_for_message("bot", lambda text: "order" in text.lower(), "the bot's question")
    page.screenshot(tmp_path / "phone-2-answer.png")

    # Files are checked before they are sent: too large, then a kind the bridge refuses.
    large = tmp_path / "scan.png"
    large.write_bytes(b"\x89PNG" + b"\0" * (11 * 1024 * 1024))
    page.attach(large)
    page.wait(lambda: "too large" in page.find("notice").text, "the size error")
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ" + b"\0" * 100)
    page.attach(program)
    page.wait(lambda: "can't be sent" in page.find("notice").text, "the type error")

    # With no agent on the conversation, a file is refused politely by the server.
    page.attach(photo(tmp_path / "photo.png"))
    page.wait(lambda: "not sent" in page.find("notice").text, "the server's refusal")
    page.screenshot(tmp_path / "phone-3-file-refused.png")

    seconds = page.reply_seconds("How long does delivery take?")
    assert 0 < seconds < 30
    print(f"send -> reply on screen: {seconds * 1000:.0f} ms")

    # The network drops: the customer is told, cannot send, and the chat
    # comes back as it was once the network does.
    shown = page.settled_messages()
    set_offline(browser, True)
    page.wait(lambda: page.banner()[0] == "offline", "the offline banner")
    assert page.banner()[1] == "You're offline. Reconnecting…"
    assert not page.find("send").is_enabled()
    page.screenshot(tmp_path / "phone-4-offline.png")
    set_offline(browser, False)
    page.wait(page.online, "the reconnection")
    page.wait(lambda: page.messages() == shown, "the conversation after reconnecting")
    assert page.banner() == ("", "")

    # Escape closes the panel and gives the focus back to the launcher.
    page.find("input").send_keys(Keys.ESCAPE)
    page.wait(lambda: not page.find("panel").is_displayed(), "the panel to close")
    assert page.find("launcher").get_attribute("aria-expanded") == "false"
    assert (
        browser.execute_script(
            "return arguments[0].shadowRoot.activeElement?.dataset.testid", page.host
        )
        == "launcher"
    )


def test_rasa_webchat_from_npm_talks_to_our_channel(
    browser: webdriver.Chrome, handoff_stack: HandoffStack, tmp_path: Path
):
    """The widget Rasa users know, as published, against our socket.io channel."""
    root = tmp_path / "webchat"
    root.mkdir()
    (root / "index.js").write_bytes(RASA_WEBCHAT.read_bytes())
    (root / "index.html").write_text(
        f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>
<div id="webchat" style="width: 400px; height: 640px"></div>
<script src="index.js"></script>
<script>
  WebChat.default({{
    selector: "#webchat",
    socketUrl: "{handoff_stack.assistant.url}",
    socketPath: "/socket.io/",
    customData: {{ language: "zh" }},
    embedded: true,
    params: {{ storage: "session" }},
  }}, null);
</script></body></html>""",
        encoding="utf-8",
    )
    set_viewport(browser, DESKTOP)
    with customer_site(tmp_path / "site", handoff_stack.assistant.url) as site:
        # The page and rasa-webchat come from the test's site; the chat goes to Rasa.
        (tmp_path / "site" / "webchat").symlink_to(root)
        browser.get(f"{site}/webchat/index.html")
        try:
            talk_to_rasa_webchat(browser)
        finally:
            browser.save_screenshot(str(tmp_path / "rasa-webchat.png"))


def talk_to_rasa_webchat(browser: webdriver.Chrome) -> None:
    """Greeted, then a typed question answered, in rasa-webchat's own page."""
    page = WidgetPage(browser)

    def bot_texts() -> list[str]:
        return [
            e.get_attribute("textContent")
            for e in browser.find_elements("css selector", ".rw-response")
        ]

    greeting = page.wait(
        lambda: next((text for text in bot_texts() if "小云" in text), None),
        "rasa-webchat's greeting",
    )
    assert FALLBACK not in greeting
    field = browser.find_element("css selector", ".rw-new-message")
    field.send_keys("怎么开发票")
    browser.find_element("css selector", ".rw-send").click()
    # Not the greeting, and not the typing dots (an empty response bubble).
    answer = page.wait(
        lambda: next((t for t in bot_texts() if t.strip() and "小云" not in t), None),
        "a reply in rasa-webchat",
    )
    assert FALLBACK not in answer
