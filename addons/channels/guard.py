"""The one set of rules every inbound channel message goes through.

A channel hands the guard what the customer sent (sender id, text,
metadata) before Rasa sees any of it. The guard refuses what would harm the
service or other customers (an id the tracker store cannot hold, a message
or metadata too large to process cheaply, a flood from one sender) with a
`ChannelError`, and repairs what is merely broken: lone UTF-16 surrogates,
which JSON allows but no database or UTF-8 encoder accepts, become U+FFFD
so the customer's words are kept and still answered.

The defaults live in `ChannelLimits`; credentials.yml can override each one
per channel under `limits:`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from addons.analysis import MAX_ANALYSED_CHARS
from addons.channels.errors import (
    InvalidMessage,
    InvalidMetadata,
    InvalidSenderId,
    MessageTooLong,
    MetadataTooLarge,
    RateLimited,
)

# Ids are used in URLs (Rasa's HTTP API, the bridge), log lines and database
# keys: letters, digits and a few separators are enough for UUIDs, WeChat
# openids, e-mail-like and namespaced ids, and need no escaping anywhere.
SENDER_ID_CHARACTERS = "A-Za-z0-9_.:@+="
_SENDER_ID = re.compile(rf"[{SENDER_ID_CHARACTERS}-]+")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"
# Deeper metadata serves no client and only costs recursion.
MAX_METADATA_DEPTH = 16
# How much longer JSON text can be than the compact UTF-8 it stands for.
JSON_ESCAPE_EXPANSION = 6
# Bounds the rate limiter's memory; the least recently seen sender is
# forgotten first, and a forgotten sender simply starts with a full bucket.
MAX_TRACKED_SENDERS = 100_000


@dataclass(frozen=True)
class ChannelLimits:
    """What one channel accepts. The one home of the defaults."""

    # Whole request body (REST) or engine.io packet (socket.io), in bytes.
    # Room for a maximal message with every character JSON-escaped, plus
    # metadata.
    max_body_bytes: int = 256 * 1024
    # Characters (code points) of one message; longer ones are refused, not
    # cut, so nothing the customer wrote is lost without them knowing. NLU
    # analyses only the first 2,000 (see addons/nlu); the rest is kept.
    max_message_chars: int = 10_000
    # The metadata as compact UTF-8 JSON, in bytes; it is stored with every
    # message in the tracker.
    max_metadata_bytes: int = 8 * 1024
    max_sender_id_chars: int = 128
    # Token bucket per sender: a sustained rate and the burst allowed on top.
    messages_per_minute: float = 60.0
    burst: int = 20
    # A message costs one token, plus one for every this many characters NLU
    # will analyse: analysis costs Rasa's event loop about 0.16 ms a
    # character, so a sender of long messages gets fewer of them (a
    # 2,000-character one takes all of the burst but one token: about three
    # a minute) rather than stalling everyone.
    chars_per_token: int = 100

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Self:
        """Limits from a channel's `limits:` mapping in credentials.yml.

        Unknown keys and non-positive values stop the start-up with a clear
        message rather than leaving a limit silently at its default.
        """
        config = dict(config or {})
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(config) - set(fields))
        if unknown:
            raise ValueError(
                f"Unknown channel limit(s) {', '.join(unknown)}; known: {', '.join(fields)}."
            )
        values: dict[str, Any] = {}
        for name, raw in config.items():
            kind = float if fields[name].type == "float" else int
            try:
                value = kind(raw)  # ${ENV} values in credentials.yml arrive as strings
            except (TypeError, ValueError):
                raise ValueError(f"Channel limit {name} must be a number, not {raw!r}.") from None
            if value <= 0:
                raise ValueError(f"Channel limit {name} must be positive, not {raw!r}.")
            values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class InboundMessage:
    """What the guard let through, repaired; channels pass on only this."""

    sender_id: str | None
    text: str | None
    metadata: dict[str, Any] | None


class SenderRateLimiter:
    """A token bucket per sender, so one sender flooding cannot take the
    event loop from everyone else."""

    def __init__(
        self,
        *,
        messages_per_minute: float,
        burst: int,
        max_senders: int = MAX_TRACKED_SENDERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = messages_per_minute / 60.0
        self._burst = float(burst)
        self._max_senders = max_senders
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, sender_id: str, cost: float = 1.0) -> float:
        """Takes `cost` tokens; returns 0 if the message may pass, otherwise
        the seconds until it would. A message takes at most all but one token
        of the burst, so a customer's long message never holds up their next
        short one."""
        cost = min(cost, max(self._burst - 1, 1))
        now = self._clock()
        tokens, updated = self._buckets.pop(sender_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - updated) * self._rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self._rate
        self._buckets[sender_id] = (tokens, now)
        if len(self._buckets) > self._max_senders:
            self._buckets.popitem(last=False)
        return wait


class InboundGuard:
    """Checks and repairs one inbound message against a channel's limits."""

    def __init__(
        self, limits: ChannelLimits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or ChannelLimits()
        self._rate = SenderRateLimiter(
            messages_per_minute=self.limits.messages_per_minute,
            burst=self.limits.burst,
            clock=clock,
        )

    def admit(self, sender_id: Any, text: Any, metadata: Any) -> InboundMessage:
        """The message as Rasa may see it, or a `ChannelError` saying why not.

        A missing sender id or text stays missing (Rasa then uses its
        defaults, as it always has). The rate is counted per sender, by what
        the text will cost to analyse, before the metadata is parsed, so a
        flood is refused at the lowest cost.
        """
        if sender_id is not None:
            self.check_id(sender_id, "sender")
        text = self._text(text)
        # Messages without a sender all land in Rasa's default conversation,
        # so they share one bucket.
        wait = self._rate.acquire(sender_id or "", self.cost(text))
        if wait:
            raise RateLimited(wait)
        return InboundMessage(sender_id, text, self.metadata(metadata))

    def cost(self, text: str | None) -> float:
        """Tokens a message takes from its sender's bucket."""
        analysed = min(len(text or ""), MAX_ANALYSED_CHARS)
        return 1 + analysed // self.limits.chars_per_token

    def check_id(self, value: Any, field: str) -> str:
        """Refuses an id the tracker store, URLs or logs could choke on."""
        limit = self.limits.max_sender_id_chars
        if not isinstance(value, str) or len(value) > limit or not _SENDER_ID.fullmatch(value):
            raise InvalidSenderId(
                f"The {field} must be 1 to {limit} characters from "
                f"{SENDER_ID_CHARACTERS} and '-'.",
                field=field,
            )
        return value

    def metadata(self, metadata: Any) -> dict[str, Any] | None:
        """The metadata, bounded in size and depth, with valid Unicode."""
        if metadata is None:
            return None
        if isinstance(metadata, str):  # socket.io clients may send it as JSON text
            metadata = self._parse_metadata(metadata)
        if not isinstance(metadata, dict):
            raise InvalidMetadata()
        repaired = _repair(metadata, depth=0)
        size = len(json.dumps(repaired, ensure_ascii=False, separators=(",", ":")).encode())
        if size > self.limits.max_metadata_bytes:
            raise MetadataTooLarge(
                f"The metadata is {size} bytes; at most "
                f"{self.limits.max_metadata_bytes} are accepted.",
                limit_bytes=self.limits.max_metadata_bytes,
            )
        return repaired

    def _parse_metadata(self, text: str) -> Any:
        # Bounds the parsing work before it starts; the size that counts is
        # checked on the parsed object. A byte of compact UTF-8 JSON is at
        # most six characters of escaped JSON text (a control character,
        # "\u0001"), so no object within the limit is refused here.
        if len(text) > JSON_ESCAPE_EXPANSION * self.limits.max_metadata_bytes:
            raise MetadataTooLarge(limit_bytes=self.limits.max_metadata_bytes)
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise InvalidMetadata("The metadata is not valid JSON.") from None

    def _text(self, text: Any) -> str | None:
        if text is None:
            return None
        if not isinstance(text, str):
            raise InvalidMessage()
        limit = self.limits.max_message_chars
        if len(text) > limit:
            raise MessageTooLong(
                f"The message has {len(text)} characters; at most {limit} are "
                "accepted. Please split it into shorter messages.",
                limit_chars=limit,
            )
        return replace_lone_surrogates(text)


def replace_lone_surrogates(text: str) -> str:
    """Lone surrogates (JSON's "\\ud800") cannot be encoded as UTF-8."""
    return _LONE_SURROGATE.sub(REPLACEMENT_CHARACTER, text)


def _repair(value: Any, depth: int) -> Any:
    if depth > MAX_METADATA_DEPTH:
        raise InvalidMetadata(f"The metadata is nested deeper than {MAX_METADATA_DEPTH} levels.")
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    if isinstance(value, dict):
        return {
            replace_lone_surrogates(str(key)): _repair(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_repair(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        # json.loads reads NaN and Infinity, which strict JSON (and the
        # bridge) refuses; they carry nothing a client needs.
        raise InvalidMetadata("The metadata holds a number that is not finite.")
    return value
