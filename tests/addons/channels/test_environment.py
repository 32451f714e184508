"""Channel secrets come from the environment unless credentials.yml sets them."""

from __future__ import annotations

from addons.channels.environment import with_environment

VARIABLES = {"access_token": "BOT_TOKEN", "api_url": "BOT_API"}


def test_keys_left_out_or_empty_come_from_their_variable():
    merged = with_environment(
        {"api_url": "", "limits": {"burst": 5}}, VARIABLES, {"BOT_TOKEN": "t"}
    )
    assert merged == {"access_token": "t", "api_url": "", "limits": {"burst": 5}}


def test_a_key_credentials_yml_sets_wins_over_the_environment():
    merged = with_environment({"access_token": "written"}, VARIABLES, {"BOT_TOKEN": "env"})
    assert merged["access_token"] == "written"


def test_a_channel_listed_without_keys_reads_only_the_environment():
    assert with_environment(None, VARIABLES, {}) == {"access_token": "", "api_url": ""}
