"""Where the memory goes: resident set per phase and the highest transient of each component.

Usage::

    python bench/memory_phases.py --size 25000000 --policy dynamic-zero-2022 --days 120

Builds the city, sets up each component and runs the days, resetting the kernel's peak-RSS mark
(``/proc/self/clear_refs``, Linux only) around every set-up and every daily step, so that each
phase's own peak is seen. Prints bytes per agent above the interpreter's resident set after a JIT
warm-up run (the "runtime" row, in GiB), as Markdown rows for docs/performance.md.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import zerosim
from zerosim.memory import release_freed_memory
from zerosim.population.synthesis import build_population


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {key}")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5_000_000)
    parser.add_argument("--scenario", default="demo")
    parser.add_argument("--policy", default="dynamic-zero-2022")
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()

    zerosim.run(zerosim.load_scenario(args.scenario, {"population.size": 2000, "duration_days": 3,
                                                      "policy": args.policy}))  # JIT warm-up
    base = _status("VmRSS")
    n = args.size

    def per_agent(value: int) -> str:
        return f"{(value - base) / n:.1f}"

    scenario = zerosim.load_scenario(args.scenario, {"population.size": n, "duration_days": args.days,
                                                     "policy": args.policy})
    _reset_peak()
    state = build_population(scenario.population, scenario.seed)
    rows = [("build", per_agent(_status("VmHWM")), per_agent(_status("VmRSS")))]
    simulation = zerosim.build(scenario, population=state)
    for component, rng in simulation.plan:
        _reset_peak()
        component.setup(simulation.state, rng)
        rows.append((f"set-up: {component.name}", per_agent(_status("VmHWM")), per_agent(_status("VmRSS"))))
    release_freed_memory()
    peak: dict[str, int] = defaultdict(int)
    for day in range(args.days):
        for component, rng in simulation.plan:
            _reset_peak()
            component.step(simulation.state, day, rng)
            peak[component.name] = max(peak[component.name], _status("VmHWM"))
        _reset_peak()
        for component, _ in simulation.plan:
            simulation.recorder.record(day, component.report(simulation.state, day))
        peak["reports"] = max(peak["reports"], _status("VmHWM"))
    print(f"{args.scenario}, policy {args.policy}, N = {n:,}, {args.days} days; "
          f"runtime after warm-up {base / 2**30:.2f} GiB")
    print("| phase | peak B/agent | after B/agent |")
    print("|---|---|---|")
    for name, high, after in rows:
        print(f"| {name} | {high} | {after} |")
    after_run = per_agent(_status("VmRSS"))
    for name, high in sorted(peak.items(), key=lambda item: -item[1]):
        print(f"| day step: {name} | {per_agent(high)} | {after_run} |")


if __name__ == "__main__":
    main()
