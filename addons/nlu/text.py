"""Script-aware text handling for mixed Chinese/English customer messages.

Customers write "我的order还没到", "iPhone 15 Pro 怎么退货" or full-width
"ＯＲＤＥＲ１２３". Everything here keeps character offsets into the *original*
text, so entities and tokens always point at what the customer typed.

Nothing in this module imports Rasa: the tokenizer, the FAQ index and the
benchmarks all share it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal, NamedTuple

import jieba
import regex

Language = Literal["zh", "en"]

# jieba's dictionary, "word frequency tag" per line: 349,000 words the
# components learn from without any download.
JIEBA_DICTIONARY = Path(jieba.__file__).parent / "dict.txt"

# Chinese characters, with the ideographic zero of written numbers (二〇二四).
_HAN_CHARS = r"[\p{Han}〇]"
# One run of a single script. Latin words keep inner dots, dashes, apostrophes,
# "+" and "#" ("e-mail", "c++", "don't", "3.5mm"); "@" keeps e-mail addresses whole.
_RUN = regex.compile(
    rf"(?P<han>{_HAN_CHARS}+)"
    r"|(?P<latin>[\p{Latin}\p{Nd}]+(?:[.'’@_+#\-][\p{Latin}\p{Nd}]+)*[+#]*)"
    r"|(?P<symbol>[\p{So}\p{Sk}])",
    regex.VERSION1,
)
_HAN = regex.compile(r"\p{Han}")
# Markup, links and addresses say nothing about the language a person writes.
_NOT_PROSE = regex.compile(r"<[^<>]{0,200}>|https?://\S+|www\.\S+|\S+@\S+")
_LATIN_WORD = regex.compile(r"\p{Latin}+")
_HAN_RUN = regex.compile(rf"{_HAN_CHARS}+")
_PAIRABLE_WORD = regex.compile(r"[\p{Latin}\p{Nd}]+(?:['’]\p{Latin}+)*")

# Full-width ASCII variants (U+FF01..U+FF5E) map to ASCII by a fixed offset;
# the ideographic space maps to a plain space. The mapping keeps string length.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

jieba.setLogLevel(logging.WARNING)


def to_half_width(text: str) -> str:
    """Fold full-width letters, digits and punctuation to ASCII, keeping offsets."""
    return text.translate(_HALF_WIDTH)


class Word(NamedTuple):
    """A word of the original text: ``text`` is width-folded, offsets are original."""

    text: str
    start: int
    end: int
    script: Literal["han", "latin", "symbol"]


class Unit(NamedTuple):
    """The smallest piece a sequence tagger labels: one Chinese character, or
    one whole Latin word / number / symbol. ``word`` is the jieba word around a
    Chinese character and ``position`` where the unit sits in it (B/M/E/S)."""

    text: str
    start: int
    end: int
    script: Literal["han", "latin", "symbol"]
    word: str
    position: Literal["B", "M", "E", "S"]


@functools.cache
def _jieba_dictionary() -> tuple[dict[str, int], int]:
    """jieba's dictionary (word and prefix → frequency, and their total),
    read once per process and shared by every segmenter that adds no word."""
    reader = jieba.Tokenizer()
    reader.initialize()
    return reader.FREQ, reader.total


class Segmenter:
    """Splits text into words: jieba for Chinese runs, script runs for the rest.

    Jieba alone treats spaces as words and glues Latin to Chinese
    ("order还没到" can become one token); splitting by script first avoids both.
    Each segmenter has its own jieba dictionary, so words added for one model
    never leak into another loaded in the same process.
    """

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        self._jieba = jieba.Tokenizer()
        # jieba keeps its dictionary in `FREQ` and `total` and reads it in
        # `initialize()`; each tokenizer would read its own 55 MB copy.
        self._jieba.FREQ, self._jieba.total = _jieba_dictionary()
        self._jieba.initialized = True
        self.user_words: list[str] = []
        self.add_words(user_words)

    def add_words(self, words: Iterable[str]) -> None:
        """Teach jieba words it must keep whole (product names, entity values)."""
        for word in words:
            word = to_half_width(word).strip()
            if word and _HAN.search(word) and word not in self.user_words:
                if self._jieba.FREQ is _jieba_dictionary()[0]:
                    # Copied on the first word of its own: a copy shares the
                    # words' strings, so it costs a third of a fresh read.
                    self._jieba.FREQ = dict(self._jieba.FREQ)
                self._jieba.add_word(word, freq=None, tag=None)
                self.user_words.append(word)

    def words(self, text: str) -> list[Word]:
        """The text's words in order, with their offsets into it."""
        return list(self._iter_words(text))

    def units(self, text: str) -> list[Unit]:
        units = []
        for word in self._iter_words(text):
            if word.script != "han" or len(word.text) == 1:
                units.append(Unit(*word, word.text, "S"))
                continue
            last = len(word.text) - 1
            for i, char in enumerate(word.text):
                position = "B" if i == 0 else "E" if i == last else "M"
                start = word.start + i
                units.append(Unit(char, start, start + 1, "han", word.text, position))
        return units

    def _iter_words(self, text: str) -> Iterator[Word]:
        folded = to_half_width(text)
        for run in _RUN.finditer(folded):
            script = run.lastgroup
            if script != "han":
                yield Word(run.group(), run.start(), run.end(), script)
                continue
            offset = run.start()
            for piece, start, end in self._jieba.tokenize(run.group(), HMM=True):
                yield Word(piece, offset + start, offset + end, "han")


def detect_language(text: str) -> Language | None:
    """Guesses whether a message is Chinese or English; ``None`` if it has no words.

    Chinese wins ties because the shop is Chinese-first: "我的order还没到" is
    Chinese, "Is my 订单 shipped?" is English. Digits, emoji and punctuation say
    nothing about the language, so "12345" keeps the conversation's language.
    """
    text = _NOT_PROSE.sub(" ", to_half_width(text))
    han_chars = len(_HAN.findall(text))
    latin_words = len(_LATIN_WORD.findall(text))
    if not han_chars and not latin_words:
        return None
    # Chinese words average about 1.5 characters.
    return "zh" if han_chars / 1.5 >= latin_words else "en"


def han_characters(text: str) -> list[str]:
    """Every Chinese character in the text, in order."""
    return _HAN.findall(text)


def han_runs(text: str) -> list[str]:
    """The unbroken stretches of Chinese characters in the text."""
    return _HAN_RUN.findall(text)


def latin_word_runs(text: str) -> list[list[str]]:
    """The Latin-script words (with digits) of each stretch of text between
    Chinese characters: "my order 还没到 since monday" → [[my, order], [since, monday]]."""
    return [_PAIRABLE_WORD.findall(chunk) for chunk in _HAN_RUN.split(text)]


def is_decisive(text: str) -> bool:
    """Whether the message says enough to switch a conversation's language.

    "ok", "no", "thx" are typed by Chinese customers all the time; a lone
    short Latin word only sets the language of a conversation that has none.
    """
    text = _NOT_PROSE.sub(" ", to_half_width(text))
    if _HAN.search(text):
        return True
    words = _LATIN_WORD.findall(text)
    return len(words) > 1 or any(len(word) > 4 for word in words)


class Gazetteer:
    """Finds the longest known phrases (product names, lexicon terms) in a text.

    Matching ignores case and character width. A Latin or numeric phrase must
    stand alone ("pro" does not match inside "product"); Chinese has no word
    spaces, so Chinese phrases match anywhere.
    """

    def __init__(self, phrases: dict[str, Iterable[str]]) -> None:
        self._labels: dict[str, set[str]] = {}
        for label, entries in phrases.items():
            for entry in entries:
                key = _fold(str(entry)).strip()
                if key:
                    self._labels.setdefault(key, set()).add(label)
        self._longest = max((len(key) for key in self._labels), default=0)

    def __bool__(self) -> bool:
        return bool(self._labels)

    def find(self, text: str) -> list[tuple[int, int, frozenset[str]]]:
        """Non-overlapping ``(start, end, labels)`` matches, longest first at each position."""
        folded = _fold(text)
        matches = []
        position = 0
        while position < len(folded):
            for end in range(min(len(folded), position + self._longest), position, -1):
                labels = self._labels.get(folded[position:end])
                if labels and _stands_alone(folded, position, end):
                    matches.append((position, end, frozenset(labels)))
                    position = end
                    break
            else:
                position += 1
        return matches


def _fold(text: str) -> str:
    return to_half_width(text).lower()


def _stands_alone(text: str, start: int, end: int) -> bool:
    def is_word_char(char: str) -> bool:
        return char.isascii() and char.isalnum()

    if is_word_char(text[start]) and start > 0 and is_word_char(text[start - 1]):
        return False
    return not (is_word_char(text[end - 1]) and end < len(text) and is_word_char(text[end]))
