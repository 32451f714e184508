"""The warehouse holds what customers wrote: only its owner may read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from analytics.warehouse import Warehouse


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_warehouse_is_private_whatever_the_umask(tmp_path: Path):
    """`python -m analytics report` made var/analytics 0755 and its database
    0644 (the report command runs outside the launcher's umask)."""
    previous = os.umask(0o022)
    try:
        fresh = Warehouse(tmp_path / "analytics" / "new.db")
        older = tmp_path / "older.db"
        older.touch(mode=0o644)
        Warehouse(older)
    finally:
        os.umask(previous)
    assert mode(fresh.path.parent) == 0o700
    assert mode(fresh.path) == mode(older) == 0o600
