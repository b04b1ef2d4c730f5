"""Shared by the case scripts: each case prints one JSON line (its last line of stdout).

Stdlib only: the case scripts run under different interpreters (zerosim's venv, the peers' venv).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def peak_rss_gib() -> float:
    """Peak resident set size of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def numba_threads() -> int | None:
    try:
        import numba

        return int(numba.get_num_threads())
    except Exception:  # noqa: BLE001 - numba is optional for the record
        return None


class Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self.started = now - self.started, now
        return elapsed


def emit(result: dict) -> None:
    n, days, sim = result["n"], result["days"], result["sim_seconds"]
    result["agent_days_per_second"] = n * days / sim if sim > 0 else None
    result["peak_rss_gib"] = round(peak_rss_gib(), 3)
    result["numba_threads"] = numba_threads()
    result["pid"] = os.getpid()
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
