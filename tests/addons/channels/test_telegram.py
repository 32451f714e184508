"""The Telegram channel on a real Sanic server, speaking to the loopback
Bot API (tests/fakes/telegram.py), with a stand-in for Rasa's agent that
answers with buttons: what it passes on, what it refuses and how, and what
reaches the customer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.channels import handoff_client
from addons.channels.errors import DeliveryFailed
from addons.channels.telegram.connector import SECRET_HEADER, TelegramInput, offered_payloads
from addons.channels.telegram.notices import TEXTS, Notice
from addons.channels.telegram.replies import CHOSEN, ButtonPayloads, short_id
from addons.channels.telegram.updates import Kind, read_update
from tests.addons.channels.serving import ChannelServer
from tests.fakes.telegram import FakeTelegram

LIMITS = {"max_body_bytes": 8192, "burst": 3}
LONG_PAYLOAD = '/order_status{"order_id": "241108302211", "note": "' + "x" * 60 + '"}'
BUTTONS = [
    {"title": "查询订单", "payload": "/order_status"},
    {"title": "长的", "payload": LONG_PAYLOAD},
]


async def answer_with_buttons(message: UserMessage) -> None:
    await message.output_channel.send_response(
        message.sender_id, {"text": f"echo:{message.text}", "buttons": BUTTONS}
    )


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def channel_for(telegram: FakeTelegram) -> AsyncIterator[Callable[..., TelegramInput]]:
    """Makes channels speaking to the fake; their sessions are closed after the test."""
    made: list[TelegramInput] = []

    def make(**overrides: Any) -> TelegramInput:
        credentials = {
            "access_token": telegram.token,
            "verify": telegram.BOT_USERNAME,
            "webhook_secret": telegram.webhook_secret,
            "api_url": telegram.url,
            "limits": LIMITS,
            **overrides,
        }
        channel = TelegramInput.from_credentials(credentials)
        assert isinstance(channel, TelegramInput)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.api.close()


@pytest.fixture
async def server(channel_for: Callable[..., TelegramInput]) -> AsyncIterator[ChannelServer]:
    async with ChannelServer(channel_for(), answer_with_buttons) as running:
        yield running


async def post(
    server: ChannelServer, body: Any, secret: str | None, **kwargs: Any
) -> tuple[int, Any]:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}/webhook", data=data, headers=headers, **kwargs) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_a_message_reaches_rasa_with_the_verified_telegram_identity(server, telegram):
    user = telegram.user(501, "Lei", "Li")
    status, _ = await post(
        server, telegram.message_update(user, "我的订单到哪了"), telegram.webhook_secret
    )
    assert status == 200
    [message] = server.received
    assert (message.text, message.sender_id, message.input_channel) == (
        "我的订单到哪了",
        "telegram:501",
        "telegram",
    )
    assert message.metadata == {
        "customer_id": "501",
        "customer_name": "Lei Li",
        "identity_verified": True,
    }
    [sent] = telegram.sent(501)
    assert sent["text"] == "echo:我的订单到哪了"
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["查询订单", "长的"]
    assert keyboard[0][0]["callback_data"] == "/order_status"
    # A payload over Telegram's 64 bytes travels as a short id.
    assert len(keyboard[1][0]["callback_data"].encode()) <= 64


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"])
async def test_an_update_without_the_webhook_secret_is_refused_unread(server, telegram, secret):
    update = telegram.message_update(telegram.user(502), "hi")
    status, body = await post(server, update, secret)
    assert (status, body["error"]["code"]) == (403, "invalid_signature")
    assert server.received == [] and telegram.calls == []


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1, 2]",
        b'{"message": {"text": "no update id"}}',
        b'{"update_id": 1, "message": {"text": "no chat"}}',
    ],
)
async def test_a_malformed_update_gets_400(server, telegram, raw):
    status, body = await post(server, raw, telegram.webhook_secret)
    assert (status, body["error"]["code"]) == (400, "malformed_body")
    assert server.received == []


async def test_an_oversized_update_gets_413_before_it_is_read(server, telegram):
    update = telegram.message_update(telegram.user(503), "x" * 9000)
    status, body = await post(server, update, telegram.webhook_secret)
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert server.received == []


async def test_a_repeated_update_is_handled_once(server, telegram):
    update = telegram.message_update(telegram.user(504), "你好")
    assert (await post(server, update, telegram.webhook_secret))[0] == 200
    status, body = await post(server, update, telegram.webhook_secret)
    assert (status, body) == (200, {"status": "duplicate"})
    assert len(server.received) == 1 and len(telegram.sent(504)) == 1


async def test_a_flood_from_one_customer_is_dropped_with_one_notice_and_others_are_served(
    server, telegram
):
    flooder, other = telegram.user(505), telegram.user(506)
    for index in range(8):
        update = telegram.message_update(flooder, f"spam {index}")
        assert (await post(server, update, telegram.webhook_secret))[0] == 200
    assert [m.text for m in server.received] == ["spam 0", "spam 1", "spam 2"]
    notices = [m for m in telegram.sent(505) if m["text"] == TEXTS[Notice.SLOW_DOWN]["zh"]]
    assert len(notices) == 1
    await post(server, telegram.message_update(other, "在吗"), telegram.webhook_secret)
    assert server.received[-1].text == "在吗"


async def test_a_pressed_button_is_answered_marked_and_sends_its_payload(server, telegram):
    user = telegram.user(507)
    await post(server, telegram.message_update(user, "hi"), telegram.webhook_secret)
    [offer] = telegram.sent(507)
    press = telegram.press_update(user, offer, "长的")
    assert (await post(server, press, telegram.webhook_secret))[0] == 200
    assert server.received[-1].text == LONG_PAYLOAD
    assert server.received[-1].metadata["customer_id"] == "507"
    assert [c["callback_query_id"] for c in telegram.called("answerCallbackQuery")] == [
        press["callback_query"]["id"]
    ]
    [edit] = telegram.called("editMessageReplyMarkup")
    assert edit["message_id"] == offer["message_id"]
    assert edit["reply_markup"]["inline_keyboard"] == [
        [{"text": "✓ 长的", "callback_data": CHOSEN}]
    ]

    # The marked button only stops the spinner.
    chosen = {**offer, "reply_markup": edit["reply_markup"]}
    await post(server, telegram.press_update(user, chosen, "✓ 长的"), telegram.webhook_secret)
    assert len(server.received) == 2 and len(telegram.called("answerCallbackQuery")) == 2


async def test_a_button_whose_long_payload_was_forgotten_asks_to_type(telegram, channel_for):
    user = telegram.user(508, language_code="en")
    async with ChannelServer(channel_for(), answer_with_buttons) as first:
        await post(first, telegram.message_update(user, "hi"), telegram.webhook_secret)
    [offer] = telegram.sent(508)
    # A restarted Rasa remembers no short ids; short payloads still work.
    async with ChannelServer(channel_for()) as restarted:
        await post(restarted, telegram.press_update(user, offer, "长的"), telegram.webhook_secret)
        await post(
            restarted, telegram.press_update(user, offer, "查询订单"), telegram.webhook_secret
        )
        assert [m.text for m in restarted.received] == ["/order_status"]
    assert telegram.sent(508)[1]["text"] == TEXTS[Notice.BUTTON_EXPIRED]["en"]


async def test_a_long_payload_another_rasa_process_sent_is_found_among_those_offered():
    """With several Rasa processes the press may reach one that did not make
    the short id: the conversation's tracker, which all share, has it."""
    store = InMemoryTrackerStore(Domain.empty())
    offer = BotUttered("选一个", {"buttons": [{"title": "长的", "payload": LONG_PAYLOAD}]})
    await store.save(DialogueStateTracker.from_events("telegram-510", [offer]))
    rasa = SimpleNamespace(tracker_store=store)  # what the channel reads of Rasa's agent
    offered = await offered_payloads(rasa, "telegram-510")
    assert ButtonPayloads().payload(short_id(LONG_PAYLOAD), offered) == LONG_PAYLOAD
    assert ButtonPayloads().payload(short_id("/something_else"), offered) is None
    assert await offered_payloads(rasa, "telegram-nobody") == []


@pytest.mark.parametrize(
    ("language_code", "language"), [("en", "en"), ("zh-hans", "zh"), ("ru", "en")]
)
async def test_voice_gets_a_polite_request_to_type_in_the_customers_language(
    server, telegram, language_code, language
):
    user = telegram.user(509, language_code=language_code)
    update = telegram.message_update(user, voice={"file_id": "v1", "duration": 3})
    assert (await post(server, update, telegram.webhook_secret))[0] == 200
    assert server.received == []
    assert [m["text"] for m in telegram.sent(509)] == [TEXTS[Notice.TYPE_INSTEAD][language]]


async def test_an_edited_message_is_read_as_the_customers_new_words(server, telegram):
    update = telegram.message_update(telegram.user(510), "我要退货", edited=True)
    await post(server, update, telegram.webhook_secret)
    [message] = server.received
    assert message.text == "我要退货" and message.metadata["edited"] is True


async def test_group_chats_and_other_updates_are_acknowledged_unprocessed(server, telegram):
    group = telegram.message_update(telegram.user(511), "hi")
    group["message"]["chat"] = {"id": -100, "type": "group"}
    for update in (group, {"update_id": 77, "my_chat_member": {}}):
        assert await post(server, update, telegram.webhook_secret) == (200, {"status": "ignored"})
    assert server.received == [] and telegram.calls == []


async def test_a_photo_goes_to_the_ticket_and_the_conversation_says_so(
    server, telegram, monkeypatch
):
    uploads: list[dict[str, Any]] = []

    async def upload(conversation_id: str, **kwargs: Any) -> dict[str, Any]:
        uploads.append({"conversation_id": conversation_id, **kwargs})
        return {
            "id": 9,
            "name": kwargs["filename"],
            "content_type": "image/jpeg",
            "size": 4,
            "url": "/a/9",
        }

    monkeypatch.setattr(handoff_client, "upload_attachment", upload)
    file_id = await telegram.add_file(b"\xff\xd8jpg", "photos/file_1.jpg")
    photo = [{"file_id": "small", "file_size": 1}, {"file_id": file_id, "file_size": 4}]
    update = telegram.message_update(telegram.user(512), photo=photo, caption="坏了")
    await post(server, update, telegram.webhook_secret)
    [upload_call] = uploads
    assert upload_call["conversation_id"] == "telegram:512"
    assert (upload_call["data"], upload_call["content_type"], upload_call["channel"]) == (
        b"\xff\xd8jpg", "image/jpeg", "telegram",
    )  # fmt: skip
    [message] = server.received
    assert message.text == "[图片]\n坏了"
    assert message.metadata["attachment"]["id"] == 9


async def test_a_photo_outside_a_handoff_gets_a_polite_notice(server, telegram, monkeypatch):
    async def upload(conversation_id: str, **kwargs: Any) -> dict[str, Any]:
        raise handoff_client.AttachmentRefused("No open ticket.", "no_open_ticket")

    monkeypatch.setattr(handoff_client, "upload_attachment", upload)
    file_id = await telegram.add_file(b"jpg", "photos/file_2.jpg")
    update = telegram.message_update(telegram.user(513), photo=[{"file_id": file_id}])
    await post(server, update, telegram.webhook_secret)
    assert server.received == []
    assert [m["text"] for m in telegram.sent(513)] == [TEXTS[Notice.FILES_FOR_AGENTS]["zh"]]


async def test_an_unconfigured_channel_answers_503(telegram, channel_for):
    async with ChannelServer(channel_for(access_token="")) as off:
        update = telegram.message_update(telegram.user(514), "hi")
        status, body = await post(off, update, telegram.webhook_secret)
    assert (status, body["error"]["code"]) == (503, "channel_not_configured")


async def test_the_output_channel_sends_an_agents_message_with_their_name(telegram, channel_for):
    output = channel_for().get_output_channel()
    await output.send_response(
        "telegram:515",
        {"text": "您好 <b>", "agent_id": 3, "agent_name": "王<芳>", "agent_avatar": None},
    )
    [sent] = telegram.sent(515)
    assert sent["text"] == "<b>王&lt;芳&gt;:\n</b>您好 &lt;b&gt;"
    assert sent["parse_mode"] == "HTML"


async def test_a_long_message_is_split_to_telegrams_length(telegram, channel_for):
    output = channel_for().get_output_channel()
    await output.send_response("telegram:516", {"text": "字" * 5000, "buttons": BUTTONS[:1]})
    parts = telegram.sent(516)
    assert [len(part["text"]) for part in parts] == [4096, 904]
    assert "reply_markup" not in parts[0] and "reply_markup" in parts[1]


async def test_an_agents_message_to_a_customer_who_blocked_the_bot_fails_in_plain_words(
    telegram, channel_for
):
    output = channel_for().get_output_channel()
    await telegram.fail("sendMessage", chat_id=517)
    with pytest.raises(DeliveryFailed, match="blocked the bot") as failure:
        await output.send_response(
            "telegram:517", {"text": "在吗", "agent_id": 1, "agent_name": "A"}
        )
    assert failure.value.code == 403
    # The bot's own message is only logged: the customer's turn goes on.
    await output.send_response("telegram:517", {"text": "bot"})
    assert len(telegram.sent(517)) == 2


@pytest.mark.parametrize(
    ("text", "edited", "kind"),
    [
        ("/start", False, Kind.START),
        ("/start deep-link-payload", False, Kind.START),
        (f"/start@{FakeTelegram.BOT_USERNAME}", False, Kind.START),
        ("/start@another_bot", False, Kind.TEXT),
        ("/start", True, Kind.TEXT),
        ("/request_human", False, Kind.TEXT),
    ],
)
def test_only_start_addressed_to_this_bot_starts_a_session(text, edited, kind):
    fake = FakeTelegram()
    update = read_update(
        fake.message_update(fake.user(1), text, edited=edited), FakeTelegram.BOT_USERNAME
    )
    assert update is not None and update.kind == kind


async def test_a_document_goes_to_the_ticket_under_its_name(server, telegram, monkeypatch):
    uploads: list[dict[str, Any]] = []

    async def upload(conversation_id: str, **kwargs: Any) -> dict[str, Any]:
        uploads.append(kwargs)
        return {"id": 10, "name": kwargs["filename"], "size": 3, "url": "/a/10"}

    monkeypatch.setattr(handoff_client, "upload_attachment", upload)
    file_id = await telegram.add_file(b"%PDF", "documents/file_3.pdf")
    document = {"file_id": file_id, "file_name": "发票.pdf", "mime_type": "application/pdf"}
    user = telegram.user(518, language_code="en")
    await post(server, telegram.message_update(user, document=document), telegram.webhook_secret)
    assert [(u["filename"], u["content_type"], u["data"]) for u in uploads] == [
        ("发票.pdf", "application/pdf", b"%PDF")
    ]
    assert server.received[0].text == "[File] 发票.pdf"


async def test_a_file_the_bridge_cannot_take_is_explained_to_the_customer(
    server, telegram, monkeypatch
):
    async def upload(conversation_id: str, **kwargs: Any) -> dict[str, Any]:
        raise handoff_client.BridgeUnavailable("down")

    monkeypatch.setattr(handoff_client, "upload_attachment", upload)
    file_id = await telegram.add_file(b"jpg", "photos/file_4.jpg")
    await post(
        server,
        telegram.message_update(telegram.user(519), photo=[{"file_id": file_id}]),
        telegram.webhook_secret,
    )
    assert server.received == []
    assert [m["text"] for m in telegram.sent(519)] == [TEXTS[Notice.FILE_NOT_DELIVERED]["zh"]]
