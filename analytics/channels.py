"""The channels' readable names, from `channels.yml` at the project root
(the bridge reads the same file with its own loader: analytics imports no
bridge code)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from cloudpick_home import PROJECT

CHANNELS_FILE = PROJECT / "channels.yml"


@cache
def channel_labels(path: Path = CHANNELS_FILE) -> dict[str, dict[str, str]]:
    """Channel name -> language -> label. A missing file means raw names."""
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    return {
        str(name): {
            language: str(entry[language]) for language in ("zh", "en") if language in entry
        }
        for name, entry in entries.items()
    }


def channel_label(name: str, language: str) -> str:
    """The channel as the report's reader knows it; an unknown one as its name."""
    return channel_labels().get(name, {}).get(language, name)
