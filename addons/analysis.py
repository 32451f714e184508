"""How much of a message NLU analyses: one number shared by the NLU cap
(`addons/rasa_fixes.py`) and the channels' rate limit, which charges a long
message for the analysis it will cost (`addons/channels/guard.py`).

Kept free of Rasa so the channels' guard can import it.
"""

from __future__ import annotations

import os


def positive_int_from_environment(name: str, default: int) -> int:
    """A limit the operator may set; a value that is not a positive whole
    number stops Rasa at start-up rather than silently meaning something else."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdecimal() or int(value) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    return int(value)


# Customer messages are short; this bounds what a pasted text costs (about
# 0.3 s of Rasa's event loop at 2,000, against 20 ms at 100).
MAX_ANALYSED_CHARS = positive_int_from_environment("NLU_MAX_ANALYSED_CHARS", 2000)
