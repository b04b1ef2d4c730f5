"""Where a simulated day goes, kernel by kernel: wall time of each Numba kernel a component module
calls, summed over the timed days.

Usage::

    python bench/profile_kernels.py --size 5000000 --days 22 --skip 2
    python bench/profile_kernels.py --size 1000000 --modules zerosim.policy.testing,zerosim.policy.isolation

Every Numba kernel (and a few named helpers) imported into the given modules is replaced, in that
module's namespace, by a wrapper that times each call; kernels calling kernels are timed once, at
the outer call. The wrappers add about a microsecond per call. Prints one Markdown row per kernel
(milliseconds per day) and the day's total wall time; compare with ``bench/profile_day.py``, which
times whole component steps and reports.
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections import defaultdict

from profile_day import warm_simulation  # bench/ is the script's folder, first on sys.path

#: Component modules timed by default (the modules that call the kernels of a contained day).
DEFAULT_MODULES = (
    "zerosim.policy.testing", "zerosim.policy.isolation", "zerosim.policy.confinement", "zerosim.policy.tracing",
    "zerosim.policy.healthcode", "zerosim.policy.closures", "zerosim.policy.zoning", "zerosim.ledger.components",
    "zerosim.disease.components", "zerosim.transmission.components", "zerosim.behaviour.components",
)

#: Plain Python helpers worth timing beside the kernels.
HELPERS = ("stable_order_by_key", "_union", "_sorted_unique", "infected_agents")


def _timed(function, key: str, spent: dict[str, float], calls: dict[str, int], on: list[bool]):
    def wrapper(*args, **kwargs):
        if not on[0]:
            return function(*args, **kwargs)
        calls[key] += 1
        t0 = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - t0
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5_000_000)
    parser.add_argument("--scenario", default="demo")
    parser.add_argument("--policy", default="dynamic-zero-2022")
    parser.add_argument("--days", type=int, default=22, help="Days to simulate.")
    parser.add_argument("--skip", type=int, default=2, help="Days at the start not timed (JIT, seeding).")
    parser.add_argument("--modules", default=",".join(DEFAULT_MODULES),
                        help="Comma-separated modules whose imported kernels are timed.")
    parser.add_argument("--top", type=int, default=40, help="Rows printed.")
    args = parser.parse_args()

    spent: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    on = [False]
    for module_name in args.modules.split(","):
        module = importlib.import_module(module_name)
        short = module_name.removeprefix("zerosim.")
        for name, value in list(vars(module).items()):
            if hasattr(value, "py_func") or name in HELPERS:
                setattr(module, name, _timed(value, f"{short}.{name}", spent, calls, on))

    simulation = warm_simulation(args.scenario, args.size, args.days, args.policy)
    wall = 0.0
    timed = 0
    for day in range(args.days):
        on[0] = day >= args.skip
        t0 = time.perf_counter()
        for component, rng in simulation.plan:
            component.step(simulation.state, day, rng)
        for component, _ in simulation.plan:
            simulation.recorder.record(day, component.report(simulation.state, day))
        if on[0]:
            wall += time.perf_counter() - t0
            timed += 1
    print(f"{args.scenario}, policy {args.policy}, N = {args.size:,}, {timed} days timed")
    print("| kernel | ms per day | calls per day |")
    print("|---|---|---|")
    for name, seconds in sorted(spent.items(), key=lambda item: -item[1])[: args.top]:
        if seconds * 1000 / timed >= 0.05:
            print(f"| {name} | {seconds * 1000 / timed:.1f} | {calls[name] / timed:.1f} |")
    print(f"| kernels listed, sum | {sum(spent.values()) * 1000 / timed:.1f} | |")
    print(f"| **day, wall** | {wall * 1000 / timed:.1f} | |")


if __name__ == "__main__":
    main()
