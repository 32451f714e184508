"""Customers' files through the bridge: a channel uploads with the real
client (`addons.channels.handoff_client`), the bridge keeps the file on the
conversation's ticket, tells the agent's console, and serves it only to
those who may read the conversation, never as a page."""

from __future__ import annotations

import contextlib
from pathlib import Path

import aiohttp
import pytest

from addons.channels.handoff_client import AttachmentRefused, BridgeUnavailable, HandoffClient
from tests.handoff.conftest import API_TOKEN, SERVICE, Bridge
from tests.handoff.tickets.test_attachments import image

PNG = image("PNG")
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@pytest.fixture
async def bridge(start_bridge, tmp_path: Path) -> Bridge:
    return await start_bridge(attachments_dir=tmp_path / "files", max_attachment_bytes=64 * 1024)


@pytest.fixture
async def client(bridge: Bridge):
    client = HandoffClient(url=str(bridge.client.make_url("")), token=API_TOKEN)
    yield client
    await client.close()


async def live_ticket(bridge: Bridge, conversation_id: str):
    """A live conversation claimed by a new agent: (ticket id, agent)."""
    agent = await bridge.add(online=True)
    ticket_id = (await bridge.handoff(conversation_id))["ticket"]["id"]
    await bridge.claim(ticket_id, agent)
    return ticket_id, agent


async def test_an_uploaded_image_reaches_the_agents_console_and_context(bridge, client):
    ticket_id, agent = await live_ticket(bridge, "c1")
    console = await bridge.console(agent)
    kept = await client.upload_attachment(
        "c1", filename="坏了.png", content_type="image/png", data=PNG, channel="wechat"
    )
    assert kept["name"] == "坏了.png" and kept["content_type"] == "image/png"
    assert (kept["size"], kept["channel"], kept["ticket_id"]) == (len(PNG), "wechat", ticket_id)
    assert kept["url"] == f"/api/attachments/{kept['id']}" and kept["image"] is True
    event = await console.next("ticket.attachment_added")
    assert (event["ticket_id"], event["attachment"]) == (ticket_id, kept)
    context = await bridge.get(f"/api/tickets/{ticket_id}/context", agent)
    assert context["attachments"] == [kept]
    ticket = await bridge.ticket(ticket_id)
    added = [e for e in ticket["history"] if e["name"] == "ticket.attachment_added"]
    assert added[0]["details"]["attachment_id"] == kept["id"]
    await console.close()


async def test_images_are_shown_inline_and_other_files_downloaded_never_as_a_page(bridge, client):
    _, agent = await live_ticket(bridge, "c1")
    png = await client.upload_attachment(
        "c1", filename="a.png", content_type="image/png", data=PNG, channel="socketio"
    )
    pdf = await client.upload_attachment(
        "c1", filename="发票.pdf", content_type="application/pdf", data=PDF, channel="socketio"
    )
    for kept, disposition in ((png, "inline"), (pdf, "attachment")):
        async with bridge.client.get(kept["url"], headers=agent.headers) as response:
            assert response.status == 200
            assert await response.read() == (PNG if kept is png else PDF)
            headers = response.headers
        assert headers["Content-Type"] == kept["content_type"]
        assert headers["Content-Disposition"].startswith(disposition + ";")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in headers["Content-Security-Policy"]
        assert "script-src" not in headers["Content-Security-Policy"]
        assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf" in headers["Content-Disposition"]


async def test_only_those_who_may_read_the_conversation_download(bridge, client):
    ticket_id, _ = await live_ticket(bridge, "c1")
    kept = await client.upload_attachment(
        "c1", filename="a.png", content_type="image/png", data=PNG, channel="rest"
    )
    other = await bridge.add("other")
    analyst = await bridge.add("ana", role="analyst")
    for who, status in ((other, 403), (analyst, 403), (SERVICE, 403), (None, 401)):
        await bridge.call("GET", kept["url"], who, expect=status)
    async with bridge.client.get(kept["url"], headers=(await bridge.admin()).headers) as response:
        assert (response.status, await response.read()) == (200, PNG)
    await bridge.call("GET", "/api/attachments/999", await bridge.admin(), expect=404)


async def test_the_live_ticket_else_the_newest_open_one_takes_the_file(bridge, client):
    follow_up = await bridge.open_ticket("c1")
    kept = await client.upload_attachment(
        "c1", filename="a.txt", content_type="text/plain", data=b"hello", channel="email"
    )
    assert kept["ticket_id"] == follow_up["id"]
    await bridge.set_status(follow_up["id"], "closed")
    with pytest.raises(AttachmentRefused) as refused:
        await client.upload_attachment(
            "c1", filename="a.txt", content_type="text/plain", data=b"hello", channel="email"
        )
    assert refused.value.code == "no_open_ticket"


@pytest.mark.parametrize(
    ("filename", "content_type", "data", "code"),
    [
        ("page.html", "text/html", b"<script>alert(1)</script>", "attachment_type_not_allowed"),
        ("x.png", "image/png", b"MZ\x90\x00\x03\x00", "attachment_type_not_allowed"),
        ("big.png", "image/png", PNG + bytes(64 * 1024), "attachment_too_large"),
        ("empty.txt", "text/plain", b"", "invalid_input"),
    ],
)
async def test_refused_files_leave_nothing_behind(
    bridge, client, tmp_path, filename, content_type, data, code
):
    ticket_id, agent = await live_ticket(bridge, "c1")
    with pytest.raises(AttachmentRefused) as refused:
        await client.upload_attachment(
            "c1", filename=filename, content_type=content_type, data=data, channel="rest"
        )
    assert refused.value.code == code
    context = await bridge.get(f"/api/tickets/{ticket_id}/context", agent)
    assert context["attachments"] == []
    assert not [path for path in (tmp_path / "files").rglob("*") if path.is_file()]


async def test_a_file_over_the_limit_is_refused_before_it_is_read(bridge):
    await live_ticket(bridge, "c1")
    headers = {**SERVICE, "Content-Type": "multipart/form-data; boundary=x"}
    status, body = await bridge.request(
        "POST",
        "/api/conversations/c1/attachments",
        headers=headers,
        data=bytes(200 * 1024),
    )
    assert (status, body["error"]["code"]) == (413, "attachment_too_large")


async def test_malformed_forms_get_a_clear_4xx(bridge):
    await live_ticket(bridge, "c1")
    path = "/api/conversations/c1/attachments"
    status, body = await bridge.request("POST", path, SERVICE, json={"file": "x"})
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")
    form = aiohttp.FormData()
    form.add_field("note", "hi", content_type="text/plain")  # multipart, not urlencoded
    status, body = await bridge.request("POST", path, SERVICE, data=form)
    assert status == 422, body
    form = aiohttp.FormData()
    form.add_field("channel", "rest", content_type="text/plain")
    status, body = await bridge.request("POST", path, SERVICE, data=form)
    assert (status, body["error"]["message"]) == (422, "The form has no part named file.")
    headers = {**SERVICE, "Content-Type": "multipart/form-data; boundary=zz"}
    status, body = await bridge.request("POST", path, headers=headers, data=b"--zz\r\ngarbage")
    assert status == 422, body
    assert (await bridge.get("/health", None))["status"] == "ok"


async def test_uploading_is_for_the_channels_token_only(bridge):
    _, agent = await live_ticket(bridge, "c1")
    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="a.png", content_type="image/png")
    status, _ = await bridge.request(
        "POST", "/api/conversations/c1/attachments", agent, data=form, headers={"Origin": ""}
    )
    assert status == 403


async def test_the_client_says_when_the_bridge_is_unavailable(unused_tcp_port):
    down = HandoffClient(url=f"http://127.0.0.1:{unused_tcp_port}", token=API_TOKEN)
    with pytest.raises(BridgeUnavailable):
        await down.upload_attachment(
            "c1", filename="a.png", content_type="image/png", data=PNG, channel="rest"
        )
    await down.close()
    with pytest.raises(BridgeUnavailable):
        await HandoffClient(url="http://127.0.0.1:1", token="").upload_attachment(
            "c1", filename="a.png", content_type="image/png", data=PNG, channel="rest"
        )


async def test_a_wrong_token_is_the_bridges_trouble_not_the_customers(bridge):
    wrong = HandoffClient(url=str(bridge.client.make_url("")), token="wrong")
    with pytest.raises(BridgeUnavailable):
        await wrong.upload_attachment(
            "c1", filename="a.png", content_type="image/png", data=PNG, channel="rest"
        )
    await wrong.close()


async def test_only_those_who_may_read_the_conversation_hear_of_a_file(bridge, client):
    _, owner = await live_ticket(bridge, "c1")
    mine = await bridge.console(owner)
    others = [
        await bridge.console(await bridge.add("other")),
        await bridge.console(await bridge.add("ana", role="analyst")),
    ]
    await client.upload_attachment(
        "c1", filename="a.png", content_type="image/png", data=PNG, channel="rest"
    )
    await mine.next("ticket.attachment_added")
    for console in others:
        await console.socket.send_json({"action": "ping"})
        seen = await console.until(lambda event, data: event == "pong")
        with contextlib.suppress(TimeoutError):  # and whatever follows shortly
            while True:
                seen.append(await console.receive(timeout=0.3))
        assert "ticket.attachment_added" not in [event for event, _ in seen]
    for console in (mine, *others):
        await console.close()
