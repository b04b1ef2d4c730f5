"""One LASER (laser-generic) SEIR case for bench/peers: warm up, build, run once, print one JSON line.

Runs under bench/peers/.venv. Built as in laser-generic 1.1's documented SEIR usage (its
get-started page and tests/test_seir.py): one node from ``laser.core.utils.grid``, a
``PropertySet`` with ``nticks`` and ``beta``, ``laser.generic.Model``, and the components
``SEIR.Susceptible, SEIR.Exposed, SEIR.Infectious, SEIR.Recovered, SEIR.Transmission`` in that
order. ``build_seconds`` is Model + components; ``sim_seconds`` is ``model.run()``.

Durations approximate zerosim's omicron_ba2 course (generation interval about 3.4 d): latent
Gamma(shape 4, scale 0.5), mean 2 d; infectious 3.5 d. With that component order an agent whose
infectious timer is k is counted in I (and so transmits) on k - 1 days, so the timer is drawn from
Normal(3.5 + 1, 1) and beta = R0 / 3.5. Check: the final size then matches z = 1 - exp(-R0 z).

    python cases/laser_case.py --n 1000000 --days 120 --r0 2.5 --seeds 20
"""

from __future__ import annotations

import argparse
import os
import sys

from _common import Clock, emit, versions

INFECTIOUS_DAYS = 3.5  # days counted infectious
TIMER_OFFSET = 1.0  # see the module docstring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--r0", type=float, default=2.5)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    os.environ.setdefault("TQDM_DISABLE", "1")  # Model.run() draws a tqdm bar otherwise
    import laser.core.distributions as dists
    from laser.core import PropertySet
    from laser.core.utils import grid
    from laser.generic import SEIR, Model

    # One set of distribution objects for warm-up and the timed run, so Numba compiles once.
    latent = dists.gamma(shape=4.0, scale=0.5)
    infectious = dists.normal(loc=INFECTIOUS_DAYS + TIMER_OFFSET, scale=1.0)

    def build(n: int, days: int):
        scenario = grid(M=1, N=1, population_fn=lambda row, col: n)
        scenario["E"] = args.seeds  # seeds start as newly infected (exposed), as in zerosim and Covasim
        scenario["I"] = 0
        scenario["R"] = 0
        scenario["S"] = scenario["population"] - args.seeds
        params = PropertySet({"nticks": days, "beta": args.r0 / INFECTIOUS_DAYS, "seed": args.seed})
        model = Model(scenario, params)
        model.components = [
            SEIR.Susceptible(model),
            SEIR.Exposed(model, latent, infectious),
            SEIR.Infectious(model, infectious),
            SEIR.Recovered(model),
            SEIR.Transmission(model, latent),
        ]
        return model

    build(5_000, 5).run()  # warm-up: Numba compilation

    clock = Clock()
    model = build(args.n, args.days)
    build_seconds = clock.lap()
    model.run()
    run_seconds = clock.lap()

    susceptible_left = int(model.nodes.S[-1].sum())
    emit({
        "simulator": "laser-generic",
        "scenario": "SEIR, 1 node",
        "policy": "none",
        "n": args.n,
        "days": args.days,
        "r0_setting": args.r0,
        "seeds": args.seeds,
        "build_seconds": build_seconds,
        "sim_seconds": run_seconds,
        "wall_seconds": build_seconds + run_seconds,
        "infections": args.n - susceptible_left,
        "attack_rate": (args.n - susceptible_left) / args.n,
        "extra": {"peak_infectious_day": int(model.nodes.I.sum(axis=1).argmax()),
                  "beta": args.r0 / INFECTIOUS_DAYS},
        "versions": versions("laser-generic", "laser-core", "numpy", "numba"),
    })


if __name__ == "__main__":
    sys.exit(main())
