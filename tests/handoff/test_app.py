"""The bridge's start-up: demo accounts go where the settings say."""

from __future__ import annotations

import stat
from pathlib import Path

from handoff.settings import PROJECT


async def test_demo_accounts_are_written_where_the_settings_say_and_sign_in(
    start_bridge, tmp_path: Path
):
    """They went to the project's var/ whatever the settings: a second stack
    (a benchmark's, a test's) replaced `make run`'s file with passwords its
    own bridge did not know."""
    project_file = PROJECT / "var" / "handoff-accounts.txt"
    before = project_file.read_bytes() if project_file.exists() else None
    accounts = tmp_path / "accounts.txt"
    bridge = await start_bridge(demo_agents=True, demo_accounts_path=accounts)

    assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
    rows = [line.split("\t") for line in accounts.read_text().splitlines()[1:]]
    assert {role for _, _, role in rows} == {"admin", "agent", "analyst"}
    for username, password, _ in rows:
        async with bridge.client.post(
            "/api/session", json={"username": username, "password": password}
        ) as response:
            assert response.status == 200, username
    assert (project_file.read_bytes() if project_file.exists() else None) == before
