"""Customers' files on tickets: which kinds the bridge keeps, told by their
bytes, and where it keeps those bytes.

The declared type comes from the customer's client and is only a claim: a
file is kept when its first bytes (or, for office documents, its zip
directory) show an allowed kind, and it is kept, and served, as that kind.
So an HTML page or an SVG (both can run script in a browser) is refused
whatever it is called, and a PNG declared `text/html` is served as PNG.

Bytes live on disk under the bridge's attachments directory, one file per
upload named by a random key; the database holds the key and what the
console shows. Files up to 10 MB would bloat SQLite's single file and every
backup of the tickets, and on disk a download is sent by the kernel rather
than read through the database driver into memory.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from handoff.errors import AttachmentTypeNotAllowed, InvalidInput

JPEG, PNG, GIF, WEBP = "image/jpeg", "image/png", "image/gif", "image/webp"
PDF, TEXT = "application/pdf", "text/plain"
DOC, XLS, PPT = "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"
_OOXML = "application/vnd.openxmlformats-officedocument."
DOCX = _OOXML + "wordprocessingml.document"
XLSX = _OOXML + "spreadsheetml.sheet"
PPTX = _OOXML + "presentationml.presentation"

# Every kind kept, with the file name endings it may have (the first is
# added to a name that has none of them, so a download opens as what it is).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    JPEG: (".jpg", ".jpeg"),
    PNG: (".png",),
    GIF: (".gif",),
    WEBP: (".webp",),
    PDF: (".pdf",),
    TEXT: (".txt", ".log", ".csv"),
    DOC: (".doc",),
    XLS: (".xls",),
    PPT: (".ppt",),
    DOCX: (".docx",),
    XLSX: (".xlsx",),
    PPTX: (".pptx",),
}
IMAGES = frozenset({JPEG, PNG, GIF, WEBP})
# What clients declare when they do not know; the bytes decide alone.
UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# Word, Excel and PowerPoint 97-2003 share one container (OLE2); its kind is
# the declared one, else the name's.
_LEGACY_OFFICE = (DOC, XLS, PPT)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The part an OOXML package must hold, per kind.
_OOXML_MAIN = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX, "ppt/presentation.xml": PPTX}
# Text may hold tabs, line breaks and form feeds, but no other control characters.
_TEXT_CONTROLS = frozenset(chr(code) for code in range(32)) - set("\t\n\r\f")
MAX_NAME = 200


def kind_of(data: bytes, *, declared: str, filename: str) -> str:
    """The content type the file is kept and served as; raises
    AttachmentTypeNotAllowed when it is not a kind the bridge keeps."""
    declared = declared.split(";", 1)[0].strip().lower()
    if declared not in UNKNOWN_TYPES and declared not in EXTENSIONS:
        raise AttachmentTypeNotAllowed(f"Files of type {declared[:80]!r} are not kept.")
    if not data:
        raise InvalidInput("The file is empty.")
    kind = _sniff(data, declared=declared, suffix=PurePosixPath(filename.lower()).suffix)
    if kind is None:
        raise AttachmentTypeNotAllowed(
            "The file's content is not an image (JPEG, PNG, GIF, WebP), a PDF, "
            "plain text or an office document."
        )
    return kind


def _sniff(data: bytes, *, declared: str, suffix: str) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(_OLE2):
        if declared in _LEGACY_OFFICE:
            return declared
        return next((kind for kind in _LEGACY_OFFICE if suffix in EXTENSIONS[kind]), None)
    if data.startswith(b"PK\x03\x04"):
        return _ooxml(data)
    return TEXT if _is_text(data) else None


def _ooxml(data: bytes) -> str | None:
    """Reads only the zip's directory: nothing is decompressed."""
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    return next((kind for part, kind in _OOXML_MAIN.items() if part in names), None)


def _is_text(data: bytes) -> bool:
    """UTF-8 (with or without BOM) or GB18030, as Chinese Windows writes it."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return not _TEXT_CONTROLS.intersection(text)
    return False


def display_name(filename: str | None, kind: str) -> str:
    """The name shown and offered on download: no folders, no control
    characters, at most MAX_NAME characters, ending as its kind does."""
    name = unicodedata.normalize("NFC", filename or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    endings = EXTENSIONS[kind]
    if not name.lower().endswith(endings):
        name = (name or "attachment") + endings[0]
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        name = stem[: MAX_NAME - len(suffix) - 1] + dot + suffix
    return name


def content_disposition(name: str, *, inline: bool) -> str:
    """RFC 6266: an ASCII fallback name and the real one in UTF-8."""
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in name
    )
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class AttachmentStore:
    """Files by random key in one private directory; a file is complete
    before its key exists (written aside, then renamed)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError(f"Not a storage key: {key!r}")
        return self.directory / key[:2] / key

    async def save(self, data: bytes) -> str:
        key = secrets.token_hex(16)
        await asyncio.to_thread(self._write, key, data)
        return key

    async def discard(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    def _write(self, key: str, data: bytes) -> None:
        target = self.path(key)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.parent.mkdir(exist_ok=True, mode=0o700)
        partial = target.with_name(f".{key}.part")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, target)
