"""Resident memory of a process and of the processes it started (Sanic's
workers are children of the Rasa process the launcher starts): psutil when
it is installed, else Linux's /proc, which is all this needs."""

from __future__ import annotations

from pathlib import Path

try:
    import psutil
except ImportError:  # not in the project's lock
    psutil = None

PROC = Path("/proc")


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, parents first."""
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            return [pid, *(child.pid for child in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []
    children: dict[int, list[int]] = {}
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            # The command name in parentheses may hold spaces: split after it.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop(0)
        tree.append(current)
        pending += sorted(children.get(current, []))
    return tree if (PROC / str(pid)).exists() else []


def resident_mb(pid: int) -> float | None:
    """VmRSS in MiB, None when the process is gone."""
    if psutil is not None:
        try:
            return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
        except psutil.NoSuchProcess:
            return None
    try:
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def tree_resident_mb(pid: int) -> dict[int, float]:
    """Each living process of `pid`'s tree and its resident MiB."""
    sizes = {child: resident_mb(child) for child in process_tree(pid)}
    return {child: size for child, size in sizes.items() if size is not None}
