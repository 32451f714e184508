"""WeChat's signatures and safe mode (AES with the EncodingAESKey).

wechatpy's `WeChatSigner` builds the signatures and its `PrpCrypto` and
`WeChatCrypto` do the AES; its own checks (`check_signature`,
`WeChatCrypto.decrypt_message`) compare signatures with `!=`, which leaks
through timing how much of a forged signature was right, so the checks
here compare with `hmac.compare_digest` and call wechatpy only for the
parts that are not comparisons.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import struct
import time

from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.utils import WeChatSigner

from addons.channels.errors import InvalidSignature, MalformedBody

# Bytes of an EncodingAESKey once decoded: 43 base64 characters plus "=".
AES_KEY_BYTES = 32


def signature(token: str, *parts: str) -> str:
    """WeChat's SHA-1 over the token and the parts, sorted (its documented order)."""
    signer = WeChatSigner()
    signer.add_data(token, *parts)
    return signer.signature


def check_signature(token: str, given: str | None, *parts: str) -> None:
    """Raises `InvalidSignature` unless `given` is WeChat's signature of the parts."""
    expected = signature(token, *parts)
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise InvalidSignature()


def check_timestamp(
    timestamp: str | None, max_skew_seconds: float, now: float | None = None
) -> int:
    """The request's timestamp, refused when missing or outside the replay
    window: a captured request, signature and all, cannot be sent again
    later."""
    try:
        value = int(timestamp or "")
    except ValueError:
        raise InvalidSignature("The request's timestamp is missing or not a number.") from None
    if abs((time.time() if now is None else now) - value) > max_skew_seconds:
        raise InvalidSignature("The request's timestamp is outside the accepted window.")
    return value


def check_aes_key(encoding_aes_key: str) -> bytes:
    """The AES key of an EncodingAESKey, or a `ValueError` naming what is wrong."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        key = b""
    if len(key) != AES_KEY_BYTES:
        raise ValueError("The WeChat EncodingAESKey must be the 43 characters the platform shows.")
    return key


class SafeMode:
    """Opens and seals safe-mode messages of one Official Account."""

    def __init__(self, *, token: str, encoding_aes_key: str, app_id: str) -> None:
        self.token = token
        self.app_id = app_id
        self._key = check_aes_key(encoding_aes_key)
        self._sealer = WeChatCrypto(token, encoding_aes_key, app_id)

    def open(self, encrypted: str, *, msg_signature: str | None, timestamp: str, nonce: str) -> str:
        """The XML inside an `<Encrypt>`, once its msg_signature is checked."""
        check_signature(self.token, msg_signature, timestamp, nonce, encrypted)
        try:
            return PrpCrypto(self._key).decrypt(encrypted, self.app_id)
        except InvalidAppIdException:
            # Signed with our token but sealed for another account.
            raise InvalidSignature("The message was encrypted for another app id.") from None
        except (ValueError, TypeError, IndexError, struct.error):
            raise MalformedBody("The encrypted message could not be decrypted.") from None

    def seal(self, xml: str, timestamp: str | None = None) -> str:
        """A passive reply's XML as the encrypted envelope WeChat expects."""
        return self._sealer.encrypt_message(xml, secrets.token_hex(8), timestamp)
