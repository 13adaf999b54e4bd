"""What the machine offers a run: its cores and memory, and the DuckDB settings they allow.

A fixed memory limit that suits two cores fails on sixteen (each DuckDB thread pins its own
blocks: sixteen threads need more than the 2 GB that link a million records on two), and a
limit that suits a big machine starves a small one. So the linking connection's limits are
derived from what this process may use, unless the sources file sets them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

GIB = 1 << 30
# DuckDB's own guidance is 1 to 4 GB per thread for joins and aggregations; 1 GiB per thread
# links a million records on two threads as fast as no limit does.
MEMORY_PER_THREAD = GIB
MEMORY_FLOOR = 2 * GIB
# The rest of the run (Polars frames, survivorship, publication: about 4 GB at a million
# records) shares the machine with DuckDB.
MEMORY_SHARE = 0.6

_CGROUP = Path("/sys/fs/cgroup")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|[KMGT]i?B)\s*$", re.IGNORECASE)
_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": GIB, "T": 1 << 40}


@dataclass(frozen=True)
class DuckDBLimits:
    """The threads and memory limit (bytes) a linking connection runs with, and whence."""

    threads: int
    memory_bytes: int
    threads_derived: bool  # chosen here ("auto") rather than by the sources file
    memory_derived: bool

    def config(self) -> dict[str, str]:
        """The limits as DuckDB connection settings."""
        return {
            "threads": str(self.threads),
            "memory_limit": f"{self.memory_bytes // (1 << 20)}MiB",
        }

    def summary(self) -> dict:
        """The limits and what chose them, as run_summary.json reports them."""

        def chosen(derived: bool) -> str:
            return "the machine (auto)" if derived else "the sources file"

        return {
            "threads": self.threads,
            "threads_chosen_by": chosen(self.threads_derived),
            "memory_limit": f"{self.memory_bytes / GIB:.1f} GiB",
            "memory_limit_chosen_by": chosen(self.memory_derived),
            "why": (
                f"auto: {MEMORY_PER_THREAD // GIB} GiB per thread, at least "
                f"{MEMORY_FLOOR // GIB} GiB, at most {MEMORY_SHARE:.0%} of "
                f"{available_memory() / GIB:.1f} GiB; a thread per core ({available_cores()}), "
                "no more than the memory allows (linkage.duckdb_threads, "
                "linkage.duckdb_memory_limit)"
            ),
        }


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity, within a cgroup's CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _read(_CGROUP / "cpu.max").split()
    if len(quota) == 2 and quota[0].isdigit() and quota[1].isdigit() and int(quota[1]) > 0:
        cores = min(cores or 1, max(1, int(quota[0]) // int(quota[1])))
    return max(1, cores or 1)


def available_memory() -> int:
    """Bytes this process may use: the machine's memory, within a cgroup's memory limit."""
    total = 0
    for line in _read(Path("/proc/meminfo")).splitlines():
        if line.startswith("MemTotal:"):
            total = int(line.split()[1]) * 1024
    if not total and hasattr(os, "sysconf"):
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = _read(_CGROUP / "memory.max").strip()
    if limit.isdigit():
        total = min(total, int(limit)) if total else int(limit)
    return total or 8 * GIB


def duckdb_limits(
    memory_limit: str, threads: int | str, cores: int | None = None, memory: int | None = None
) -> DuckDBLimits:
    """The linking connection's limits: `memory_limit` ("auto", "2GB", "50%") and `threads`
    ("auto" or a count) as the sources file gives them, "auto" following the machine."""
    cores = cores or available_cores()
    memory = memory or available_memory()
    wanted = cores if threads == "auto" else int(threads)
    if memory_limit == "auto":
        # enough for every thread, never less than the floor, never more than the share of
        # the machine the rest of the run leaves
        budget = max(MEMORY_FLOOR, min(int(memory * MEMORY_SHARE), wanted * MEMORY_PER_THREAD))
    else:
        budget = parse_size(memory_limit, memory)
    if threads == "auto":
        # a thread count of its own choosing never outgrows the memory it has
        wanted = max(1, min(wanted, budget // MEMORY_PER_THREAD))
    return DuckDBLimits(wanted, budget, threads == "auto", memory_limit == "auto")


def parse_size(text: str, memory: int) -> int:
    """Bytes of a DuckDB-style size ("2GB", "500MiB", "50%" of `memory`)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a memory size: {text!r} (examples: 2GB, 500MiB, 50%)")
    number, unit = float(match.group(1)), match.group(2).upper()
    if unit == "%":
        return int(memory * number / 100)
    # DuckDB reads GB as 1000^3 and GiB as 1024^3; the difference does not matter here
    return int(number * _UNITS[unit[0]])


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")[:4096]
    except OSError:
        return ""
