"""Rasa's command line, run in this process, with the API's JWT secret taken
from the environment instead of the command line.

    RASA_JWT_SECRET=… python -m scripts.rasa_cli run --enable-api …

`rasa run --jwt-secret S` would show S to every local user in `ps` and
/proc/<pid>/cmdline. Arguments added to `sys.argv` here stay in this
process's memory, while /proc shows the command it was started with.
"""

from __future__ import annotations

import os
import sys

SECRET_VARIABLE = "RASA_JWT_SECRET"
JWT_METHOD = "HS256"


def rasa_arguments(argv: list[str], secret: str) -> list[str]:
    """`argv` plus the JWT options for `rasa run` (not `rasa run actions`)."""
    if secret and argv[:1] == ["run"] and argv[1:2] != ["actions"]:
        return [*argv, "--jwt-secret", secret, "--jwt-method", JWT_METHOD]
    return argv


def main() -> None:
    secret = os.environ.pop(SECRET_VARIABLE, "")
    sys.argv = ["rasa", *rasa_arguments(sys.argv[1:], secret)]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
