"""One zerosim case for bench/peers: warm up the JIT, run once, print one JSON line.

Runs under the project's own venv (``.venv/bin/python``). Times are zerosim's own split from
summary.json: ``build_seconds`` (population, contact structure, components) and
``simulation_seconds`` (the daily loop), plus the wall time of the whole ``zerosim.run`` call
(which also assembles the summary and ledger; no files, no figures).

    python cases/zerosim_case.py --scenario demo --policy none --n 1000000 --days 120 --r0 2.5 --seeds 20
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import emit, versions


def overrides(args: argparse.Namespace, n: int, days: int) -> dict:
    seeding = {"day": 0, "count": args.seeds}
    if args.scenario == "demo":
        seeding["district"] = "Pudong"  # where the demo scenario seeds
    return {
        "population.size": n,
        "duration_days": days,
        "transmission.r0": args.r0,
        "policy": args.policy,
        "seeding": [seeding],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="demo", choices=["demo", "well-mixed"])
    parser.add_argument("--policy", default="none")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--r0", type=float, default=2.5)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()

    import zerosim

    # JIT warm-up with the same scenario and policy, so compilation is not timed.
    zerosim.run(args.scenario, overrides=overrides(args, 5_000, 5), figures=False)

    started = time.perf_counter()
    results = zerosim.run(args.scenario, overrides=overrides(args, args.n, args.days), figures=False)
    wall = time.perf_counter() - started
    summary = results.summary
    emit({
        "simulator": "zerosim",
        "scenario": args.scenario,
        "policy": args.policy,
        "n": args.n,
        "days": args.days,
        "r0_setting": args.r0,
        "seeds": args.seeds,
        "build_seconds": summary["build_seconds"],
        "sim_seconds": summary["simulation_seconds"],
        "wall_seconds": wall,
        "infections": summary["infections"],
        "attack_rate": summary["attack_rate"],
        "extra": {key: summary.get(key) for key in (
            "variant", "r0", "deaths", "peak_infectious_day", "tests_swabbed", "cases_detected",
            "max_in_isolation", "max_in_quarantine", "peak_sealed_population", "git_revision")},
        "versions": versions("zerosim", "numpy", "numba"),
    })


if __name__ == "__main__":
    sys.exit(main())
