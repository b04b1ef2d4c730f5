"""One Covasim case for bench/peers: warm up, build, run once, print one JSON line.

Runs under bench/peers/.venv. ``build_seconds`` is ``cv.Sim(...)`` plus ``sim.initialize()``
(people and contact network); ``sim_seconds`` is ``sim.run()``.

    python cases/covasim_case.py --pop-type hybrid --beta 0.016 --n 1000000 --days 120 --seeds 20 [--ttq]

Choices (see bench/peers/README.md):
- ``use_waning=False`` unless ``--waning``: no reinfection within the 120 days, as in zerosim and LASER's
  SEIR. It also makes Covasim faster (less work per day), so it can only shrink zerosim's ratio.
- ``--ttq``: ``cv.test_prob(symp_prob=0.2, asymp_prob=0.001, symp_quar_prob=1.0, asymp_quar_prob=1.0,
  test_delay=1)`` and ``cv.contact_tracing`` (hybrid: trace_probs h=1.0, s=0.5, w=0.5, c=0.1 and
  trace_time h=0, s=1, w=1, c=2 days; random: 0.5 and 1 day).
"""

from __future__ import annotations

import argparse
import sys

from _common import Clock, emit, versions


def interventions(cv, pop_type: str, ttq: bool) -> list:
    if not ttq:
        return []
    testing = cv.test_prob(symp_prob=0.2, asymp_prob=0.001, symp_quar_prob=1.0, asymp_quar_prob=1.0, test_delay=1)
    if pop_type == "hybrid":
        tracing = cv.contact_tracing(trace_probs={"h": 1.0, "s": 0.5, "w": 0.5, "c": 0.1}, trace_time={"h": 0, "s": 1, "w": 1, "c": 2})
    else:
        tracing = cv.contact_tracing(trace_probs=0.5, trace_time=1)
    return [testing, tracing]


def make_sim(cv, args: argparse.Namespace, n: int, days: int):
    return cv.Sim(
        pop_size=n,
        n_days=days,
        pop_type=args.pop_type,
        pop_infected=args.seeds,
        beta=args.beta,
        use_waning=args.waning,
        rand_seed=args.seed,
        verbose=0,
        interventions=interventions(cv, args.pop_type, args.ttq),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pop-type", default="random", choices=["random", "hybrid"])
    parser.add_argument("--beta", type=float, default=0.016)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ttq", action="store_true", help="test_prob + contact_tracing")
    parser.add_argument("--waning", action="store_true", help="Covasim's default use_waning=True")
    args = parser.parse_args()

    import covasim as cv
    import numpy as np

    make_sim(cv, args, 5_000, 5).run()  # warm-up: imports, Numba compilation

    clock = Clock()
    sim = make_sim(cv, args, args.n, args.days)
    sim.initialize()
    build = clock.lap()
    sim.run()
    run = clock.lap()

    results = sim.results
    never_infected = float(np.asarray(results["n_naive"])[-1])  # alive and never infected
    extra = {
        "cum_infections": float(np.asarray(results["cum_infections"])[-1]),  # counts reinfections too
        "cum_deaths": float(np.asarray(results["cum_deaths"])[-1]),
        "cum_tests": float(np.asarray(results["cum_tests"])[-1]),
        "cum_diagnoses": float(np.asarray(results["cum_diagnoses"])[-1]),
        "cum_quarantined": float(np.asarray(results["cum_quarantined"])[-1]),
    }
    try:  # Covasim's own R_eff estimate over days 10-30 (early growth), to show R0 is about 2.5
        sim.compute_r_eff()
        r_eff = np.asarray(results["r_eff"], dtype=float)
        extra["r_eff_days_10_30_mean"] = float(np.nanmean(r_eff[10:31]))
    except Exception as error:  # noqa: BLE001 - diagnostic only
        extra["r_eff_error"] = repr(error)
    emit({
        "simulator": "covasim",
        "scenario": f"{args.pop_type}, beta={args.beta}" + (", use_waning" if args.waning else ""),
        "policy": "test_prob+contact_tracing" if args.ttq else "none",
        "n": args.n,
        "days": args.days,
        "seeds": args.seeds,
        "build_seconds": build,
        "sim_seconds": run,
        "wall_seconds": build + run,
        "infections": args.n - never_infected,
        "attack_rate": (args.n - never_infected) / args.n,
        "extra": extra,
        "versions": versions("covasim", "starsim", "sciris", "numpy", "numba"),
    })


if __name__ == "__main__":
    sys.exit(main())
