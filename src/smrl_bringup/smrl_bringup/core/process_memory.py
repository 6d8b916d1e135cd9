"""Memory of a graph of node processes, from /proc (Linux): what the graph costs the machine.

RSS counts the shared libraries every process maps (rclpy, Fast DDS, torch) once per process, so
the RSS sum overstates the total; PSS splits each shared page among the processes that map it, so
the PSS sum is what the graph really occupies. Both are reported. psutil is not a dependency of
the embedded route; /proc has both figures.
"""
from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def _kib_field(path: Path, field: str) -> int | None:
    """`field:  N kB` of a /proc status-like file, in bytes; None if the process is gone."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def rss_bytes(pid: int) -> int | None:
    return _kib_field(PROC / str(pid) / "status", "VmRSS")


def pss_bytes(pid: int) -> int | None:
    return _kib_field(PROC / str(pid) / "smaps_rollup", "Pss")


def graph_memory_bytes(pids: dict[str, int]) -> dict[str, dict[str, int]]:
    """{"rss": {name: bytes}, "pss": {name: bytes}} of the named processes still alive."""
    memory: dict[str, dict[str, int]] = {"rss": {}, "pss": {}}
    for name, pid in pids.items():
        for kind, read in (("rss", rss_bytes), ("pss", pss_bytes)):
            value = read(pid)
            if value is not None:
                memory[kind][name] = value
    return memory
