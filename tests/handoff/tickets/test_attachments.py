"""Which files the bridge keeps is told by their bytes; names are made safe
to show and download; the store writes a file whole or not at all."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from handoff.errors import AttachmentTypeNotAllowed, InvalidInput
from handoff.tickets import attachments
from handoff.tickets.attachments import AttachmentStore, content_disposition, display_name, kind_of


def image(format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format=format)
    return buffer.getvalue()


def ooxml(main_part: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr(main_part, "<document/>")
    return buffer.getvalue()


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


@pytest.mark.parametrize(
    ("data", "declared", "filename", "kind"),
    [
        (image("JPEG"), "image/jpeg", "photo.jpg", attachments.JPEG),
        (image("PNG"), "image/png", "a.png", attachments.PNG),
        (image("GIF"), "", "a.gif", attachments.GIF),
        (image("WEBP"), "application/octet-stream", "a", attachments.WEBP),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf", "invoice.pdf", attachments.PDF),
        ("订单号 20240101-0001\r\n谢谢".encode(), "text/plain", "note.txt", attachments.TEXT),
        ("订单号\n".encode("gb18030"), "text/plain; charset=gbk", "gbk.txt", attachments.TEXT),
        (ooxml("word/document.xml"), "", "report.docx", attachments.DOCX),
        (ooxml("xl/workbook.xml"), "application/octet-stream", "sheet", attachments.XLSX),
        (ooxml("ppt/presentation.xml"), "", "deck.pptx", attachments.PPTX),
        (OLE2, "application/vnd.ms-excel", "old", attachments.XLS),
        (OLE2, "application/octet-stream", "old.doc", attachments.DOC),
        # The bytes decide, not the declared type: a PNG called text/plain is a PNG.
        (image("PNG"), "text/plain", "x.txt", attachments.PNG),
    ],
)
def test_allowed_kinds_are_told_by_their_bytes(data, declared, filename, kind):
    assert kind_of(data, declared=declared, filename=filename) == kind


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (b"<html><script>alert(1)</script></html>", "text/html"),  # declared type refused
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "image/svg+xml"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "image/png"),  # an executable called an image
        (b"\x00\x01\x02binary", "text/plain"),  # NUL and controls are not text
        (b"PK\x03\x04not really a zip", "application/octet-stream"),
        (ooxml("evil/payload.xml"), ""),  # a zip, but no office document
        (OLE2, "application/octet-stream"),  # an OLE2 file nobody can name
    ],
)
def test_other_files_are_refused(data, declared):
    with pytest.raises(AttachmentTypeNotAllowed):
        kind_of(data, declared=declared, filename="file")


def test_an_empty_file_is_invalid():
    with pytest.raises(InvalidInput):
        kind_of(b"", declared="text/plain", filename="empty.txt")


@pytest.mark.parametrize(
    ("filename", "kind", "shown"),
    [
        ("照片.jpg", attachments.JPEG, "照片.jpg"),
        ("../../etc/passwd", attachments.TEXT, "passwd.txt"),
        ("C:\\Users\\me\\发票.PDF", attachments.PDF, "发票.PDF"),
        ("invoice.pdf.exe", attachments.PDF, "invoice.pdf.exe.pdf"),
        ("cod\u202egnp.exe", attachments.PNG, "codgnp.exe.png"),  # no right-to-left override
        ("", attachments.PNG, "attachment.png"),
        (None, attachments.DOCX, "attachment.docx"),
        ("a" * 300 + ".png", attachments.PNG, "a" * 196 + ".png"),
    ],
)
def test_names_lose_folders_and_controls_and_end_as_their_kind(filename, kind, shown):
    assert display_name(filename, kind) == shown


def test_content_disposition_has_an_ascii_fallback_and_the_utf8_name():
    header = content_disposition('报价"单".pdf', inline=False)
    assert header.startswith('attachment; filename="')
    assert header.endswith("filename*=UTF-8''%E6%8A%A5%E4%BB%B7%22%E5%8D%95%22.pdf")
    assert '"_' in header and header.isascii()
    assert content_disposition("a.png", inline=True).startswith("inline;")


async def test_the_store_keeps_private_files_under_random_keys(tmp_path):
    store = AttachmentStore(tmp_path / "attachments")
    first, second = await store.save(b"one"), await store.save(b"one")
    assert first != second and len(first) == 32
    path = store.path(first)
    assert path.read_bytes() == b"one"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "attachments").stat().st_mode & 0o777 == 0o700
    assert not list(path.parent.glob(".*.part"))
    await store.discard(first)
    assert not path.exists()
    with pytest.raises(ValueError, match="storage key"):
        store.path("../../etc/passwd")
