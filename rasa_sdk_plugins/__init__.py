"""The action server's extensions. rasa_sdk imports this package by name
(`rasa_sdk.plugin`) and calls `attach_sanic_app_extensions` on its app,
whether it is started by `rasa run actions` or `python -m actions.server`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from sanic import Sanic

hookimpl = pluggy.HookimplMarker("rasa_sdk")


class ActionServerExtensions:
    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        from actions import outbox

        outbox.attach(app)


def init_hooks(manager: pluggy.PluginManager) -> None:
    manager.register(ActionServerExtensions())
