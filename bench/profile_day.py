"""Where a simulated day goes: wall time per component step and report, summed over days.

Usage::

    python bench/profile_day.py --size 5000000 --policy dynamic-zero-2022 --days 22 --skip 2
    python bench/profile_day.py --size 1000000 --scenario well-mixed --policy none --days 120

Prints one Markdown row per component (milliseconds per day, averaged over the timed days) and the
total; paste into docs/performance.md with the command line.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import zerosim
from zerosim.population.synthesis import build_population


def warm_simulation(scenario_name: str, size: int, days: int, policy: str):
    """A set-up simulation of ``scenario_name`` at ``size`` agents, after a small run that compiles the kernels
    (so that no timed day pays for the JIT)."""
    zerosim.run(zerosim.load_scenario(scenario_name, {"population.size": 2000, "duration_days": 3,
                                                      "policy": policy}))  # JIT warm-up
    scenario = zerosim.load_scenario(scenario_name, {"population.size": size, "duration_days": days, "policy": policy})
    simulation = zerosim.build(scenario, population=build_population(scenario.population, scenario.seed))
    simulation.setup()
    return simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5_000_000)
    parser.add_argument("--scenario", default="demo")
    parser.add_argument("--policy", default="dynamic-zero-2022")
    parser.add_argument("--days", type=int, default=22, help="Days to simulate.")
    parser.add_argument("--skip", type=int, default=2, help="Days at the start not timed (JIT, seeding).")
    args = parser.parse_args()

    simulation = warm_simulation(args.scenario, args.size, args.days, args.policy)
    spent: dict[str, float] = defaultdict(float)
    timed = 0
    for day in range(args.days):
        clock = day >= args.skip
        for component, rng in simulation.plan:
            t0 = time.perf_counter()
            component.step(simulation.state, day, rng)
            if clock:
                spent[f"{component.name} step"] += time.perf_counter() - t0
        for component, _ in simulation.plan:
            t0 = time.perf_counter()
            simulation.recorder.record(day, component.report(simulation.state, day))
            if clock:
                spent[f"{component.name} report"] += time.perf_counter() - t0
        timed += clock
    total = sum(spent.values())
    print(f"{args.scenario}, policy {args.policy}, N = {args.size:,}, {timed} days timed")
    print("| part | ms per day | share |")
    print("|---|---|---|")
    for name, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        if seconds * 1000 / timed >= 0.05:
            print(f"| {name} | {seconds * 1000 / timed:.1f} | {seconds / total:.0%} |")
    print(f"| **total** | {total * 1000 / timed:.1f} | |")


if __name__ == "__main__":
    main()
