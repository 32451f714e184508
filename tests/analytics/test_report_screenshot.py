"""The Chinese report in a real browser (headless Chromium): Chinese text is
drawn with a CJK font rather than as boxes, both charts have a size, hostile
cell text stays text, and a full-page screenshot is saved for a person to
look at (`pytest --basetemp=DIR` keeps it somewhere known)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from analytics.labels import LABELS
from analytics.model import Chart, ChartKind, Metric, Report, Section, Table
from analytics.output import write_report
from tests.browser import headless_chromium

WIDTH = 1280
HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
CJK_FAMILIES = ("WenQuanYi", "Noto Sans CJK", "Noto Serif CJK", "Source Han", "Droid Sans Fallback")

ZH_LABELS = {
    "overview": ("总览", "Overview"),
    "conversations": ("会话数", "Conversations"),
    "containment": ("机器人独立解决率", "Containment"),
    "median_wait": ("排队等待中位数", "Median wait"),
    "csat": ("满意度", "CSAT"),
    "daily_volume": ("每日会话量", "Daily conversations"),
    "day": ("日期", "Day"),
    "handoffs": ("转人工", "Handoffs"),
    "containment_rate": ("独立解决率", "Containment rate"),
    "containment_note": (
        "独立解决率 = 未转人工且未放弃的会话 ÷ 全部会话",
        "Containment = conversations neither handed off nor abandoned ÷ all conversations",
    ),
    "categories": ("问题分类分布", "Conversations by category"),
    "category": ("问题分类", "Category"),
    "share": ("占比", "Share"),
    "wait": ("平均等待", "Average wait"),
    "feedback": ("客户留言", "Customer comments"),
    "comment": ("留言内容", "Comment"),
}


@pytest.fixture
def chinese_report(monkeypatch: pytest.MonkeyPatch) -> Report:
    for key, texts in ZH_LABELS.items():
        monkeypatch.setitem(LABELS, key, texts)
    days = [f"2026-11-{day:02d}" for day in range(1, 15)]
    trend = Table(
        name="daily_volume",
        title="daily_volume",
        columns=["day", "conversations", "handoffs", "containment_rate"],
        rows=[
            [day, 320 + (i * 37) % 90, 40 + (i * 13) % 25, 0.78 + ((i * 7) % 10) / 100]
            for i, day in enumerate(days)
        ],
        chart=Chart(ChartKind.LINE, "day", ("conversations", "handoffs")),
        formats={"containment_rate": "percent"},
        note="containment_note",
    )
    categories = Table(
        name="categories",
        title="categories",
        columns=["category", "conversations", "share", "wait"],
        rows=[
            ["退货退款", 1280, 0.312, 95],
            ["物流查询", 1034, 0.252, 48],
            ["发票开具", 655, 0.16, 130],
            ["账户与登录（找回密码、更换手机号）", 540, 0.132, 210.5],
            ["优惠券与活动", 402, 0.098, 30],
            ["其他", 189, 0.046, None],
        ],
        chart=Chart(ChartKind.BAR, "category", ("conversations",)),
        formats={"share": "percent", "wait": "seconds"},
    )
    feedback = Table(
        name="feedback",
        title="feedback",
        columns=["day", "comment"],
        rows=[["2026-11-03", HOSTILE], ["2026-11-04", "客服回复很快，退款已到账，谢谢！"]],
    )
    return Report(
        since="2026-11-01",
        until="2026-11-14",
        language="zh",
        filters={"channel": "微信公众号"},
        generated_at="2026-11-15 09:00",
        sections=[
            Section(
                name="overview",
                metrics=[
                    Metric("conversations", 4100),
                    Metric("containment", 0.8234, "percent"),
                    Metric("median_wait", 65, "seconds"),
                    Metric("csat", None),
                ],
                tables=[trend, categories, feedback],
            )
        ],
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = headless_chromium(
        "The report screenshot test", f"--window-size={WIDTH},900", "--hide-scrollbars"
    )
    try:
        yield driver
    finally:
        driver.quit()


def platform_fonts(driver: webdriver.Chrome, selector: str) -> list[str]:
    """The fonts Chromium really drew the element's text with.

    `document.fonts.check()` cannot tell: it answers true for any installed or
    missing system font, since there is nothing to load for either.
    """
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})
    fonts = driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})
    return [font["familyName"] for font in fonts["fonts"] if font["glyphCount"] > 0]


def distinct_drawings(driver: webdriver.Chrome, characters: str) -> int:
    """How many different pictures the page's font draws for these characters."""
    return driver.execute_script(
        """
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = 40;
        const context = canvas.getContext("2d");
        context.font = "32px " + getComputedStyle(document.body).fontFamily;
        const drawings = new Set();
        for (const character of arguments[0]) {
            context.clearRect(0, 0, 40, 40);
            context.fillText(character, 2, 32);
            drawings.add(context.getImageData(0, 0, 40, 40).data.join());
        }
        return drawings.size;
        """,
        characters,
    )


def test_chinese_report_renders_with_fonts_and_charts(
    browser: webdriver.Chrome, chinese_report: Report, tmp_path: Path
) -> None:
    paths = write_report(chinese_report, tmp_path / "report")
    browser.get(paths["html"].as_uri())

    assert browser.execute_script("return document.documentElement.lang") == "zh-CN"
    assert browser.find_element(By.TAG_NAME, "h1").text == "客服数据分析报告"

    # Chinese is drawn with a CJK font, in the page, the table and the chart.
    for selector in ("h1", ".metric-label", "tbody td", "svg text.category"):
        fonts = platform_fonts(browser, selector)
        assert any(family.startswith(CJK_FAMILIES) for family in fonts), (selector, fonts)
    # ... as real glyphs: missing glyphs are all drawn as the same box.
    assert distinct_drawings(browser, "退货款") == 3
    assert distinct_drawings(browser, "\U0010fffd\U0010fffc\U0010fffb") == 1

    # Both charts are drawn with a real size, the bar chart with the Chinese categories.
    charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg")
    assert len(charts) == 2
    for chart in charts:
        box = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", chart
        )
        assert box[0] > 600 and box[1] > 100, box
    line, bars = charts
    assert len(line.find_elements(By.TAG_NAME, "polyline")) == 2
    assert "退货退款" in bars.text

    # Customer text is shown as text and never runs.
    assert browser.execute_script("return window.__xss") is None
    assert HOSTILE in browser.find_element(By.CSS_SELECTOR, "section").text

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WIDTH, height)
    screenshot = tmp_path / "report.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    assert screenshot.stat().st_size > 50_000
