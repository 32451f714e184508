"""Labels of sections, metrics, tables and columns, in Chinese and English.

Keys missing here show as themselves, so a new metric is never hidden.
"""

from __future__ import annotations

LANGUAGES = ("zh", "en")

LABELS: dict[str, tuple[str, str]] = {
    # report chrome
    "report_title": ("客服数据分析报告", "Customer service report"),
    "period": ("统计区间", "Period"),
    "filters": ("筛选条件", "Filters"),
    "generated_at": ("生成时间", "Generated at"),
    "no_data": ("该区间没有数据", "No data in this period"),
    "warnings": ("提示", "Warnings"),
}


def label(key: str, language: str) -> str:
    texts = LABELS.get(key)
    if texts is None:
        return key
    return texts[0] if language == "zh" else texts[1]
