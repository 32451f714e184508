"""Which files a customer's mail or form may bring, and how they are named.

One home for the limits of both the e-mail channel and the form. Which
kinds of file are kept is the bridge's rule (it looks at the bytes, see
handoff/tickets/attachments.py); here only how many files one mail or
form may bring, and a size bound so that nothing too large for the bridge
is sent to it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_FILENAME_CHARS = 120
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class LeftOut:
    """A file that was not kept, and why, in the customer's words."""

    filename: str
    reason: str  # "count", "size", or the bridge's words


def safe_filename(name: str | None, default: str = "attachment") -> str:
    """A display name with no path, control or shell characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = PurePath(name.replace("\\", "/")).name
    name = _UNSAFE_FILENAME.sub("_", name).strip(" .")
    return name[:MAX_FILENAME_CHARS] or default


def select(attachments: list[Attachment]) -> tuple[list[Attachment], list[LeftOut]]:
    """The files to keep, in order, and those left out."""
    kept: list[Attachment] = []
    left_out: list[LeftOut] = []
    for attachment in attachments:
        if len(attachment.data) > MAX_ATTACHMENT_BYTES:
            left_out.append(LeftOut(attachment.filename, "size"))
        elif len(kept) >= MAX_ATTACHMENTS:
            left_out.append(LeftOut(attachment.filename, "count"))
        else:
            kept.append(attachment)
    return kept, left_out
