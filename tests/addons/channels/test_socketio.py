"""The web channel's own parts: session tokens, the host page's identity,
the payloads the widget gets, and the channel on a real Sanic server with
python-socketio's client (sessions, typing, attachments' refusals, the
widget's files). The greeting, history and attachments with Rasa and the
bridge are in tests/integration/test_web_channel.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import rasa.server
import requests

from addons.channels import socketio as web
from addons.channels.web_identity import customer_metadata, identity_signature
from addons.channels.web_messages import bot_payload, history
from addons.channels.web_session import SENDER_PREFIX, SessionTokens, WebSession
from handoff.rasa import rasa_api_jwt
from tests.addons.channels.polling import PollingSocketIOClient
from tests.addons.channels.test_channels import (  # noqa: F401 (an autouse fixture)
    LIMITS,
    EchoServer,
    _sanic_test_mode,
)
from tests.addons.channels.web_client import WebCustomer

SECRET = "session-secret-of-at-least-32-bytes!"
IDENTITY_SECRET = "site-shared-secret"
TYPING_SECRET = "rasa-jwt-secret-of-at-least-64-bytes-so-pyjwt-stays-quiet-about-it"


# --- Session tokens -----------------------------------------------------------


def test_a_session_token_opens_its_own_session_only():
    tokens = SessionTokens(SECRET)
    first, second = tokens.issue(), tokens.issue()
    assert tokens.open(first.token) == first
    assert first.sender_id != second.sender_id
    assert first.sender_id.startswith(SENDER_PREFIX)
    assert first.sender_id not in first.token, "agents see sender ids, not tokens"


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature
        lambda token: "x" + token,  # nonce
        lambda token: token.replace(".", ".1", 1),  # issue time
        lambda token: token.rpartition(".")[0],  # no signature
        lambda token: SessionTokens("another secret").issue().token,
        lambda token: "",
        lambda token: None,
        lambda token: ["list"],
        lambda token: token + "." * 300,
    ],
)
def test_a_forged_or_altered_token_opens_nothing(forge):
    tokens = SessionTokens(SECRET)
    assert tokens.open(forge(tokens.issue().token)) is None


def test_a_token_expires():
    now = [1_000_000.0]
    tokens = SessionTokens(SECRET, lifetime_seconds=60, clock=lambda: now[0])
    session = tokens.issue()
    now[0] += 59
    assert tokens.open(session.token) == session
    now[0] += 2
    assert tokens.open(session.token) is None


def test_without_a_secret_sessions_last_as_long_as_the_process(caplog):
    tokens = SessionTokens("")
    assert "will not survive a restart" in caplog.text
    assert tokens.open(tokens.issue().token) is not None
    assert SessionTokens("").open(tokens.issue().token) is None


# --- Identity from the host page ---------------------------------------------------


def signed_customer(user_id: str = "u-42", **fields: Any) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": "王小明",
        "phone": "13800138000",
        "email": "ming@example.com",
        "signature": identity_signature(IDENTITY_SECRET, user_id),
        **fields,
    }


def test_a_signed_identity_is_verified_and_carries_the_user_id():
    metadata = customer_metadata({"customer": signed_customer(), "page": "/faq"}, IDENTITY_SECRET)
    assert metadata == {
        "page": "/faq",
        "customer_name": "王小明",
        "contact": "13800138000",
        "customer_id": "u-42",
        "identity_verified": True,
    }


@pytest.mark.parametrize(
    ("customer", "secret"),
    [
        (signed_customer(signature="0" * 64), IDENTITY_SECRET),
        (signed_customer(signature=None), IDENTITY_SECRET),
        ({**signed_customer(), "id": "u-43"}, IDENTITY_SECRET),  # another user's id, same signature
        (signed_customer(), ""),  # the site shares no secret with us
    ],
)
def test_an_unsigned_identity_gives_name_and_contact_unverified(customer, secret):
    metadata = customer_metadata({"customer": customer}, secret)
    assert metadata["identity_verified"] is False
    assert "customer_id" not in metadata
    assert (metadata["customer_name"], metadata["contact"]) == ("王小明", "13800138000")


def test_a_client_cannot_set_what_only_the_server_writes():
    client = {
        "customer_id": "someone-else",
        "identity_verified": True,
        "attachment": {"url": "http://evil.example/x.exe"},
        "agent_id": 1,
        "handoff_state": "resolved",
        "customer": {"name": "Ann", "email": "ann@example.com"},
    }
    assert customer_metadata(client, IDENTITY_SECRET) == {
        "customer_name": "Ann",
        "contact": "ann@example.com",
        "identity_verified": False,
    }


# --- What the widget receives -------------------------------------------------------------


def test_an_agent_message_is_one_payload_marked_as_the_agents():
    message = {
        "text": "您好，我是小李",
        "timestamp": 1_790_000_000.0,
        "agent_id": 7,
        "agent_name": "小李",
        "agent_avatar": "https://example.com/li.png",
        "ticket_id": 12,
        "message_id": "m-1",
        "buttons": None,
    }
    assert bot_payload(message) == {
        "text": "您好，我是小李",
        "metadata": {
            "sender": "agent",
            "agent": {"id": 7, "name": "小李", "avatar": "https://example.com/li.png"},
            "message_id": "m-1",
            "at": "2026-09-21T14:13:20+00:00",
        },
    }


def test_bot_buttons_are_quick_replies_and_handoff_steps_a_field():
    queued = bot_payload(
        {
            "text": "您前面还有 2 位",
            "buttons": [{"title": "取消", "payload": "/stop"}],
            "custom": {"handoff": {"state": "queued", "position": 3, "ticket_id": 9}},
        }
    )
    # rasa-webchat shows a message only if its keys are exactly its own
    # (text, quick_replies): ours are under metadata, which it strips.
    assert set(queued) - {"metadata"} == {"text", "quick_replies"}
    assert queued["quick_replies"] == [
        {"content_type": "text", "title": "取消", "payload": "/stop"}
    ]
    assert queued["metadata"] == {
        "sender": "bot",
        "handoff": {"state": "queued", "position": 3, "ticket_id": 9},
    }
    notice = bot_payload({"text": "客服已接入", "handoff_state": "connected", "ticket_id": 9})
    assert notice["metadata"]["handoff"] == {"state": "connected", "ticket_id": 9}
    assert "handoff" not in bot_payload({"text": "x", "handoff_state": "made-up"})["metadata"]


def test_history_is_what_the_customer_saw():
    events = [
        {"event": "action", "name": "action_session_start", "timestamp": 1.0},
        {"event": "user", "text": "EXTERNAL: greet", "metadata": {"is_external": True}},
        {
            "event": "bot",
            "text": "您好",
            "timestamp": 2.0,
            "data": {"buttons": [{"title": "查询订单", "payload": "/order_status"}]},
            "metadata": {"utter_action": "utter_greet"},
        },
        {"event": "user", "text": "/order_status", "timestamp": 3.0, "metadata": {}},
        {"event": "user", "text": "", "timestamp": 3.5},
        {
            "event": "bot",
            "text": "我来看看",
            "timestamp": 4.0,
            "metadata": {"agent_id": 7, "agent_name": "小李", "agent_avatar": None},
        },
    ]
    assert history(events) == [
        {
            "sender": "bot",
            "text": "您好",
            "at": "1970-01-01T00:00:02+00:00",
            "buttons": [{"title": "查询订单", "payload": "/order_status"}],
            "image": None,
        },
        {"sender": "customer", "text": "查询订单", "at": "1970-01-01T00:00:03+00:00"},
        {
            "sender": "agent",
            "text": "我来看看",
            "at": "1970-01-01T00:00:04+00:00",
            "buttons": [],
            "image": None,
            "agent": {"name": "小李", "avatar": None},
        },
    ]


# --- The channel on a server ---------------------------------------------------------------


class GreetingRecorder(web.SocketIOInput):
    """The channel with its Rasa-side greeting recorded instead of run: Rasa's
    agent is not in this server (the integration test greets for real)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.started: list[tuple[str, dict[str, Any]]] = []

    async def start_conversation(
        self, sid: str, session: WebSession, metadata: dict[str, Any]
    ) -> None:
        self.started.append((session.sender_id, metadata))


@pytest.fixture
def channel() -> GreetingRecorder:
    return GreetingRecorder(
        session_persistence=True,
        limits=LIMITS,
        session_secret=SECRET,
        identity_secret=IDENTITY_SECRET,
        max_attachment_bytes=1024,
    )


@pytest.fixture
def server(channel: GreetingRecorder) -> Iterator[EchoServer]:
    # Rasa's own app, whose sanic-jwt checks the bridge's JWTs as Rasa's API does.
    app = rasa.server.create_app(jwt_secret=TYPING_SECRET, jwt_method="HS256")
    running = EchoServer(LIMITS, session_persistence=True, socketio=channel, app=app)
    yield running
    running.stop()


@pytest.fixture(params=[["websocket"], ["polling"]], ids=["websocket", "polling"])
def customer(request, server) -> Iterator[WebCustomer]:
    connected = WebCustomer(server.url, request.param)
    yield connected
    connected.close()


def test_a_new_session_is_signed_greeted_and_answered_in_its_room(customer, server, channel):
    confirmed = customer.session(None, customData={"language": "en"})
    assert confirmed["resumed"] is False
    session = channel.sessions.open(confirmed["session_id"])
    assert session is not None
    assert channel.started == [(session.sender_id, {"language": "en"})]
    customer.say("hi", session.token)
    assert customer.wait_for("bot_uttered") == {"text": "echo:hi"}
    assert customer.wait_for("typing") == {"who": "bot", "typing": True, "name": None}
    (message,) = server.received
    assert (message.sender_id, message.input_channel) == (session.sender_id, "socketio")


def test_a_resumed_session_is_not_greeted_again(customer, channel):
    session = channel.sessions.issue()
    assert customer.session(session.token) == {"session_id": session.token, "resumed": True}
    assert channel.started == []


def test_a_forged_token_gets_a_fresh_session_never_the_others_room(server, channel):
    owner = WebCustomer(server.url, ["websocket"])
    intruder = WebCustomer(server.url, ["polling"])
    try:
        token = owner.session()["session_id"]
        forged = token[:-4] + "AAAA"
        fresh = intruder.session(forged)
        assert fresh["resumed"] is False and fresh["session_id"] != token
        intruder.say("what did the agent say?", forged)
        assert intruder.wait_for(web.REJECTED_EVENT)["error"]["code"] == "invalid_session"
        owner.say("mine", token)
        assert owner.wait_for("bot_uttered") == {"text": "echo:mine"}
        time.sleep(0.5)
        assert ("bot_uttered", {"text": "echo:mine"}) not in intruder.events
        assert [m.text for m in server.received] == ["mine"]
    finally:
        owner.close()
        intruder.close()


def test_custom_data_and_identity_reach_rasa_as_metadata(customer, server):
    token = customer.session()["session_id"]
    identity = signed_customer()
    customer.say("hi", token, customData={"customer": identity, "identity_verified": True})
    customer.wait_for("bot_uttered")
    assert server.received[0].metadata == {
        "customer_name": "王小明",
        "contact": "13800138000",
        "customer_id": "u-42",
        "identity_verified": True,
    }


def test_the_init_payload_starts_the_conversation_instead_of_reaching_nlu(
    customer, server, channel
):
    token = customer.session()["session_id"]
    for payload in ["", "/get_started"]:
        customer.say(payload, token)
    customer.say("hi", token)
    customer.wait_for("bot_uttered")
    assert [m.text for m in server.received] == ["hi"]
    assert (
        len(channel.started) == 3
    )  # the new session, then each payload (greets once: Rasa's side)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"message": "x" * 101}, "message_too_long"),
        ({"message": "hi", "customData": "not json"}, "invalid_metadata"),
        ({"message": "hi", "metadata": {"k": "v" * 300}}, "metadata_too_large"),
        ({"message": 5}, "invalid_message"),
    ],
)
def test_bad_messages_are_refused_with_an_event(customer, server, data, code):
    token = customer.session()["session_id"]
    customer.client.emit("user_uttered", {**data, "session_id": token})
    assert customer.wait_for(web.REJECTED_EVENT)["error"]["code"] == code
    assert server.received == []


def test_a_flood_is_refused_and_the_session_goes_on(customer, server):
    token = customer.session()["session_id"]
    for _ in range(LIMITS.burst + 1):
        customer.say("hi", token)
    assert customer.wait_for(web.REJECTED_EVENT)["error"]["code"] == "rate_limited"
    assert len(server.received) == LIMITS.burst


# --- Typing, attachments and the widget's files over HTTP --------------------------------


def typing(server: EchoServer, body: Any, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{server.url}/webhooks/socketio/typing", json=body, headers=headers, timeout=10
    )


def test_the_bridge_shows_the_agent_typing_in_the_session(customer, server):
    session_id = customer.session()["session_id"]
    sender_id = web.SessionTokens(SECRET).open(session_id).sender_id
    token = rasa_api_jwt(TYPING_SECRET, expires_at=time.time() + 60)
    body = {"conversation_id": sender_id, "typing": True, "agent_name": "小李"}
    assert typing(server, body, token).status_code == 200
    assert customer.wait_for("typing") == {"who": "agent", "typing": True, "name": "小李"}


@pytest.mark.parametrize(
    "token",
    [
        None,
        "not-a-jwt",
        rasa_api_jwt("another secret", expires_at=time.time() + 60),
        rasa_api_jwt(TYPING_SECRET, expires_at=time.time() - 3600),  # beyond the leeway
        jwt.encode({"user": {"role": "guest"}}, TYPING_SECRET, algorithm="HS256"),  # not the bridge
        jwt.encode({"exp": time.time() + 60}, TYPING_SECRET, algorithm="HS512"),
        jwt.encode({"exp": time.time() + 60}, None, algorithm="none"),
    ],
    ids=["none", "garbage", "other-secret", "expired", "not-the-bridge", "hs512", "alg-none"],
)
def test_typing_needs_the_bridges_jwt(server, token):
    reply = typing(server, {"conversation_id": "c", "typing": True}, token)
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "not_authorized"


def test_typing_refuses_a_malformed_body(server):
    token = rasa_api_jwt(TYPING_SECRET, expires_at=time.time() + 60)
    assert typing(server, ["x"], token).status_code == 400
    assert typing(server, {"conversation_id": "a/b"}, token).status_code == 400


def upload(server: EchoServer, token: str | None, name: str, data: bytes, kind: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{server.url}/webhooks/socketio/attachments",
        files={"file": (name, data, kind)},
        headers=headers,
        timeout=10,
    )


@pytest.mark.parametrize(
    ("token", "name", "data", "kind", "status", "code"),
    [
        (None, "a.png", b"png", "image/png", 401, "invalid_session"),
        ("forged.1.x", "a.png", b"png", "image/png", 401, "invalid_session"),
        ("valid", "a.exe", b"MZ", "application/x-msdownload", 415, "attachment_type_not_allowed"),
        ("valid", "a.png", b"x" * 2048, "image/png", 413, "body_too_large"),
        ("valid", "a.png", b"x" * 100_000, "image/png", 413, "body_too_large"),
    ],
)
def test_attachments_are_refused_before_the_bridge(
    server, channel, token, name, data, kind, status, code
):
    if token == "valid":
        token = channel.sessions.issue().token
    reply = upload(server, token, name, data, kind)
    assert reply.status_code == status
    assert reply.json()["error"]["code"] == code
    assert server.received == []


@pytest.fixture
def widget_files(tmp_path, monkeypatch):
    (tmp_path / "vendor").mkdir()
    (tmp_path / "widget.js").write_text("export const x = 1;\n")
    (tmp_path / "widget.css").write_text(".w {}\n")
    (tmp_path / "demo.html").write_text("<!doctype html>\n")
    (tmp_path / "vendor" / "socket.io.esm.min.js").write_text("export {};\n")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    monkeypatch.setattr(web, "WIDGET_DIRECTORY", tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("widget.js", "text/javascript; charset=utf-8"),
        ("widget.css", "text/css; charset=utf-8"),
        ("demo.html", "text/html; charset=utf-8"),
        ("vendor/socket.io.esm.min.js", "text/javascript; charset=utf-8"),
    ],
)
def test_the_widget_files_are_served_with_their_type_and_cached(
    server, widget_files, path, content_type
):
    url = f"{server.url}/webhooks/socketio/widget/{path}"
    reply = requests.get(url, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == content_type
    assert reply.content == (widget_files / path).read_bytes()
    assert "max-age" in reply.headers["cache-control"]
    again = requests.get(url, headers={"If-None-Match": reply.headers["etag"]}, timeout=10)
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "%2e%2e/secret.txt",
        "..%2fsecret.txt",
        "vendor/../../secret.txt",
        "vendor",
        "nope.js",
    ],
)
def test_nothing_outside_the_widget_folder_is_served(server, widget_files, path):
    reply = requests.get(f"{server.url}/webhooks/socketio/widget/{path}", timeout=10)
    assert reply.status_code in (400, 404)
    assert b"not for the web" not in reply.content


def test_a_payload_of_more_packets_than_engineio_decodes_is_refused_not_dropped(server):
    """engine.io answered such a POST "ok" and dropped every message in it."""
    client = PollingSocketIOClient(server.url)
    refused = client.post("\x1e".join(["3"] * 17))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_packet"
    assert client.post("\x1e".join(["3"] * 16)).status_code == 200, "the session goes on"


def test_a_session_request_with_bad_custom_data_is_refused_before_any_session(customer, channel):
    customer.client.emit("session_request", {"customData": {"k": "v" * 300}})
    assert customer.wait_for(web.REJECTED_EVENT)["error"]["code"] == "metadata_too_large"
    assert "session_confirm" not in [name for name, _ in customer.events]
    assert channel.started == []


def test_a_socket_that_asks_for_another_session_leaves_the_first(customer, server, channel):
    first = channel.sessions.open(customer.session()["session_id"])
    second = channel.sessions.open(customer.session()["session_id"])
    assert first.sender_id != second.sender_id
    token = rasa_api_jwt(TYPING_SECRET, expires_at=time.time() + 60)
    for session, name in [(first, "to-the-first"), (second, "to-the-second")]:
        body = {"conversation_id": session.sender_id, "typing": True, "agent_name": name}
        assert typing(server, body, token).status_code == 200
    assert customer.wait_for("typing")["name"] == "to-the-second"
    time.sleep(0.3)
    assert [data for name, data in customer.events if name == "typing"] == []
