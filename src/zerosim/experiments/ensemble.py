"""Experiments layer: ensembles and sweeps on ``dask.distributed``.

Replicate r of a scenario runs with seed ``replicate_seed(seed, r)``; sweep points are overrides
(``path=v1,v2``, combined as a grid). Each (sweep point, replicate) is one Dask task that receives
the scenario as a plain mapping plus the seed -- never a live Generator -- and returns its small
tables. A LocalCluster is started by default; an existing cluster is used when a scheduler address
is given. Failed tasks are retried, and those that still fail are reported (never silently dropped).

Outputs (``out``): ``replicates/`` -- a Parquet dataset partitioned ``sweep=<k>/replicate=<r>/``
with every replicate's time series; ``summaries.parquet`` (one row per replicate);
``quantiles.parquet`` (per sweep point and day: 5/25/50/75/95 % of the main series);
``failures.json``; ``ensemble.json`` (what ran). The CLI adds ``ensemble_bands.png`` (viz layer).

Layer ``experiments`` -- above the API: tasks call :func:`zerosim.api.run` (or a region's
:func:`zerosim.region.results.region_replicate`) inside workers; never ``cli``.
"""

from __future__ import annotations

import itertools
import json
import re
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zerosim.engine.rng import replicate_seed
from zerosim.errors import InputError, OutputDirError, OutputError, ScenarioError, ZerosimError

#: Series summarised as quantile bands.
BAND_SERIES = ("new_infections", "infectious", "new_deaths", "cases_detected", "sealed", "in_quarantine",
               "ledger_food_shortfall_person_days", "ledger_income_lost_cny")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass
class EnsembleResult:
    """What an ensemble produced."""

    summaries: pd.DataFrame
    timeseries: pd.DataFrame
    quantiles: pd.DataFrame
    failures: list[dict] = field(default_factory=list)
    out_dir: Path | None = None


def parse_sweep(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["population.size=1000,2000", "policy=none,dynamic-zero-2022"]`` -> {path: [values]}."""
    from zerosim.io.scenario import parse_set

    sweep: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ScenarioError(f"--sweep {item}: expected dotted.path=v1,v2,... e.g. --sweep transmission.r0=2,3")
        key, _, raw = item.partition("=")
        values = [parse_set(f"{key}={v}")[1] for v in raw.split(",") if v.strip()]
        if not key.strip() or not values:
            raise ScenarioError(f"--sweep {item}: give a field and at least one value")
        sweep[key.strip()] = values
    return sweep


_SCHEDULER_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9._-]*)"
                                r"(?::(\d{1,5}))?/?$")


def check_scheduler_address(address: str, option: str = "--scheduler") -> str:
    """``address`` if it looks like a Dask scheduler address (``[tcp://]host[:port]``), else a one-line InputError."""
    match = _SCHEDULER_ADDRESS.match(address.strip()) if isinstance(address, str) else None
    if match is None or (match.group(1) is not None and not 1 <= int(match.group(1)) <= 65535):
        raise InputError(f"{option}: {str(address)[:60]!r} is not a Dask scheduler address; give tcp://HOST:PORT, "
                         "e.g. tcp://10.0.0.5:8786")
    return address.strip()


def check_workers(workers: int, option: str = "--workers") -> int:
    """``workers`` if it is a usable number of local worker processes (1-256), else a one-line InputError."""
    if not isinstance(workers, int) or not 1 <= workers <= 256:
        raise InputError(f"{option}: must be 1 to 256 worker processes, got {workers}; e.g. --workers 2")
    return workers


def sweep_points(sweep: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The grid of sweep overrides (one empty point when there is no sweep)."""
    if not sweep:
        return [{}]
    keys = list(sweep)
    return [dict(zip(keys, values)) for values in itertools.product(*(sweep[k] for k in keys))]


def run_replicate(scenario_data: dict, overrides: dict, seed: int, point: int, replicate: int) -> dict:
    """One task: validate and run one replicate; return its summary and time series (small)."""
    if scenario_data.get("kind") == "region":  # several cities: zerosim.region runs the replicate
        from zerosim.region.results import region_replicate

        return region_replicate(scenario_data, overrides, seed, point, replicate)
    from zerosim.api import run
    from zerosim.io.scenario import apply_overrides

    scenario = apply_overrides(scenario_data, {**overrides, "seed": seed})
    results = run(scenario)
    summary = {key: value for key, value in results.summary.items() if np.isscalar(value)}
    summary.update({f"ledger.{k}": v for k, v in results.summary.get("ledger", {}).items() if np.isscalar(v)})
    summary.update({"sweep": point, "replicate": replicate})
    series = results.timeseries.drop(columns=[c for c in ("date",) if c in results.timeseries])
    series = series.assign(sweep=point, replicate=replicate)
    return {"summary": summary, "timeseries": series}


def run_ensemble(
    scenario,
    runs: int,
    *,
    sweep: dict[str, list[Any]] | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    retries: int = 1,
    out: Path | None = None,
    on_done: Callable[[int, int], None] | None = None,
    force: bool = False,
    on_start: Callable[[], None] | None = None,
) -> EnsembleResult:
    """Run ``runs`` replicates of ``scenario`` at every sweep point on Dask; gather and summarise.

    Every input is checked before any worker starts (then ``on_start()`` is called): the runs, the
    scheduler address or the worker count, every sweep point, the memory the replicates need at
    once, and ``out``. An ensemble already in ``out`` is refused (OutputDirError), or with ``force``
    its files are removed first (only the files an ensemble writes: :data:`ENSEMBLE_FILES` and
    ``replicates/``).
    """
    from dask.distributed import as_completed

    from zerosim.experiments.tasks import dask_client  # (tasks imports this module's checks)

    if runs < 1:
        raise ScenarioError(f"--runs: must be >= 1, got {runs}; give the number of replicates")
    if scheduler is not None:
        scheduler = check_scheduler_address(scheduler)
    else:
        check_workers(workers)
    points = sweep_points(sweep or {})
    base = scenario.model_dump(mode="json")
    # Validate every sweep point before spending compute on it.
    from zerosim.io.scenario import apply_overrides

    for point in points:
        if base.get("kind") == "region":
            from zerosim.region.config import validate_region
            from zerosim.region.runner import resolve_cities

            region = apply_overrides(base, point, validate=validate_region)
            people = sum(city.scenario.population.size for city in resolve_cities(region))
        else:
            people = apply_overrides(base, point).population.size
        check_memory(people, 1 if scheduler else min(workers, runs * len(points)))
    if out is not None:
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise OutputDirError(f"--out: '{out}' is a file; give a directory path for the ensemble")
        out = prepare_ensemble_out(out, force)

    with dask_client(scheduler, workers) as client:
        if out is not None:
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise OutputDirError(f"--out: cannot create '{out}' ({error.strerror or error.__class__.__name__}); "
                                     "choose a writable directory") from None
        if on_start:
            on_start()
        summaries, series, failures = [], [], []
        futures = {}
        for p, point in enumerate(points):
            for r in range(runs):
                seed = replicate_seed(scenario.seed, r)
                future = client.submit(run_replicate, base, point, seed, p, r, retries=retries, pure=False,
                                       key=f"zerosim-{scenario.name}-{p}-{r}-{seed}")
                futures[future] = (p, r, seed)
        done = 0
        for future in as_completed(futures):
            p, r, seed = futures[future]
            try:
                result = future.result()
                summaries.append(result["summary"])
                series.append(result["timeseries"])
            except ZerosimError as error:
                failures.append({"sweep": p, "overrides": points[p], "replicate": r, "seed": seed,
                                 "error": f"{error.__class__.__name__}: {error}"})
            except Exception as error:  # noqa: BLE001 - a worker's crash is reported, not swallowed
                failures.append({"sweep": p, "overrides": points[p], "replicate": r, "seed": seed,
                                 "error": f"{error.__class__.__name__}: {error}",
                                 "traceback": "".join(traceback.format_exception(error))[-2000:]})
            done += 1
            if on_done:
                on_done(done, len(futures))

    summary_frame = pd.DataFrame(summaries).sort_values(["sweep", "replicate"]).reset_index(drop=True) \
        if summaries else pd.DataFrame()
    series_frame = pd.concat(series, ignore_index=True).sort_values(["sweep", "replicate", "day"]) \
        if series else pd.DataFrame()
    quantiles = quantile_bands(series_frame)
    result = EnsembleResult(summary_frame, series_frame, quantiles, failures, out)
    if out is not None:
        write_ensemble(result, scenario, runs, points, out)
    return result


#: The files (besides the ``replicates/`` dataset) that an ensemble writes into ``out``.
ENSEMBLE_FILES = ("summaries.parquet", "quantiles.parquet", "failures.json", "ensemble.json", "ensemble_bands.png")


def prepare_ensemble_out(out: Path, force: bool) -> Path:
    """Make ``out`` ready for an ensemble: refuse one already there (OutputDirError) unless ``force``,
    which removes it first; returns ``out`` as a Path."""
    out = Path(out)
    if (out / "ensemble.json").exists():
        if not force:
            raise OutputDirError(f"--out: '{out}' already holds an ensemble; give --force to replace it, "
                                 f"or choose another --out")
        _remove_ensemble(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputDirError(f"--out: cannot create '{out}' ({error.strerror}); choose another --out") from None
    return out


def _remove_ensemble(out: Path) -> None:
    """Remove an earlier ensemble's outputs from ``out`` (``--force``), and nothing else."""
    import shutil

    try:
        if (out / "replicates").is_dir():
            shutil.rmtree(out / "replicates")
        for name in ENSEMBLE_FILES:
            (out / name).unlink(missing_ok=True)
    except OSError as error:
        raise OutputError(f"--out: cannot remove the ensemble already in '{out}' ({error.strerror}); "
                          f"remove it yourself or choose another --out") from None


def describe(result: EnsembleResult, points: list[dict[str, Any]], scenario_name: str) -> list[str]:
    """A closing summary, one sentence per sweep point: medians and 90% ranges over the replicates.

    e.g. ``policy=dynamic-zero-2022: 20 replicates; infections median 143 (90% of runs 98 – 310), deaths 0 (0 – 1),
    income lost CNY 36.2 million (CNY 30.1 million – CNY 41 million)``.
    """
    from zerosim.numbers import money, words

    lines = []
    frame = result.summaries
    for p, point in enumerate(points):
        tag = ", ".join(f"{k}={v}" for k, v in point.items()) or scenario_name
        rows = frame[frame["sweep"] == p] if not frame.empty else frame
        failed = sum(1 for f in result.failures if f["sweep"] == p)
        if rows.empty:
            lines.append(f"{tag}: no replicate succeeded ({failed} failed)")
            continue
        parts = []
        for column, label, write in (("infections", "infections", words), ("deaths", "deaths", words),
                                     ("peak_sealed_population", "peak sealed", words),
                                     ("ledger.income_lost_cny", "income lost", money)):
            if column in rows and rows[column].notna().any():
                values = rows[column].dropna().to_numpy(dtype=float)
                low, mid, high = np.quantile(values, (0.05, 0.5, 0.95))
                parts.append(f"{label} median {write(mid)} (90% of runs {write(low)} – {write(high)})")
        count = f"{len(rows)} replicate{'s' if len(rows) != 1 else ''}" + (f" ({failed} failed)" if failed else "")
        lines.append(f"{tag}: {count}; " + ", ".join(parts))
    return lines


def check_memory(people: int, at_once: int) -> None:
    """Refuse (one line, exit 2) an ensemble whose ``at_once`` simultaneous replicates of ``people`` people
    do not fit in this machine's memory, before any worker starts."""
    from zerosim.population.synthesis import available_memory_bytes, check_fits_in_memory, estimate_build_bytes

    check_fits_in_memory(people)
    needed, available = estimate_build_bytes(people) * at_once, available_memory_bytes()
    if at_once > 1 and needed > available:
        fits = max(1, int(available // max(estimate_build_bytes(people), 1)))
        raise ScenarioError(f"--workers: {at_once} replicates of {people:,} people at once need about "
                            f"{needed / 2**30:.1f} GiB but {available / 2**30:.1f} GiB is available; use --workers {fits}")


def quantile_bands(series: pd.DataFrame) -> pd.DataFrame:
    """Per sweep point and day, the 5/25/50/75/95 % quantiles of each band series."""
    if series.empty:
        return pd.DataFrame()
    present = [name for name in BAND_SERIES if name in series]
    grouped = series.groupby(["sweep", "day"])[present]
    frames = []
    for q in QUANTILES:
        frame = grouped.quantile(q).reset_index()
        frame.insert(2, "quantile", q)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).sort_values(["sweep", "day", "quantile"]).reset_index(drop=True)


def write_ensemble(result: EnsembleResult, scenario, runs: int, points: list[dict], out: Path) -> None:
    """Write the ensemble's dataset, tables and figure into ``out``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if not result.timeseries.empty:
            table = pa.Table.from_pandas(result.timeseries.assign(scenario=scenario.name), preserve_index=False)
            pq.write_to_dataset(table, root_path=str(out / "replicates"),
                                partition_cols=["scenario", "sweep", "replicate"])
        if not result.summaries.empty:
            result.summaries.to_parquet(out / "summaries.parquet", index=False)
        if not result.quantiles.empty:
            result.quantiles.to_parquet(out / "quantiles.parquet", index=False)
        (out / "failures.json").write_text(json.dumps(result.failures, indent=2) + "\n")
        (out / "ensemble.json").write_text(json.dumps({
            "scenario": scenario.name, "seed": scenario.seed, "runs": runs, "sweep_points": points,
            "succeeded": int(len(result.summaries)), "failed": len(result.failures),
        }, indent=2, default=str) + "\n")
    except OSError as error:
        raise OutputError(f"--out: writing the ensemble to '{out}' failed ({error.strerror}); check the disk") from None
