"""Rasa's training cache sees our code and data changes through the fingerprint."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from importlib.metadata import PackageNotFoundError

from rasa.engine.graph import GraphComponent

import addons.nlu
from addons.nlu.fingerprint import addons_fingerprint, source_fingerprint


def test_every_component_carries_the_fingerprint_of_all_our_code():
    components = {
        cls
        for module_info in pkgutil.iter_modules(addons.nlu.__path__)
        for _, cls in inspect.getmembers(
            importlib.import_module(f"addons.nlu.{module_info.name}"), inspect.isclass
        )
        if issubclass(cls, GraphComponent)
        and cls.__module__.startswith("addons.")
        and not inspect.isabstract(cls)
    }
    assert len(components) >= 11  # every component config.yml can name
    for component in components:
        assert component.fingerprint_addon({}) == addons_fingerprint(), component


def test_a_change_to_any_module_or_data_package_changes_the_fingerprint(tmp_path, monkeypatch):
    (tmp_path / "text.py").write_text("SEPARATOR = ' '\n")
    (tmp_path / "features.py").write_text("WEIGHT = 1\n")
    before = source_fingerprint(tmp_path, ("jieba",))
    assert source_fingerprint(tmp_path, ("jieba",)) == before

    (tmp_path / "features.py").write_text("WEIGHT = 2\n")
    changed_code = source_fingerprint(tmp_path, ("jieba",))
    assert changed_code != before

    def not_installed(name: str) -> None:
        raise PackageNotFoundError(name)

    monkeypatch.setattr("addons.nlu.fingerprint.distribution", not_installed)
    assert source_fingerprint(tmp_path, ("jieba",)) != changed_code
