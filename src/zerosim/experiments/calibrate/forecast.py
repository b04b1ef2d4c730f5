"""Experiments layer (calibration): forecast from a calibration -- release dates, costs and cases still to come.

Layer ``experiments`` -- above the API; imports ``io`` (result tables), ``ledger`` (row names) and this
layer; never ``cli``.

How the forecast is conditioned on the data: posterior particles are drawn by weight; each draw
re-runs its particle with the particle's own seed on the same city, so up to ``--until`` it repeats
exactly the trajectory ABC accepted, and then runs on to the end of the scenario. A particle drawn
more than once keeps the same past, but its later draws get fresh random streams from the day after
``--until`` (a new future for the same past).

:func:`forecast` writes into ``out``: ``release_dates.parquet``, ``forecast.parquet``,
``forecast.json`` and ``fan_chart.png`` (and ``calibration/`` when it had to calibrate first).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from zerosim.experiments.calibrate.fit import (
    QUANTILES,
    Scale,
    Settings,
    calibrate,
    dask_client,
    scale_warnings,
    uses_dask,
)
from zerosim.experiments.calibrate.model import ParticleModel
from zerosim.experiments.calibrate.observed import load_observed
from zerosim.experiments.calibrate.priors import Prior, resolve_priors
from zerosim.errors import OutputError, RunDirError, ScenarioError
from zerosim.io.results import prepare_out_dir
from zerosim.numbers import money

FORECAST_FILES = ("forecast.json", "release_dates.parquet", "forecast.parquet")
#: Ledger costs still to come, reported in forecast.json: name -> timeseries columns summed.
#: ``confined_person_days`` is defined as in the ledger's summary (zerosim.ledger.summary.ledger_totals).
LEDGER_TO_COME = {
    "confined_person_days": ("ledger_confined_compound_person_days", "ledger_confined_home_person_days",
                             "ledger_facility_person_days"),
    "food_shortfall_person_days": ("ledger_food_shortfall_person_days",),
    "income_lost_cny": ("ledger_income_lost_cny",),
    "worker_days_lost": ("ledger_workers_kept_from_work",),
    "testing_cny": ("ledger_testing_cny",),
    "dialysis_sessions_missed": ("ledger_dialysis_sessions_missed",),
    "emergencies_without_care": ("ledger_emergencies_without_care",),
    "excess_non_covid_deaths": ("ledger_excess_non_covid_deaths",),
}
#: Per-day series of forecast.parquet (whole-city counts).
DAILY_SERIES = ("reported_cases", "new_infections", "new_deaths", "confined_persons", "zoned_persons")
RELEASE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.8, 0.95)


def draw_seed(particle_seed: int, draw: int) -> int:
    """Seed of the future of a repeated draw of a particle (63 bits, from SeedSequence)."""
    state = np.random.SeedSequence([int(particle_seed), int(draw)]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


def run_draw(model: ParticleModel, values: dict, seed: int, branch_seed: int | None) -> dict:
    """One forecast run: the particle re-run to the end of the scenario; small tables only (a Dask task)."""
    from zerosim.io.results import build_tables, events_table
    from zerosim.population.state import ZoneLevel

    captured: dict = {"sealed_compounds": np.zeros(0, dtype=np.int64)}

    def on_day(simulation, day: int) -> None:
        if day == model.until_day and simulation.state.has_array("compound_level"):
            captured["sealed_compounds"] = np.flatnonzero(simulation.state.compound_level == ZoneLevel.SEALED)

    scenario, simulation = model.simulate(values, seed, branch_seed=branch_seed, on_day=on_day)
    recorder, state = simulation.recorder, simulation.state
    timeseries, by_district, _, _ = build_tables(scenario, recorder.scalars, recorder.by_district,
                                                 recorder.by_age_band, state.district_names, recorder.days_recorded)
    days = len(timeseries)

    def column(name: str) -> np.ndarray:
        return timeseries[name].to_numpy(dtype=np.float64) if name in timeseries else np.zeros(days)

    share = model.ascertainment(values)
    series = {
        "observed_model": column(model.observe),
        "reported_cases": share * column(model.observe),
        "new_infections": column("new_infections"),
        "new_deaths": column("new_deaths"),
        "confined_persons": sum(column(name) for name in LEDGER_TO_COME["confined_person_days"]),
        "zoned_persons": column("sealed") + column("controlled"),
    }
    ledger = {name: sum(column(c) for c in columns) for name, columns in LEDGER_TO_COME.items()}
    districts = list(state.district_names)
    zoned = np.zeros((days, len(districts)))
    if "sealed" in by_district:
        wide = (by_district["sealed"] + by_district.get("controlled", 0)).to_numpy(dtype=np.float64)
        zoned = wide.reshape(days, len(districts))
    log = state.stores.get("zone_events")
    events = events_table(log.to_columns() if log is not None else None)
    events = events[events["scope"].isin(["city", "compound"]) & events["event"].isin(["sealed", "released"])]
    return {"series": series, "ledger": ledger, "districts": districts, "district_zoned": zoned,
            "events": events.reset_index(drop=True), "sealed_compounds": captured["sealed_compounds"],
            "days": days}


# -- release dates ---------------------------------------------------------------------------------
def zone_free_release(zoned: np.ndarray) -> tuple[str, int | None]:
    """(status, day) from a daily count of people in sealed or controlled zones.

    The release day is the first day from which nobody is in such a zone until the end of the run:
    ``released`` with that day; ``not released`` if someone still is on the last day; ``never sealed``.
    """
    positive = np.flatnonzero(np.asarray(zoned) > 0)
    if positive.size == 0:
        return "never sealed", None
    if positive[-1] == len(zoned) - 1:
        return "not released", None
    return "released", int(positive[-1] + 1)


def release_rows(result: dict, until_day: int) -> list[dict]:
    """Release rows of one run: the city, the citywide lockdown (if any), each district, each compound
    sealed on the ``--until`` day."""
    rows = []
    status, day = zone_free_release(result["series"]["zoned_persons"])
    rows.append({"scope": "city", "zone_id": 0, "zone_name": "city", "status": status, "release_day": day})
    events = result["events"]
    city = events[events["scope"] == "city"]
    sealed_days = city.loc[city["event"] == "sealed", "day"].to_numpy()
    if sealed_days.size:
        last_sealed = int(sealed_days.max())
        released = city.loc[(city["event"] == "released") & (city["day"] >= last_sealed), "day"].to_numpy()
        rows.append({"scope": "city_lockdown", "zone_id": 0, "zone_name": "citywide lockdown",
                     "status": "released" if released.size else "not released",
                     "release_day": int(released.min()) if released.size else None})
    for index, name in enumerate(result["districts"]):
        status, day = zone_free_release(result["district_zoned"][:, index])
        rows.append({"scope": "district", "zone_id": index, "zone_name": name, "status": status, "release_day": day})
    compounds = events[(events["scope"] == "compound") & (events["event"] == "released") & (events["day"] > until_day)]
    first_release = compounds.groupby("zone_id")["day"].min()
    for compound in result["sealed_compounds"]:
        day = first_release.get(int(compound))
        rows.append({"scope": "compound", "zone_id": int(compound), "zone_name": f"compound {int(compound)}",
                     "status": "released" if day is not None else "not released",
                     "release_day": int(day) if day is not None else None})
    return rows


def release_summary(frame: pd.DataFrame, start: date, horizon_day: int) -> dict:
    """Quantiles of the release date of one zone over runs ('never sealed' counts as released on day 0)."""
    days = frame["release_day"].astype("float64").to_numpy().copy()
    days[frame["status"].to_numpy() == "never sealed"] = 0.0
    days[frame["status"].to_numpy() == "not released"] = np.inf
    quantiles = np.quantile(days, RELEASE_QUANTILES, method="inverted_cdf") if days.size else []

    def as_date(value: float) -> str | None:
        return str(start + timedelta(days=int(value))) if np.isfinite(value) else None

    return {
        "runs": int(days.size),
        "probability_released_within_horizon": float(np.isfinite(days).mean()) if days.size else None,
        "status_counts": {str(k): int(v) for k, v in frame["status"].value_counts().items()},
        "quantiles": {f"q{round(q * 100):02d}": as_date(v) for q, v in zip(RELEASE_QUANTILES, quantiles)},
        "horizon_end": str(start + timedelta(days=horizon_day - 1)),
    }


def _release_sentence(what: str, summary: dict) -> str:
    q = summary["quantiles"]
    counts = summary["status_counts"]
    if counts.get("never sealed", 0) == summary["runs"]:
        return (f"No run puts anyone in {what} under a sealed or controlled zone, so there is no release to forecast "
                f"(the scenario has no zoning, or the outbreak never triggers it).")
    end = summary["horizon_end"]
    if q.get("q80") is None:
        share = summary["probability_released_within_horizon"] or 0.0
        detail = f" (5% of runs by {q['q05']}, half by {q['q50']})" if q.get("q50") is not None else ""
        return (f"{what.capitalize()} is released by the end of the horizon ({end}) with only "
                f"{100 * share:.0f}% probability{detail}.")
    upper = q["q95"] if q["q95"] is not None else f"after {end}"
    return f"{what.capitalize()} is released by {q['q80']} with 80% probability (90% interval {q['q05']} – {upper})."


def release_sentences(city: dict, lockdown: dict | None, districts: dict[str, dict]) -> list[str]:
    """The release sentences of a forecast: the city; the citywide lockdown and the last district only
    when they add something (a date the city's sentence does not already give).

    Parameters
    ----------
    city, lockdown : :func:`release_summary` of the city and of the citywide lockdown (None: no run has one)
    districts : district name -> its :func:`release_summary`
    """
    sentences = [_release_sentence("the city", city)]
    if lockdown is not None:
        if lockdown["quantiles"] == city["quantiles"]:  # the same dates: say so instead of repeating the sentence
            sentences.append("The citywide lockdown (in runs that have one) is lifted on the same dates.")
        else:
            sentences.append(_release_sentence("the citywide lockdown", lockdown).replace(
                "The citywide lockdown is released", "The citywide lockdown (in runs that have one) is lifted"))
    late = [(d["quantiles"]["q80"], name) for name, d in districts.items()
            if d["status_counts"].get("never sealed", 0) < d["runs"]]
    if late:
        unreleased = [name for when, name in late if when is None]
        if unreleased:
            sentences.append(f"Districts not released by the end of the horizon with 80% probability: "
                             f"{', '.join(unreleased)}.")
        else:
            when, name = max(late)
            if when != city["quantiles"].get("q80"):  # the same date as the city's: nothing new to say
                sentences.append(f"The last district to be released is {name}, by {when} with 80% probability.")
    return sentences


def _interval(values: np.ndarray) -> dict:
    q05, q50, q95 = np.quantile(values, (0.05, 0.5, 0.95))
    return {"q05": float(q05), "q50": float(q50), "q95": float(q95), "mean": float(np.mean(values))}


def _count(value: float) -> str:
    return f"{value:,.0f}"


# -- the forecast ----------------------------------------------------------------------------------
@dataclass
class ForecastResult:
    """What :func:`forecast` produced."""

    out_dir: Path
    release_dates: pd.DataFrame
    quantiles: pd.DataFrame
    info: dict
    summary: list[str]
    figures: list[Path] = field(default_factory=list)
    calibration_dir: Path | None = None


def load_calibration(directory: str | Path) -> tuple[dict, pd.DataFrame, pd.DataFrame | None]:
    """calibration.json, posterior.parquet and (if present) posterior_trajectories.parquet of a calibration."""
    directory = Path(directory)
    for name in ("calibration.json", "posterior.parquet"):
        if not (directory / name).is_file():
            raise RunDirError(f"--posterior: '{directory}' holds no {name}; give a directory written by "
                              f"zerosim calibrate")
    try:
        info = json.loads((directory / "calibration.json").read_text(encoding="utf-8"))
        posterior = pd.read_parquet(directory / "posterior.parquet")
        path = directory / "posterior_trajectories.parquet"
        trajectories = pd.read_parquet(path) if path.is_file() else None
    except (OSError, ValueError) as error:
        raise RunDirError(f"--posterior: cannot read '{directory}' ({error.__class__.__name__}); "
                          f"calibrate again") from None
    return info, posterior, trajectories


def _forecast_model(scenario, overrides, info: dict, settings: Settings):
    """The particle model of the forecast scenario at the calibration's scale, window and priors."""
    from zerosim.io.scenario import Scenario, load_scenario, validate_mapping

    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, dict(overrides or {}))
    population = int(info["scale"]["population"])
    if settings.population is not None and settings.population != population:
        raise ScenarioError(f"--population: the posterior was fitted with {population:,} agents, got "
                            f"{settings.population:,}; forecast at the calibration's scale (omit --population)")
    data = base.model_dump(mode="json")
    data["population"]["size"] = population
    resolved = validate_mapping(data)
    start = date.fromisoformat(info["start_date"])
    if resolved.start_date != start:
        raise ScenarioError(f"scenario: start_date is {resolved.start_date} but the posterior was fitted with "
                            f"start_date {start}; use the same start_date")
    until = date.fromisoformat(info["fit_window"]["until"])
    if settings.until is not None and settings.until != until:
        raise ScenarioError(f"--until: the posterior was conditioned on data up to {until}, got {settings.until}; "
                            f"give --until {until} or calibrate again on data up to {settings.until}")
    if info["fit_window"]["until_day"] >= resolved.duration_days - 1:
        raise ScenarioError(f"--until: {until} is the scenario's last day; there is nothing to forecast; "
                            f"lengthen duration_days")
    priors = [Prior(p["path"], p["distribution"], float(p["a"]), float(p["b"]), bool(p["integer"]))
              for p in info["priors"]]
    resolve_priors(priors, data)
    model = ParticleModel(scenario_data=data, priors=tuple(priors), observe=info["observe"],
                          first_day=int(info["fit_window"]["first_day"]), until_day=int(info["fit_window"]["until_day"]),
                          calibration_seed=int(info["seed"]), threads=settings.threads)
    return resolved, model, until


def forecast(
    scenario,
    data,
    settings: Settings,
    *,
    runs: int,
    out: str | Path,
    posterior: str | Path | None = None,
    overrides: dict | None = None,
    force: bool = False,
    figures: bool = True,
    on_event: Callable[..., None] | None = None,
) -> ForecastResult:
    """Condition on the data up to ``settings.until`` (calibrating first unless ``posterior`` is given),
    run ``runs`` posterior draws to the end of the scenario, and write the forecast into ``out``.

    ``on_event(kind, **info)``: the calibration's events, then ``forecast`` (runs), ``run`` (done, total),
    ``writing``.
    """
    if runs < 1:
        raise ScenarioError(f"--runs: must be >= 1, got {runs}; give the number of posterior draws")
    out_dir = prepare_out_dir(out, force, FORECAST_FILES, "a forecast")
    calibration_dir = None
    if posterior is None:
        if settings.until is None:
            raise ScenarioError("--until: required without --posterior; give the last date of data to condition on")
        calibration_dir = out_dir / "calibration"
        calibrate(scenario, data, settings, out=calibration_dir, overrides=overrides, force=force, figures=figures,
                  on_event=on_event)
        posterior = calibration_dir
    info, particles, trajectories = load_calibration(posterior)
    resolved, model, until = _forecast_model(scenario, overrides, info, settings)
    observed = load_observed(data)
    scale = Scale(int(info["scale"]["population"]), int(info["scale"]["city_population"]))

    # -- draws, by weight ----------------------------------------------------------------------------
    rng = np.random.default_rng(np.random.SeedSequence([int(settings.seed), 20221]))
    weights = particles["weight"].to_numpy(dtype=np.float64)
    chosen = rng.choice(len(particles), size=runs, replace=True, p=weights / weights.sum())
    seen: set[int] = set()
    draws = []
    seeds = particles["seed"].to_numpy(dtype=np.int64)  # column-wise: a row would turn the seed into a float
    numbers = particles["particle"].to_numpy(dtype=np.int64)
    for draw, index in enumerate(chosen):
        values = {prior.path: prior.cast(float(particles[prior.path].iloc[int(index)])) for prior in model.priors}
        seed = int(seeds[index])
        branch = draw_seed(seed, draw) if int(index) in seen else None  # a repeat: same past, new future
        seen.add(int(index))
        draws.append({"run": draw, "particle": int(numbers[index]), "seed": seed, "branch_seed": branch,
                      "values": values})
    if on_event:
        on_event("forecast", runs=runs)
    started = time.perf_counter()
    results = _run_all(model, draws, settings, on_event)
    wall_seconds = time.perf_counter() - started
    if on_event:
        on_event("writing")
    return _write_forecast(out_dir, resolved, model, scale, until, observed, info, draws, results, trajectories,
                           wall_seconds, figures, Path(posterior), calibration_dir)


def _run_all(model: ParticleModel, draws: list[dict], settings: Settings, on_event) -> list[dict]:
    """Run every draw: in this process, or as Dask tasks (``--workers`` > 1 or ``--scheduler``)."""
    total = len(draws)
    if not uses_dask(settings):
        results = []
        for done, draw in enumerate(draws, start=1):
            results.append(run_draw(model, draw["values"], draw["seed"], draw["branch_seed"]))
            if on_event:
                on_event("run", done=done, total=total)
        return results
    from dask.distributed import as_completed

    with dask_client(settings) as (client, _):
        futures = {client.submit(run_draw, model, draw["values"], draw["seed"], draw["branch_seed"], pure=False,
                                 retries=1): index for index, draw in enumerate(draws)}
        results: list = [None] * total
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            if on_event:
                on_event("run", done=done, total=total)
    return results


def _write_forecast(out_dir: Path, scenario, model: ParticleModel, scale: Scale, until: date, observed, info: dict,
                    draws: list[dict], results: list[dict], trajectories, wall_seconds: float, figures: bool,
                    posterior_dir: Path, calibration_dir: Path | None) -> ForecastResult:
    start = scenario.start_date
    until_day = model.until_day
    days = results[0]["days"]
    factor = scale.factor

    # release dates
    rows = []
    for draw, result in zip(draws, results):
        for row in release_rows(result, until_day):
            rows.append({"run": draw["run"], "particle": draw["particle"], "seed": draw["seed"], **row})
    releases = pd.DataFrame(rows)
    releases["release_day"] = releases["release_day"].astype("Int32")
    releases["release_date"] = pd.to_datetime([
        pd.Timestamp(start) + pd.Timedelta(days=int(d)) if pd.notna(d) else pd.NaT for d in releases["release_day"]
    ]).astype("datetime64[ms]")
    releases = releases.astype({"run": "int32", "particle": "int32", "seed": "int64", "zone_id": "int32",
                                "scope": "string", "zone_name": "string", "status": "string"})

    # daily quantiles (whole-city counts)
    stacked = {name: np.vstack([r["series"][name] for r in results]) / factor for name in DAILY_SERIES}
    dates = (np.datetime64(start, "D") + np.arange(days).astype("timedelta64[D]")).astype("datetime64[ms]")
    frames = []
    for q in QUANTILES:
        frame = pd.DataFrame({"day": np.arange(days, dtype=np.int32), "date": dates, "quantile": q})
        for name, values in stacked.items():
            frame[name] = np.quantile(values, q, axis=0)
        frames.append(frame)
    quantiles = pd.concat(frames, ignore_index=True).sort_values(["day", "quantile"]).reset_index(drop=True)

    # to come (after --until), whole-city counts
    after = slice(until_day + 1, days)
    to_come = {
        "reported_cases": _interval(stacked["reported_cases"][:, after].sum(axis=1)),
        "infections": _interval(stacked["new_infections"][:, after].sum(axis=1)),
        "deaths": _interval(stacked["new_deaths"][:, after].sum(axis=1)),
    }
    for name in LEDGER_TO_COME:
        to_come[name] = _interval(np.array([r["ledger"][name][after].sum() for r in results]) / factor)

    # the particle's past is reproduced exactly (the conditioning), when its trajectory was kept
    reproduced = None
    if trajectories is not None and not trajectories.empty:
        stored = {p: g.sort_values("day")["model_count"].to_numpy() for p, g in trajectories.groupby("particle")}
        checks = [np.array_equal(stored[d["particle"]], r["series"]["observed_model"][:until_day + 1])
                  for d, r in zip(draws, results) if d["particle"] in stored]
        reproduced = float(np.mean(checks)) if checks else None

    city = release_summary(releases[releases["scope"] == "city"], start, days)
    districts = {}
    for name, group in releases[releases["scope"] == "district"].groupby("zone_name", sort=False):
        districts[str(name)] = release_summary(group, start, days)
    lockdown = None
    if (releases["scope"] == "city_lockdown").any():
        lockdown_rows = releases[releases["scope"] == "city_lockdown"]
        lockdown = release_summary(lockdown_rows, start, days)
        lockdown["share_of_runs_with_a_citywide_lockdown"] = lockdown_rows["run"].nunique() / len(draws)
    summary = release_sentences(city, lockdown, districts)
    compounds = releases[releases["scope"] == "compound"]
    sealed_info = {"compounds_sealed_on_until_median": float(compounds.groupby("run").size()
                                                             .reindex(range(len(draws)), fill_value=0).median())}
    if not compounds.empty:
        sealed_info["share_released_within_horizon"] = float((compounds["status"] == "released").mean())
    end = start + timedelta(days=days - 1)
    cases = to_come["reported_cases"]
    deaths = to_come["deaths"]
    summary.append(f"After {until}, {_count(cases['q50'])} more reported cases are expected to {end} (median; 90% "
                   f"interval {_count(cases['q05'])} – {_count(cases['q95'])}), and {_count(deaths['q50'])} deaths "
                   f"(90% interval {_count(deaths['q05'])} – {_count(deaths['q95'])}).")
    confined = to_come["confined_person_days"]
    income = to_come["income_lost_cny"]
    summary.append(f"Confinement still to come: {_count(confined['q50'])} person-days (median; 90% interval "
                   f"{_count(confined['q05'])} – {_count(confined['q95'])}); income lost {money(income['q50'])} "
                   f"(median).")
    scaled = "" if scale.factor == 1 else f"; counts are scaled to the whole city ({scale.city_population:,} people)"
    summary.append(f"Simulated at {scale.label()}{scaled}; {len(draws)} runs drawn from the posterior in "
                   f"{posterior_dir}.")

    info_out = {
        "scenario": scenario.name,
        "data": observed.source,
        "until": str(until),
        "until_day": until_day,
        "horizon_end": str(end),
        "runs": len(draws),
        "posterior": str(posterior_dir),
        "calibration": str(calibration_dir) if calibration_dir is not None else None,
        "observe": model.observe,
        "scale": scale.as_dict(),
        "counts": "whole city (model counts divided by the scale factor)",
        "conditioning": "each run re-runs a posterior particle (drawn by weight) with its own seed: its past up to "
                        "--until is the trajectory ABC accepted; repeated draws of a particle get a new future",
        "past_reproduced_fraction": reproduced,
        "city_release": city,
        "city_release_definition": "first day from which nobody in the city is in a sealed or controlled zone "
                                   "until the end of the run",
        "citywide_lockdown_release": lockdown,
        "district_release": districts,
        "compounds_sealed_on_until": sealed_info,
        "to_come": to_come,
        "to_come_definition": f"totals over the days after {until} to {end}",
        "summary": summary,
        "wall_time_seconds": round(wall_seconds, 2),
        "posterior_parameters": info.get("posterior", {}),
        "warnings": scale_warnings(scenario, scale),
    }
    try:
        releases.to_parquet(out_dir / "release_dates.parquet", index=False)
        quantiles.to_parquet(out_dir / "forecast.parquet", index=False)
        (out_dir / "forecast.json").write_text(json.dumps(info_out, indent=2, default=str) + "\n")
    except OSError as error:
        raise OutputError(f"--out: writing the forecast to '{out_dir}' failed ({error.strerror}); check the disk") \
            from None
    result = ForecastResult(out_dir, releases, quantiles, info_out, summary, calibration_dir=calibration_dir)
    if figures:
        from zerosim.viz.inference_figures import fan_chart

        city_dates = releases[releases["scope"] == "city"].set_index("run")["release_date"]
        result.figures.append(fan_chart(
            quantiles, observed.cases, until, city_dates, end,
            title=f"{scenario.name}: forecast from {until}",
            subtitle=f"{len(draws)} posterior runs · simulated at {scale.label()} · counts for the whole city",
            sentence=summary[0], path=out_dir / "fan_chart.png"))
    return result
