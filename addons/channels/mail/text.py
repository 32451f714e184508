"""What a customer newly wrote in a mail, as plain text.

Mail clients quote the whole history under (or above) a reply; the agent
and the bot need only the new words. HTML is first reduced by nh3 (a
whitelist sanitiser built on a real HTML5 parser, so broken markup, scripts,
styles and comments are gone before we read it), then turned into text
with the known quote containers left out. Textual quote markers of the
common clients (Gmail, Outlook, Apple Mail, QQ Mail, Foxmail, NetEase) cut
the rest.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

# Tags whose text we keep and whose structure becomes line breaks.
_KEPT_TAGS = {
    "a", "b", "blockquote", "br", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "li", "ol", "p", "pre", "span", "strong", "table", "td", "th", "tr", "u", "ul",
}  # fmt: skip
_DROPPED_WITH_CONTENT = {"script", "style", "head", "title", "noscript", "template"}
_BLOCK_TAGS = {
    "blockquote",
    "div",
    "ol",
    "ul",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "pre",
    "table",
    "tr",
}
# Containers of quoted history: Gmail's class, Yahoo's, Apple Mail's type.
_QUOTE_CLASSES = {"gmail_quote", "yahoo_quoted", "moz-cite-prefix"}
# Outlook and Foxmail put everything after one of these; the rest is history.
_HISTORY_IDS = {"divRplyFwdMsg", "appendonsend", "mail-editor-reference-message-container"}

_HEADER_LINE = (
    r"(?:From|Sent|Date|To|Subject|Cc|发件人|发送时间|时间|日期|收件人|主题|抄送)\s*[:：]"
)
# One line, or two joined (Gmail wraps long "On ... wrote:" lines).
_QUOTE_INTRODUCTIONS = re.compile(
    r"""^\s*(?:
        On\s.{1,300}\swrote\s*:
      | 在\s?.{1,300}写道\s*[:：]
      | 于\s?.{1,300}写道\s*[:：]
      | -{2,}\s*(?:Original\sMessage|原始邮件|邮件原件|Reply\smessage|回复的原邮件)\s*-{2,}
      | _{20,}
    )\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(_HEADER_LINE, re.IGNORECASE)
_SIGNATURE_DELIMITER = "-- "
_SENT_FROM = re.compile(r"^\s*(?:Sent from my .{1,40}|发自我的.{1,20}|从我的.{1,20}发送)\s*$", re.I)
_BLANK_RUNS = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """The readable text of an HTML mail, without its quoted history."""
    clean = nh3.clean(
        html,
        tags=_KEPT_TAGS,
        clean_content_tags=_DROPPED_WITH_CONTENT,
        attributes={"div": {"class", "id"}, "blockquote": {"class", "type"}},
        link_rel=None,
        strip_comments=True,
    )
    reader = _TextReader()
    reader.feed(clean)
    reader.close()
    lines = "".join(reader.parts).split("\n")
    return _BLANK_RUNS.sub("\n\n", "\n".join(line.strip() for line in lines)).strip()


def new_words(text: str) -> str:
    """The part of a plain-text mail the sender wrote now: above the first
    quote introduction, without "> " lines, signature or "Sent from my
    iPhone"."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _starts_history(line, following, lines[index + 1 : index + 4]):
            break
        if line.rstrip("\n") == _SIGNATURE_DELIMITER:
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    while kept and (not kept[-1].strip() or _SENT_FROM.match(kept[-1])):
        kept.pop()
    return _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()


def _starts_history(line: str, following: str, next_lines: list[str]) -> bool:
    if _QUOTE_INTRODUCTIONS.match(line):
        return True
    if line.strip() and _QUOTE_INTRODUCTIONS.match(f"{line.rstrip()} {following.strip()}"):
        return "wrote" in following or "写道" in following
    # Outlook's plain-text header block: "From: …" then "Sent: …" / "Date: …".
    if _HEADER_BLOCK.match(line.strip()) and line.strip().lower().startswith(("from", "发件人")):
        return sum(bool(_HEADER_BLOCK.match(next_line.strip())) for next_line in next_lines) >= 2
    return False


class _TextReader(HTMLParser):
    """Text of sanitised HTML: blocks become lines, quotes are skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0  # inside a quote container: count nested tags of its kind
        self._skip_tag = ""
        self._history = False  # everything from here on is quoted history

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._history:
            return
        if self._skip_depth:
            self._skip_depth += tag == self._skip_tag
            return
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if attributes.get("id") in _HISTORY_IDS:
            self._history = True
            return
        if tag == "blockquote" or classes & _QUOTE_CLASSES:
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag in ("br", "hr") or tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self._history:
            return
        if self._skip_depth:
            self._skip_depth -= tag == self._skip_tag
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not (self._history or self._skip_depth):
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data.replace("\xa0", " ")))
