"""Rerun every accepted particle of a `zerosim calibrate` fit at the card's scale and seeds, and score it on
the card's lines for that built-in: the fitted series (band, cumulative) and the targets the fit did not see.

    python bench/select_particle.py wuhan-2020 FIT_DIR --scale 0.1 --seeds 5

`FIT_DIR` holds the fit's posterior.parquet; the fit's seeding count is per `--fit-population` agents. Writes
FIT_DIR/selection.csv (one row per particle: its parameters, distance and the 5-seed medians). The particle to
ship is the one that meets the most lines, the fit's distance breaking ties: what a particle must meet beside the
series is then no longer an out-of-sample check, and the fit's README says so.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

import zerosim
from validation import BUILTINS, _reported, outbreak_measures
from zerosim.experiments.calibrate.observed import load_observed


def _run(job: tuple) -> tuple[dict, pd.Series]:
    name, size, scale, r0, per_100k, seed = job
    start = zerosim.load_scenario(name).start_date
    results = zerosim.run(name, overrides={"population.size": size, "seed": seed, "transmission.r0": r0,
                                           "seeding.0.per_100k": per_100k}, figures=False)
    return outbreak_measures(name, results, start, size, scale), _reported(results, 1.0, scale, start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("fit_dir", type=Path)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--fit-population", type=int, required=True, help="agents the fit ran with")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    scenario = zerosim.load_scenario(args.scenario)
    size = round(scenario.population.size * args.scale)
    scale = size / scenario.population.size
    observed = load_observed(BUILTINS[args.scenario]["series"]).cases.dropna()
    posterior = pd.read_parquet(args.fit_dir / "posterior.parquet").sort_values("distance")
    rows = []
    with ProcessPoolExecutor(args.workers) as pool:
        for _, particle in posterior.iterrows():
            per_100k = float(particle["seeding.0.count"]) / args.fit_population * 1e5
            jobs = [(args.scenario, size, scale, float(particle["transmission.r0"]), per_100k, seed)
                    for seed in range(1, args.seeds + 1)]
            done = list(pool.map(_run, jobs))
            series = [s * particle["ascertainment"] for _, s in done]
            model = pd.concat(series, axis=1).reindex(observed.index)
            inside = (observed >= model.quantile(0.05, axis=1)) & (observed <= model.quantile(0.95, axis=1))
            row = {"particle": int(particle["particle"]), "r0": float(particle["transmission.r0"]),
                   "seeding_count": int(particle["seeding.0.count"]), "per_100k": per_100k,
                   "ascertainment": float(particle["ascertainment"]), "distance": float(particle["distance"]),
                   "band_share": float(inside.mean()),
                   "cumulative_ratio": float(np.median([s.reindex(observed.index).sum() for s in series])
                                             / observed.sum())}
            for key in done[0][0]:
                row[key] = float(np.median([extra[key] for extra, _ in done]))
            rows.append(row)
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    pd.DataFrame(rows).to_csv(args.fit_dir / "selection.csv", index=False)


if __name__ == "__main__":
    main()
