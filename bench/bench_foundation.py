"""Foundation benchmark: population build and a 120-day `demo` run, wall time and peak RSS.

Each measurement runs in a fresh subprocess so that peak RSS belongs to that case alone.
Usage::

    python bench/bench_foundation.py                 # N = 1M and 10M
    python bench/bench_foundation.py --sizes 1000000 --days 120
    python bench/bench_foundation.py --sizes 100000 1000000 5000000 --policy dynamic-zero-2022   # scaling
    python bench/bench_foundation.py --sizes 1000000 --r0 1.1 1.3 1.6 2.5 4   # wall time vs daily infections

Prints a Markdown table (paste into docs/performance.md with the command that produced it).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys

CASE = r"""
import json, resource, sys, time
import zerosim
from zerosim.population.synthesis import build_population
n, days, mode, policy, r0 = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
overrides = {"population.size": n, "duration_days": days, "policy": policy}
if r0 != "default":
    overrides["transmission.r0"] = float(r0)
scenario = zerosim.load_scenario("demo", overrides)
warm = zerosim.run(zerosim.load_scenario("demo", {"population.size": 2000, "duration_days": 3}))  # JIT warm-up
t0 = time.perf_counter()
state = build_population(scenario.population, scenario.seed)
t1 = time.perf_counter()
out = {"n": n, "build_seconds": t1 - t0, "state_bytes_per_agent": state.nbytes() / n}
if mode == "run":
    simulation = zerosim.build(scenario, population=state)
    t2 = time.perf_counter()
    simulation.run()
    t3 = time.perf_counter()
    out["run_seconds"] = t3 - t2
    out["infections"] = int(simulation.recorder.scalars["new_infections"].sum())
    out["peak_daily_infections"] = int(simulation.recorder.scalars["new_infections"].max())
    out["mean_daily_infections"] = float(simulation.recorder.scalars["new_infections"].mean())
    out["agent_days_per_second"] = n * days / (t3 - t2)
out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""


def measure(n: int, days: int, mode: str, policy: str = "none", r0: str = "default") -> dict:
    done = subprocess.run([sys.executable, "-c", CASE, str(n), str(days), mode, policy, r0], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--policy", default="none", help="Containment preset (e.g. dynamic-zero-2022 for scaling).")
    parser.add_argument("--r0", nargs="+", default=["default"],
                        help="Values of transmission.r0 to run at each size (wall time vs daily infections).")
    parser.add_argument("--build-only-above", type=int, default=10_000_000,
                        help="Sizes at or above this are also measured build-only (issue 2 target: 10M build).")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    print(f"policy: {args.policy}, {args.days} days")
    print("| N | R0 | build (s) | run (s) | seconds per million agents | agent-days/s | infections "
          "| mean daily infections | peak daily infections | state B/agent | peak RSS (GiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        for r0 in args.r0:
            result = measure(n, args.days, "run", args.policy, r0)
            print(
                f"| {n:,} | {r0} | {result['build_seconds']:.1f} | {result['run_seconds']:.1f} | "
                f"{result['run_seconds'] / (n / 1e6):.2f} | {result['agent_days_per_second']:.3g} | "
                f"{result['infections']:,} | {result['mean_daily_infections']:,.0f} | "
                f"{result['peak_daily_infections']:,} | {result['state_bytes_per_agent']:.0f} | "
                f"{result['peak_rss_gib']:.2f} |"
            )
        if n >= args.build_only_above:
            build = measure(n, args.days, "build", args.policy)
            print(f"| {n:,} (build only) | – | {build['build_seconds']:.1f} | – | – | – | – | – | – | "
                  f"{build['state_bytes_per_agent']:.0f} | {build['peak_rss_gib']:.2f} |")


if __name__ == "__main__":
    main()
