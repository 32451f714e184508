"""Where the project's own files live, apart from the code: channels.yml,
the endpoints and credentials files, models/ and var/. Every process finds
them through this one rule, whether it runs from the checkout, from another
directory, or from a wheel installed in a container.

    CLOUDPICK_HOME=/srv/cloudpick python -m handoff serve

`CLOUDPICK_HOME` names the directory. Without it: the checkout this module
lies in (recognised by its pyproject.toml, as with `pip install -e .`); an
installed wheel has no checkout beside it, so then the working directory,
where Rasa itself looks for its files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HOME_VARIABLE = "CLOUDPICK_HOME"


def project_home(environ: Mapping[str, str] = os.environ) -> Path:
    configured = environ.get(HOME_VARIABLE)
    if configured:
        return Path(configured).expanduser().resolve()
    checkout = Path(__file__).resolve().parent
    if (checkout / "pyproject.toml").is_file():
        return checkout
    return Path.cwd()


PROJECT = project_home()
