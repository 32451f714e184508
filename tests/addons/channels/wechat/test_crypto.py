"""Signatures and safe mode, against the official documentation's example
(消息加解密 sample: token QDG6eK, app id wx5823bf96d3bd56c7) and wechatpy."""

from __future__ import annotations

import time

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto

from addons.channels.errors import InvalidSignature, MalformedBody
from addons.channels.wechat import crypto
from tests.fakes.wechat import APP_ID, ENCODING_AES_KEY, TOKEN

# The official sample request (WXBizMsgCrypt sample code).
SAMPLE_MSG_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
SAMPLE_TIMESTAMP = "1409659813"
SAMPLE_NONCE = "1372623149"
SAMPLE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj"
    "911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue0"
    "6DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3"
    "IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH2"
    "7Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R"
    "07+qN+E7Q=="
)


@pytest.fixture
def safe_mode() -> crypto.SafeMode:
    return crypto.SafeMode(token=TOKEN, encoding_aes_key=ENCODING_AES_KEY, app_id=APP_ID)


def test_the_official_sample_is_opened(safe_mode: crypto.SafeMode):
    xml = safe_mode.open(
        SAMPLE_ENCRYPT,
        msg_signature=SAMPLE_MSG_SIGNATURE,
        timestamp=SAMPLE_TIMESTAMP,
        nonce=SAMPLE_NONCE,
    )
    message = xmltodict.parse(xml)["xml"]
    assert (message["Content"], message["MsgId"]) == ("hello", "4561255354251345929")
    assert crypto.signature(TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT) == (
        SAMPLE_MSG_SIGNATURE
    )


@pytest.mark.parametrize(
    "msg_signature", [None, "", SAMPLE_MSG_SIGNATURE[:-1] + "0", SAMPLE_MSG_SIGNATURE.upper()]
)
def test_a_wrong_msg_signature_is_refused_before_decrypting(
    safe_mode: crypto.SafeMode, msg_signature: str | None
):
    with pytest.raises(InvalidSignature):
        safe_mode.open(
            SAMPLE_ENCRYPT, msg_signature=msg_signature, timestamp=SAMPLE_TIMESTAMP, nonce="1"
        )


def test_a_message_sealed_for_another_account_is_refused():
    other = crypto.SafeMode(
        token=TOKEN, encoding_aes_key=ENCODING_AES_KEY, app_id="wx0000000000000000"
    )
    with pytest.raises(InvalidSignature):
        other.open(
            SAMPLE_ENCRYPT,
            msg_signature=SAMPLE_MSG_SIGNATURE,
            timestamp=SAMPLE_TIMESTAMP,
            nonce=SAMPLE_NONCE,
        )


def test_a_signed_envelope_that_is_not_ciphertext_is_malformed(safe_mode: crypto.SafeMode):
    garbage = "bm90IGNpcGhlcnRleHQ="
    with pytest.raises(MalformedBody):
        safe_mode.open(
            garbage,
            msg_signature=crypto.signature(TOKEN, "1", "2", garbage),
            timestamp="1",
            nonce="2",
        )


def test_a_sealed_reply_opens_with_wechatpy(safe_mode: crypto.SafeMode):
    reply = "<xml><Content><![CDATA[您好 ]]]]><![CDATA[> hi]]></Content></xml>"
    sealed = safe_mode.seal(reply, timestamp="1409659813")
    envelope = xmltodict.parse(sealed)["xml"]
    opened = WeChatCrypto(TOKEN, ENCODING_AES_KEY, APP_ID).decrypt_message(
        sealed, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
    )
    assert opened == reply
    assert xmltodict.parse(opened)["xml"]["Content"] == "您好 ]]> hi"


def test_the_plain_signature_is_wechats():
    given = crypto.signature(TOKEN, "1409659813", "1372623149")
    crypto.check_signature(TOKEN, given, "1409659813", "1372623149")
    for wrong in (None, "", given[:-1], given + "0", "x" * 40):
        with pytest.raises(InvalidSignature):
            crypto.check_signature(TOKEN, wrong, "1409659813", "1372623149")


def test_timestamps_outside_the_window_are_refused():
    now = time.time()
    assert crypto.check_timestamp(str(int(now) - 299), 300, now=now) == int(now) - 299
    for stale in (str(int(now) - 301), str(int(now) + 301), "", None, "soon"):
        with pytest.raises(InvalidSignature):
            crypto.check_timestamp(stale, 300, now=now)


@pytest.mark.parametrize("key", ["", "short", ENCODING_AES_KEY[:-1] + "!", ENCODING_AES_KEY + "AA"])
def test_an_encoding_aes_key_of_the_wrong_shape_stops_the_start(key: str):
    with pytest.raises(ValueError, match="EncodingAESKey"):
        crypto.check_aes_key(key)
