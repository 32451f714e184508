"""The project installs as one wheel that runs from any directory: what a
container gets (deploy/docker) and what `pip install -e .` gives `make run`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cloudpick_home import HOME_VARIABLE, project_home
from tests.conftest import PROJECT

PIP = (sys.executable, "-m", "pip", "--quiet")
PACKAGES = ("actions", "addons", "analytics", "bench", "handoff", "rasa_sdk_plugins", "scripts")


def tracked_files(*paths: str) -> list[str]:
    """The checkout's files, new ones included, without what git ignores."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths],
        cwd=PROJECT,
        capture_output=True,
        check=True,
        text=True,
    )
    return [name for name in listing.stdout.split("\0") if name]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from the tracked files alone, as in a clean clone: a leftover
    build/ in the checkout could hide a file the wheel misses."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for name in tracked_files():
        if (PROJECT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, source / name)
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = (root / "dist").glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Path:
    """The wheel unpacked into its own site directory."""
    site = wheel.parent.parent / "site"
    subprocess.run(
        [*PIP, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return site


def run_installed(site: Path, cwd: Path, *args: str, home: Path | None = None) -> str:
    """Runs the interpreter outside the checkout with only the wheel's code
    ahead of the shared environment's libraries."""
    environment = {key: value for key, value in os.environ.items() if key != HOME_VARIABLE}
    environment["PYTHONPATH"] = str(site)
    if home is not None:
        environment[HOME_VARIABLE] = str(home)
    result = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_wheel_holds_every_tracked_file_of_every_package(wheel: Path):
    """Code and package data alike: console, OpenAPI, migrations, report
    templates, the widget, the form page, the shop's fixtures."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert set(archive.read(top_level).decode().split()) == {*PACKAGES, "cloudpick_home"}
    expected = tracked_files(*PACKAGES, "cloudpick_home.py")
    assert "handoff/console/static/index.html" in expected  # the listing is real
    assert [name for name in expected if name not in names] == []
    assert not any(name.startswith("tests/") for name in names)


def test_the_installed_commands_run_from_another_directory(installed: Path, tmp_path: Path):
    handoff_help = run_installed(installed, tmp_path, "-m", "handoff", "--help")
    assert "serve" in handoff_help and "migrate" in handoff_help
    assert "report" in run_installed(installed, tmp_path, "-m", "analytics", "--help")
    assert "--conversations" in run_installed(installed, tmp_path, "-m", "bench.relay", "--help")


PROBE = """
import actions.outbox, analytics.channels, handoff.channels, handoff.settings
print(handoff.channels.__file__)
print(handoff.channels.CHANNELS_FILE)
print(analytics.channels.CHANNELS_FILE)
print(actions.outbox.DEFAULT_PATH)
print(handoff.settings.Settings().demo_accounts_path)
print(sorted(handoff.channels.load_channels()))
"""


def test_an_installed_wheel_finds_the_project_files_in_its_home(installed: Path, tmp_path: Path):
    lines = run_installed(installed, tmp_path, "-c", PROBE, home=PROJECT).splitlines()
    assert Path(lines[0]).is_relative_to(installed)
    assert lines[1:5] == [
        str(PROJECT / "channels.yml"),
        str(PROJECT / "channels.yml"),
        str(PROJECT / "var" / "handoff-outbox.db"),
        str(PROJECT / "var" / "handoff-accounts.txt"),
    ]
    assert "'socketio'" in lines[5] or "'rest'" in lines[5]


def test_without_a_home_an_installed_wheel_uses_the_working_directory(
    installed: Path, tmp_path: Path
):
    (tmp_path / "channels.yml").write_text("kiosk: {zh: 自助机, en: Kiosk}\n", encoding="utf-8")
    lines = run_installed(installed, tmp_path, "-c", PROBE).splitlines()
    assert lines[1] == str(tmp_path / "channels.yml")
    assert lines[5] == "['kiosk']"


def test_the_checkout_is_the_home_unless_one_is_named(tmp_path: Path):
    assert project_home({}) == PROJECT
    assert project_home({HOME_VARIABLE: str(tmp_path)}) == tmp_path.resolve()
