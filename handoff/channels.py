"""The channels customers reach us on, as `channels.yml` at the project root
names them: the readable label of each Rasa input channel, whether the
user ids it reports are the platform's own, and whether it reaches
customers who are not in a live chat (see that file). Analytics reads
the same file with its own loader."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from cloudpick_home import PROJECT

CHANNELS_FILE = PROJECT / "channels.yml"
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Channel:
    name: str
    labels: dict[str, str]
    # A `customer_id` from this channel is the platform's user id (an
    # openid), not our site's.
    platform_ids: bool = False
    # The customer gets a message whenever it is sent (mail), so agents
    # may write on a ticket the customer is not live on.
    delivers_offline: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "labels": self.labels, "delivers_offline": self.delivers_offline}


@cache
def load_channels(path: Path = CHANNELS_FILE) -> dict[str, Channel]:
    """Read once per process: the file changes with a deployment."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(name): Channel(
            name=str(name),
            labels={language: str(entry[language]) for language in LANGUAGES},
            platform_ids=bool(entry.get("platform_ids", False)),
            delivers_offline=bool(entry.get("delivers_offline", False)),
        )
        for name, entry in entries.items()
    }


def channel(name: str) -> Channel:
    """An unknown channel is shown by its name, has no platform ids and
    reaches only live customers."""
    known = load_channels().get(name)
    return known or Channel(name=name, labels=dict.fromkeys(LANGUAGES, name))
