"""WeChat's XML: read into wechatpy's typed messages, with no DTD, no
entities and nothing but an <xml> document getting through."""

from __future__ import annotations

import pytest
from wechatpy.events import SubscribeEvent
from wechatpy.messages import ImageMessage, TextMessage, UnknownMessage

from addons.channels.errors import MalformedBody
from addons.channels.wechat import parser
from tests.fakes.wechat import WeChatServer

WECHAT = WeChatServer()

XXE = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&secret;</Content><MsgId>1</MsgId></xml>"""
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><MsgType>text</MsgType>'
    "<FromUserName>o1</FromUserName><Content>&c;</Content></xml>"
)


def test_a_text_message_is_typed_and_keyed_by_its_msg_id():
    fields = WECHAT.text("o-follower-1", "我的订单到哪了")
    message = parser.parse_message(WECHAT.xml(fields).encode())
    assert isinstance(message, TextMessage)
    assert (message.source, message.content) == ("o-follower-1", "我的订单到哪了")
    assert parser.customer_text(message) == "我的订单到哪了"
    assert parser.dedupe_key(message) == f"o-follower-1:msg:{fields['MsgId']}"


def test_events_are_keyed_by_sender_and_time():
    fields = WECHAT.message("o-follower-1", "event", Event="subscribe", EventKey="")
    message = parser.parse_message(WECHAT.xml(fields))
    assert isinstance(message, SubscribeEvent)
    assert parser.customer_text(message) is None
    assert parser.dedupe_key(message) == f"o-follower-1:event:{fields['CreateTime']}"


@pytest.mark.parametrize(
    ("msg_type", "fields", "expected"),
    [
        ("voice", {"MediaId": "m", "Format": "amr", "Recognition": "查一下订单"}, "查一下订单"),
        ("voice", {"MediaId": "m", "Format": "amr", "Recognition": ""}, None),
        ("voice", {"MediaId": "m", "Format": "amr"}, None),
        (
            "location",
            {"Location_X": "31.23", "Location_Y": "121.47", "Scale": "15", "Label": "上海市黄浦区"},
            "[位置] 上海市黄浦区 (31.23, 121.47)",
        ),
        (
            "link",
            {
                "Title": "订单截图说明",
                "Description": "物流停了三天",
                "Url": "https://example.com/a",
            },
            "[链接] 订单截图说明 https://example.com/a\n物流停了三天",
        ),
        ("image", {"PicUrl": "http://x/p.jpg", "MediaId": "m"}, None),
        ("video", {"MediaId": "m", "ThumbMediaId": "t"}, None),
    ],
)
def test_what_each_type_says_to_the_bot(msg_type: str, fields: dict, expected: str | None):
    message = parser.parse_message(WECHAT.xml(WECHAT.message("o1", msg_type, **fields)))
    assert parser.customer_text(message) == expected


def test_a_type_wechat_adds_later_is_an_unknown_message():
    message = parser.parse_message(WECHAT.xml(WECHAT.message("o1", "hologram", Beam="x")))
    assert isinstance(message, UnknownMessage)
    image = parser.parse_message(WECHAT.xml(WECHAT.message("o1", "image", PicUrl="http://x")))
    assert isinstance(image, ImageMessage)


@pytest.mark.parametrize(
    "body",
    [
        XXE,
        LAUGHS,
        b"<xml><MsgType>text</MsgType>",  # not well-formed
        b"not xml at all",
        b"",
        b"<message><MsgType>text</MsgType><FromUserName>o1</FromUserName></message>",
        b"<xml><FromUserName>o1</FromUserName></xml>",  # no MsgType
        b"<xml><MsgType>text</MsgType></xml>",  # no sender
        "<?xml version='1.0' encoding='GBK'?><xml><MsgType>text</MsgType>"
        "<FromUserName>o1</FromUserName><Content>\u4f60</Content></xml>".encode("gbk"),
    ],
)
def test_what_is_not_a_plain_wechat_document_is_malformed(body: bytes | str):
    with pytest.raises(MalformedBody):
        parser.parse_message(body)


def test_an_envelope_needs_its_encrypt():
    assert parser.encrypted_part(b"<xml><Encrypt>abc</Encrypt></xml>") == "abc"
    for body in (b"<xml><ToUserName>gh</ToUserName></xml>", XXE.encode()):
        with pytest.raises(MalformedBody):
            parser.encrypted_part(body)
