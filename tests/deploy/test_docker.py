"""The three images (deploy/docker): built from what the checkout has, run
the contract's commands on the ports their checks and callers use."""

from __future__ import annotations

import importlib.util
import re
import tomllib

import pytest

from tests.conftest import PROJECT
from tests.deploy.topology import COMMANDS, DOCKERFILES, ENDPOINTS, Dockerfile

IMAGES = ("rasa", "actions", "bridge")
# `make train` writes it; the rasa image is built after that.
MODEL = re.search(r"^MODEL := (\S+)$", (PROJECT / "Makefile").read_text(), re.M).group(1)


def shared_part(image: str) -> str:
    text = (DOCKERFILES / f"{image}.Dockerfile").read_text(encoding="utf-8")
    return text[text.index("FROM ") : text.index(f"# --- The {image} image alone")]


def test_the_images_share_every_layer_before_their_own():
    assert shared_part("rasa") == shared_part("actions") == shared_part("bridge")
    assert "pip install" in shared_part("rasa")


def test_the_images_install_as_make_install_does():
    makefile = (PROJECT / "Makefile").read_text()
    assert "pip install --quiet --no-deps -r requirements/lock.txt" in makefile
    assert "--no-deps --ignore-requires-python -r requirements/rasa.txt" in makefile
    install = " ".join(Dockerfile.read("rasa").all("RUN"))
    lock = install.index("pip install --no-deps -r /tmp/requirements/lock.txt")
    rasa = install.index(
        "pip install --no-deps --ignore-requires-python -r /tmp/requirements/rasa.txt"
    )
    assert lock < rasa


def test_the_images_copy_every_installed_package():
    """The same list as the wheel's (pyproject.toml), so a new package
    cannot be missing from the images."""
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    setuptools = pyproject["tool"]["setuptools"]
    packages = {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]}
    modules = {f"{module}.py" for module in setuptools["py-modules"]}
    copied = set(Dockerfile.read("bridge").copy_sources())
    assert packages | modules | {"pyproject.toml", "README.md"} <= copied


@pytest.mark.parametrize("image", IMAGES)
def test_every_copy_source_is_in_the_checkout_and_the_build_context(image: str):
    sources = Dockerfile.read(image).copy_sources()
    if "endpoints.production.yml" in sources and not ENDPOINTS.exists():
        pytest.skip("endpoints.production.yml comes with the production profile (issue 17)")
    allowed = [
        line[1:].rstrip("/")
        for line in (PROJECT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for source in sources:
        assert source == MODEL or (PROJECT / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is not in .dockerignore's list"


@pytest.mark.parametrize("image", IMAGES)
def test_each_image_runs_its_process_as_the_contract_names_it(image: str):
    dockerfile = Dockerfile.read(image)
    assert dockerfile.all("FROM") == ["python:3.11-slim"]
    assert dockerfile.command == COMMANDS[image]
    module = dockerfile.command[2]
    assert importlib.util.find_spec(module) is not None
    if module == "handoff":
        assert importlib.util.find_spec("handoff.__main__") is not None
    port = int(dockerfile.command[dockerfile.command.index("--port") + 1])
    assert dockerfile.exposed_port == dockerfile.healthcheck_port == port


@pytest.mark.parametrize("image", IMAGES)
def test_each_image_runs_as_an_unprivileged_user(image: str):
    dockerfile = Dockerfile.read(image)
    keywords = [keyword for keyword, _ in dockerfile.instructions]
    assert dockerfile.all("USER") == ["cloudpick"]
    assert keywords.index("USER") < keywords.index("CMD")
    assert any("useradd" in run and "--uid 10001" in run for run in dockerfile.all("RUN"))
