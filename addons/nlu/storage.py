"""How our components store what they learn and read it back, with one
policy for all, and where they find the installed data they learn from.

Rasa's `ModelStorage.read_from` raises `ValueError` for a resource that was
never written: the component was trained on data that gave it nothing to
learn, and it loads untrained. A resource that exists but lacks a file
training wrote there, or holds one that does not parse, is a damaged model:
that error propagates, so a broken model fails to load instead of quietly
predicting nothing. So a component either stores everything it learnt or
nothing at all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import ExitStack
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any, TypeVar

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

logger = logging.getLogger(__name__)

StoredT = TypeVar("StoredT")


def read_stored(
    model_storage: ModelStorage, resource: Resource, read: Callable[[Path], StoredT]
) -> StoredT | None:
    """What `read` makes of the resource's directory; None if nothing was stored."""
    # Only entering `read_from` may mean "never written": a ValueError from
    # `read` (a JSONDecodeError, say) is a damaged file and must propagate.
    with ExitStack() as stack:
        try:
            directory = stack.enter_context(model_storage.read_from(resource))
        except ValueError:
            return None
        return read(directory)


def read_stored_json(model_storage: ModelStorage, resource: Resource, file_name: str) -> Any:
    """`read_stored` for a component that stores one JSON file."""
    return read_stored(model_storage, resource, lambda directory: read_json(directory / file_name))


def write_json(path: Path, value: Any) -> None:
    """Stores `value` as UTF-8 JSON, with Chinese kept readable in the file."""
    path.write_text(json.dumps(value, ensure_ascii=False), "utf-8")


def read_json(path: Path) -> Any:
    """What `write_json` stored; a missing or garbled file raises."""
    return json.loads(path.read_text("utf-8"))


def installed_data_file(package: str, relative_path: str) -> Path | None:
    """A data file inside an installed distribution, or None (logged) if absent.

    Lexicons and vectors come from packages we install for their data alone;
    they are read as files, never imported, since importing them loads far
    more than we use. A trained model stores what it took from them.
    """
    try:
        path = Path(str(distribution(package).locate_file(relative_path)))
    except PackageNotFoundError:
        logger.warning("%s is not installed; what it provides is left out.", package)
        return None
    if not path.is_file():
        logger.warning("%s has no %s; what it provides is left out.", package, relative_path)
        return None
    return path
