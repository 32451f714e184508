"""Our web chat widget in a real browser: a customer's site that embeds it
with one script tag, and the widget as a customer sees it (found by its
data-testid attributes inside its shadow root). Used by
tests/integration/test_widget_browser.py and by the channels bench, which
calls `WidgetPage.reply_seconds`."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import (
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from scripts.stack import LOOPBACK, free_port
from tests.browser import headless_chromium

WIDGET = Path(__file__).resolve().parents[2] / "addons" / "channels" / "widget"
TIMEOUT = 30
DESKTOP = (1280, 800)
PHONE = (390, 844)

HOST_PAGE = """<!doctype html>
<html lang="{page_lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>A shop</title>
<style>* {{ font-family: serif !important; color: brown; }}
button {{ background: hotpink; }}</style>
</head>
<body><h1>A shop that embeds the chat</h1>
<script>window.CloudPickChatSettings = {settings};</script>
<script src="/widget/widget.js" data-server="{server}" {attributes} async></script>
</body></html>
"""


@contextlib.contextmanager
def customer_site(
    root: Path, server: str, settings: dict[str, Any] | None = None, **pages: str
) -> Iterator[str]:
    """A site on its own origin (not Rasa's) serving the widget's files
    under /widget/ and each `name=attributes` as /name.html, a page
    embedding the widget with those extra script attributes and `settings`
    as `window.CloudPickChatSettings`. Yields its URL."""
    shutil.copytree(WIDGET, root / "widget")
    for name, attributes in pages.items():
        page_lang = "en" if 'data-lang="en"' in attributes else "zh-CN"
        page = HOST_PAGE.format(
            server=server,
            attributes=attributes,
            page_lang=page_lang,
            settings=json.dumps(settings or {}, ensure_ascii=False),
        )
        (root / f"{name}.html").write_text(page, encoding="utf-8")
    handler = functools.partial(QuietHandler, directory=str(root))
    site = http.server.ThreadingHTTPServer((LOOPBACK, free_port()), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{site.server_port}"
    finally:
        site.shutdown()
        site.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def set_viewport(driver: webdriver.Chrome, size: tuple[int, int]) -> None:
    """The exact CSS viewport (a headless window has a minimum width), as a
    phone when narrow."""
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def set_offline(driver: webdriver.Chrome, offline: bool) -> None:
    """Cuts the browser's network (its open websocket closes at once) or restores it."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )


class WidgetPage:
    """The widget on a host page, as a customer uses it."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    @property
    def host(self) -> WebElement:
        """The element holding the widget's shadow root (scripts get this,
        and reach in with `.shadowRoot`)."""
        return self.driver.find_element(By.CSS_SELECTOR, '[data-testid="cloudpick-chat"]')

    @property
    def root(self) -> Any:
        return self.host.shadow_root

    def find(self, testid: str, within: Any = None) -> WebElement:
        return (within or self.root).find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def all(self, testid: str, within: Any = None) -> list[WebElement]:
        return (within or self.root).find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
        return WebDriverWait(
            self.driver,
            timeout,
            poll_frequency=0.1,
            ignored_exceptions=(
                NoSuchElementException,
                StaleElementReferenceException,
                JavascriptException,
            ),
        ).until(lambda _: condition(), message=f"waiting for {what}")

    def load(self, url: str) -> None:
        self.driver.get(url)
        self.wait(lambda: self.find("launcher").is_displayed(), "the launcher")

    def open(self) -> None:
        self.find("launcher").click()
        self.wait(lambda: self.find("panel").is_displayed(), "the panel")
        self.wait(lambda: self.find("status").text and self.online(), "the connection")

    def online(self) -> bool:
        return self.driver.execute_script(
            "return arguments[0].shadowRoot.querySelector('.root').dataset.connection === 'online'",
            self.host,
        )

    def messages(self) -> list[dict[str, str]]:
        """Each message on screen: who said it, its text, the agent's name."""
        return self.driver.execute_script(
            """
            const rows = arguments[0].shadowRoot.querySelectorAll('[data-testid="message"]');
            return [...rows].map((row) => ({
              sender: row.dataset.sender,
              text: row.querySelector('[data-testid="message-text"]')?.textContent || '',
              agent: row.querySelector('[data-testid="agent-name"]')?.textContent || '',
              speaker: row.dataset.speaker,
            }));
            """,
            self.host,
        )

    def settled_messages(self, quiet: float = 1.5) -> list[dict[str, str]]:
        """The messages once none has arrived for `quiet` seconds (a bot
        turn may be several messages)."""
        last, since = self.messages(), time.monotonic()
        while time.monotonic() - since < quiet:
            time.sleep(0.1)
            if (now := self.messages()) != last:
                last, since = now, time.monotonic()
        return last

    def texts(self, sender: str) -> list[str]:
        return [message["text"] for message in self.messages() if message["sender"] == sender]

    def wait_for_message(
        self, sender: str, where: Callable[[str], bool], what: str, timeout: float = TIMEOUT
    ) -> str:
        def found() -> str | None:
            return next((text for text in self.texts(sender) if where(text)), None)

        return self.wait(found, what, timeout)

    def replies(self) -> list[WebElement]:
        return self.all("quick-reply")

    def press(self, title: str) -> None:
        def pressed() -> bool:
            for button in self.replies():
                if button.text == title:
                    button.click()
                    return True
            return False

        self.wait(pressed, f"the button {title!r}")

    def say(self, text: str) -> None:
        field = self.find("input")
        field.send_keys(text)
        self.find("send").click()

    def attach(self, path: Path) -> None:
        """Chooses a file as the attach button's dialog would."""
        chooser = self.find("file")
        # WebDriver types only into a file input it can see.
        self.driver.execute_script("arguments[0].style.display = 'block'", chooser)
        chooser.send_keys(str(path))
        self.driver.execute_script("arguments[0].style.display = ''", chooser)

    def typing(self) -> str:
        """What the typing indicator says; "" when hidden."""
        indicator = self.find("typing")
        return indicator.text if indicator.is_displayed() else ""

    def banner(self) -> tuple[str, str]:
        banner = self.find("banner")
        return (
            banner.get_attribute("data-state") or "",
            banner.text if banner.is_displayed() else "",
        )

    def token(self) -> str | None:
        return self.driver.execute_script(
            "return Object.entries(localStorage)"
            ".find(([key]) => key.startsWith('cloudpick-chat:'))?.[1]"
        )

    def screenshot(self, path: Path) -> Path:
        self.driver.save_screenshot(str(path))
        return path

    def reply_seconds(self, text: str, timeout: float = TIMEOUT) -> float:
        """Seconds from pressing send to the bot's (or agent's) next message
        on screen, timed inside the page."""
        self.find("input").send_keys(text)
        self.driver.set_script_timeout(timeout + 5)
        elapsed = self.driver.execute_async_script(
            """
            const [host, timeout, done] = arguments;
            const root = host.shadowRoot;
            const messages = root.querySelector('.messages');
            const started = performance.now();
            const observer = new MutationObserver((changes) => {
              for (const change of changes) {
                for (const node of change.addedNodes) {
                  if (node.dataset && node.dataset.sender && node.dataset.sender !== 'customer') {
                    observer.disconnect();
                    done((performance.now() - started) / 1000);
                    return;
                  }
                }
              }
            });
            observer.observe(messages, { childList: true });
            setTimeout(() => { observer.disconnect(); done(null); }, timeout * 1000);
            root.querySelector('[data-testid="send"]').click();
            """,
            self.host,
            timeout,
        )
        if elapsed is None:
            raise AssertionError(f"No reply on screen within {timeout} s to {text!r}")
        return float(elapsed)


def reply_seconds_on_screen(
    rasa_url: str, texts: list[str], workdir: Path, size: tuple[int, int] = DESKTOP
) -> list[float]:
    """For the channels bench: a fresh customer in headless Chromium opens
    the widget on a site of its own origin, waits for the greeting, then
    sends each text in turn; the seconds from send to the reply on screen."""
    driver = headless_chromium("The widget's reply time", "--lang=zh-CN")
    try:
        with customer_site(workdir, rasa_url, index="") as site:
            set_viewport(driver, size)
            page = WidgetPage(driver)
            page.load(f"{site}/index.html")
            page.open()
            page.wait(lambda: page.texts("bot"), "the greeting")
            return [page.reply_seconds(text) for text in texts]
    finally:
        driver.quit()
