"""Cold compile of zerosim's Numba kernels: CPU seconds in all, and by module and kernel.

    .venv/bin/python bench/compile_profile.py [POLICY] [--size N] [--days D]

Runs ``demo`` (default 20,000 people, 10 days, ``dynamic-zero-2022``) in a fresh process with an
empty ``NUMBA_CACHE_DIR``, so every kernel it calls is compiled, and reads Numba's ``numba:compile``
events: each function's own compile time (its callees' compiles subtracted), in CPU seconds of the
process (a loaded machine stretches wall time, much less CPU time). docs/performance.md, "First run".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict


def profile(policy: str, size: int, days: int) -> None:
    from numba.core import event

    own: dict[str, float] = defaultdict(float)
    stack: list[list] = []
    total = [0.0]

    class Listener(event.Listener):
        def on_start(self, ev) -> None:
            stack.append([ev.data["dispatcher"], time.process_time(), 0.0])

        def on_end(self, ev) -> None:
            dispatcher, started, children = stack.pop()
            spent = time.process_time() - started
            function = dispatcher.py_func
            own[f"{function.__module__}.{function.__name__}"] += spent - children
            if stack:
                stack[-1][2] += spent
            else:
                total[0] += spent

    event.register("numba:compile", Listener())
    started = time.process_time()
    from zerosim.api import run

    run("demo", overrides={"population.size": size, "duration_days": days, "policy": policy}, figures=False)
    print(f"process CPU {time.process_time() - started:.1f} s, of which compiling {total[0]:.1f} s "
          f"(demo, {size:,} people, {days} days, policy {policy}; empty cache {os.environ['NUMBA_CACHE_DIR']})")
    by_module: dict[str, float] = defaultdict(float)
    for name, seconds in own.items():
        by_module[name.rsplit(".", 1)[0]] += seconds
    for module, seconds in sorted(by_module.items(), key=lambda item: -item[1]):
        print(f"{seconds:7.2f} s  {module}")
    print("largest kernels (own compile time):")
    for name, seconds in sorted(own.items(), key=lambda item: -item[1])[:15]:
        print(f"{seconds:7.2f} s  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy", nargs="?", default="dynamic-zero-2022")
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.in_process:
        profile(options.policy, options.size, options.days)
        return
    with tempfile.TemporaryDirectory(prefix="zerosim-numba-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        subprocess.run([sys.executable, __file__, options.policy, "--size", str(options.size), "--days",
                        str(options.days), "--in-process"], env=env, check=True)


if __name__ == "__main__":
    main()
