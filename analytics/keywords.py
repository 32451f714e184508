"""Hot keywords of customer text: jieba for Chinese, words for English,
without stop words, numbers or order-number-like tokens."""

from __future__ import annotations

import logging
import re

STOP_WORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 我 你 您 他 她 它 我们 你们 是 在 有 和 就 都 也 还 要 想 能 会 可以
    怎么 怎么办 什么 为什么 一下 这个 那个 这 那 哪 个 没 没有 不 很 太 好 请问 请 帮 帮我 一个
    给 把 被 让 到 过 又 再 吗? 嗯 哦 喔 哈 谢谢 你好 在吗 请问一下 现在 已经 还是 然后
    the a an and or to of in on for is are was be it i my me you your we our can could
    do does did how what when where why which with this that there have has not no yes please
    hi hello thanks thank just about from at as if so but get got want would will""".split()
)
TOKEN = re.compile(r"[\u4e00-\u9fff]{2,}|[A-Za-z][A-Za-z'-]{2,}")


def keywords_of(text: str) -> list[str]:
    """jieba's words for Chinese runs, lower-cased words otherwise. jieba
    loads its dictionary on first use, so texts seen before are looked up
    in the warehouse instead of being segmented again."""
    import jieba  # only needed, and only loaded, when there are new texts

    jieba.setLogLevel(logging.WARNING)
    words = []
    for piece in TOKEN.findall(text or ""):
        parts = jieba.lcut(piece) if "\u4e00" <= piece[0] <= "\u9fff" else [piece.lower()]
        words.extend(word for word in parts if len(word) >= 2 and word not in STOP_WORDS)
    return words
