"""Stock Rasa's own assistant, the `rasa init --no-prompt` moodbot, trained
once per Rasa version: the baseline a benchmark of our assistant runs beside.

Training it takes a minute or two of both cores, so the model is kept in
~/.cache (CLOUDPICK_BENCH_CACHE overrides), named after the Rasa version
that trained it; a new Rasa trains a new one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rasa.version import __version__ as RASA_VERSION

CACHE = Path(os.environ.get("CLOUDPICK_BENCH_CACHE") or Path.home() / ".cache" / "cloudpick-bench")
TRAIN_TIMEOUT = 900


class MoodbotError(RuntimeError):
    """`rasa init` did not leave a model; the message carries its output."""


def moodbot_model(cache: Path = CACHE) -> Path:
    """The moodbot's model for this Rasa version, trained now if not cached."""
    model = cache / f"moodbot-rasa-{RASA_VERSION}.tar.gz"
    if model.exists():
        return model
    with tempfile.TemporaryDirectory(prefix="moodbot-") as project:
        run = subprocess.run(
            [sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", project],
            cwd=project,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
            capture_output=True,
            text=True,
            timeout=TRAIN_TIMEOUT,
        )
        trained = sorted(Path(project, "models").glob("*.tar.gz"))
        if run.returncode != 0 or not trained:
            raise MoodbotError(f"rasa init failed ({run.returncode}):\n{run.stdout[-2000:]}")
        cache.mkdir(parents=True, exist_ok=True)
        # Copied under a temporary name first, so a run stopped halfway
        # leaves no half model that the next run would take as trained.
        partial = model.with_suffix(".partial")
        shutil.copyfile(trained[-1], partial)
        partial.replace(model)
    return model


if __name__ == "__main__":
    print(moodbot_model())
