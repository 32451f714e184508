"""Channel names in reports come from channels.yml, the file the bridge reads too."""

from __future__ import annotations

import pytest

from analytics.channels import CHANNELS_FILE, channel_label, channel_labels


@pytest.mark.parametrize(
    ("name", "language", "shown"),
    [
        ("socketio", "zh", "网页"),
        ("socketio", "en", "Web"),
        ("wechat", "zh", "微信公众号"),
        ("email", "en", "E-mail"),
        ("form", "zh", "表单"),
        ("app", "en", "App"),
        ("carrier-pigeon", "zh", "carrier-pigeon"),
    ],
)
def test_a_channel_shows_by_its_label_and_an_unknown_one_by_its_name(name, language, shown):
    assert channel_label(name, language) == shown


def test_every_channel_in_the_file_has_both_languages():
    labels = channel_labels(CHANNELS_FILE)
    assert {"socketio", "rest", "wechat", "telegram", "email", "form", "app"} <= labels.keys()
    assert all(set(texts) == {"zh", "en"} for texts in labels.values())


def test_without_the_file_channels_keep_their_names(tmp_path):
    assert channel_labels(tmp_path / "missing.yml") == {}
