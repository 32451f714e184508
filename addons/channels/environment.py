"""Channel secrets from the environment, for the keys credentials.yml leaves out.

credentials.yml lists every channel without its secrets, so that plain
`rasa run` and `rasa shell` start as Rasa users expect: Rasa refuses a
`${NAME}` whose variable is unset, and most machines set only the channels
they use. Each channel names the variable of each of its keys; a key set in
credentials.yml (a value, or a `${NAME}` of the operator's own) wins.
A channel whose secrets are empty stays off and answers 503.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def with_environment(
    credentials: Mapping[str, Any] | None,
    variables: Mapping[str, str],
    environment: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    """`credentials` with each empty key of `variables` taken from its variable."""
    merged = dict(credentials or {})
    for key, variable in variables.items():
        if merged.get(key) in (None, ""):
            merged[key] = environment.get(variable, "")
    return merged
