"""Headless Debian Chromium for the tests that look at pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def headless_chromium(
    purpose: str,
    *arguments: str,
    prefs: dict[str, Any] | None = None,
    log: bool = False,
    network_log: bool = False,
) -> webdriver.Chrome:
    """Skips the calling test, saying why, when Chromium is not installed
    (`make test` installs it where it can). `log` keeps the console's
    messages, `network_log` DevTools' network events (requests and
    websocket frames), both read with `driver.get_log`."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.skip(f"{purpose} needs {' and '.join(missing)}.")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", *arguments):
        options.add_argument(argument)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    logs = {"browser": "ALL"} if log else {}
    if network_log:
        logs["performance"] = "ALL"
    if logs:
        options.set_capability("goog:loggingPrefs", logs)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
