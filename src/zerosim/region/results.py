"""Region layer: run a region scenario and write its outputs.

Layer ``region`` -- uses ``zerosim.api`` for each city's contract files, ``io`` for the run-directory
rules and ``viz`` for the region figure.

A region run directory holds ``summary.json`` (per-city totals, region totals, the travel ledger,
memory), ``region_timeseries.parquet`` (day x city: cases, travellers in and out, diverted,
stranded, arrival quarantine), ``travel_flows.parquet`` (day x line: planned, departed, infected,
diverted, turned away, blocked, origin prevalence), ``scenario.yaml`` (the resolved region),
``region.png`` and ``cities/<name>/`` with each city's ordinary outputs (summary.json,
timeseries.parquet, by_district.parquet, ...).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zerosim.errors import OutputError
from zerosim.region.config import RegionScenario, load_region, validate_region
from zerosim.region.runner import DAILY_KEYS, Region, memory_estimate


@dataclass
class RegionResults:
    """What a region run produced, in memory; ``out_dir`` is set when written."""

    scenario: RegionScenario
    summary: dict
    timeseries: pd.DataFrame
    flows: pd.DataFrame
    cities: dict[str, Any] = field(default_factory=dict)  # name -> zerosim.io.results.Results
    out_dir: Path | None = None
    figures: list[Path] = field(default_factory=list)


def _region_overrides(overrides: Mapping[str, Any] | None) -> dict:
    """CLI overrides for a region: ``population.size`` (from --population) becomes ``population_total``."""
    result = dict(overrides or {})
    if "population.size" in result:
        result["population_total"] = result.pop("population.size")
    return result


def prepare(scenario: RegionScenario | str | Path, overrides: Mapping[str, Any] | None = None) -> RegionScenario:
    """A validated region from a RegionScenario, a built-in name or a file, with dotted overrides."""
    overrides = _region_overrides(overrides)
    if isinstance(scenario, RegionScenario):
        if not overrides:
            return scenario
        from zerosim.io.scenario import apply_overrides

        return apply_overrides(scenario, overrides, validate=validate_region)
    return load_region(scenario, overrides)


def preflight(region: RegionScenario) -> None:
    """Checks before any work: every city resolves (sizes within what the region supports) and fits in memory."""
    from zerosim.population.synthesis import check_fits_in_memory
    from zerosim.region.runner import resolve_cities

    check_fits_in_memory(sum(city.scenario.population.size for city in resolve_cities(region)))


def run_region(
    scenario: RegionScenario | str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    force: bool = False,
    figures: bool | None = None,
    on_phase: Callable[[str], None] | None = None,
    on_day: Callable[[int], None] | None = None,
) -> RegionResults:
    """Run a region scenario; write its outputs to ``out`` when given (checked before any work)."""
    from contextlib import nullcontext

    from zerosim.io.results import exclusive, prepare_out_dir, write_atomic

    scenario = prepare(scenario, overrides)
    preflight(scenario)
    out_dir = prepare_out_dir(out, force) if out is not None else None
    with exclusive(out_dir) if out_dir is not None else nullcontext():  # one writer per --out at a time
        if out_dir is not None:
            write_atomic(out_dir / "scenario.yaml", lambda path: path.write_text(scenario.to_yaml()))
        return _run_region(scenario, out_dir, figures, force, on_phase, on_day)


def _run_region(scenario: RegionScenario, out_dir: Path | None, figures, force, on_phase, on_day) -> RegionResults:
    started = time.perf_counter()
    region = Region(scenario, on_phase=on_phase)
    build_seconds = time.perf_counter() - started
    if on_phase:
        on_phase("simulating")
    clock = time.perf_counter()
    region.run(on_day)
    simulation_seconds = time.perf_counter() - clock
    return finish(region, out_dir, figures, on_phase, build_seconds, simulation_seconds, force)


def finish(region: Region, out_dir: Path | None, figures: bool | None, on_phase, build_seconds: float,
           simulation_seconds: float, force: bool = False) -> RegionResults:
    """Per-city results and files, then the region's tables, summary and figure."""
    from zerosim import __version__
    from zerosim.api import finish_run, git_revision
    from zerosim.io.results import prepare_out_dir

    scenario = region.scenario
    write_figures = figures if figures is not None else scenario.outputs.figures
    if on_phase and out_dir is not None:
        on_phase("writing results")
    cities = {}
    for city in region.cities:
        city_dir = prepare_out_dir(out_dir / "cities" / city.name, force) if out_dir is not None else None
        results = finish_run(city.resolved.scenario, city.simulation, city.timing, city_dir,
                             figures=write_figures and scenario.outputs.city_figures)
        _fix_city_summary(results, city)
        if city_dir is not None:
            _write_json(city_dir / "summary.json", results.summary)
        cities[city.name] = results
    timeseries = pd.DataFrame(region.records)
    flows = pd.DataFrame(region.flows)
    if flows.empty:
        flows = pd.DataFrame({c: [] for c in ("day", "origin", "destination", "mode", "planned", "departed",
                                              "infected", "arrived_at", "diverted_to", "diverted", "turned_away", "blocked",
                                              "predeparture_positives", "origin_prevalence")})
    summary = region_summary(region, cities, timeseries, flows, build_seconds, simulation_seconds)
    summary.update({"scenario_hash": scenario.digest(), "zerosim_version": __version__, "git_revision": git_revision()})
    result = RegionResults(scenario, summary, timeseries, flows, cities)
    if out_dir is not None:
        try:
            for name, frame in (("region_timeseries.parquet", timeseries), ("travel_flows.parquet", flows)):
                temporary = out_dir / (name + ".tmp")
                frame.to_parquet(temporary, index=False)
                os.replace(temporary, out_dir / name)
            (out_dir / "scenario.yaml").write_text(scenario.to_yaml())
            _write_json(out_dir / "summary.json", summary)
        except OSError as error:
            raise OutputError(f"--out: writing the region to '{out_dir}' failed ({error.strerror}); check the disk") from None
        result.out_dir = out_dir
        if write_figures:
            from zerosim.region.travel import city_table
            from zerosim.viz.region_figures import region_figure

            table = city_table()
            positions = {row.city: (row.longitude, row.latitude) for row in table.itertuples()}
            result.figures = [region_figure(timeseries, flows, summary, positions, out_dir / "region.png")]
    return result


def _write_json(path: Path, data: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    os.replace(temporary, path)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _fix_city_summary(results, city) -> None:
    """A city's summary counts its residents as its population (the visitor slots are not residents)."""
    summary = results.summary
    residents = city.residents
    summary["population"] = int(residents)
    summary["attack_rate"] = summary["infections"] / residents
    summary["region"] = {
        "visitor_slots": int(city.slots),
        "real_population": int(city.resolved.real_population),
        "scale_fraction": city.resolved.scale,
        "population_table": city.resolved.population_table,
        "population_table_is_stand_in": city.resolved.population_table_is_stand_in,
        "counts": "de facto: infections, deaths and compartments include visitors present and exclude residents away",
    }


def region_summary(region: Region, cities: dict, timeseries: pd.DataFrame, flows: pd.DataFrame,
                   build_seconds: float, simulation_seconds: float) -> dict:
    """summary.json of a region: per-city totals, region totals and the travel ledger."""
    scenario = region.scenario
    per_city = {}
    for city in region.cities:
        s = cities[city.name].summary
        rows = timeseries[timeseries["city"] == city.name] if not timeseries.empty else timeseries
        travel = {key: int(rows[key].sum()) for key in DAILY_KEYS} if len(rows) else {}
        per_city[city.name] = {
            "population": s["population"], "real_population": city.resolved.real_population,
            "scale_fraction": round(city.resolved.scale, 6), "visitor_slots": city.slots,
            "population_table": city.resolved.population_table,
            "population_table_is_stand_in": city.resolved.population_table_is_stand_in,
            "seed": city.resolved.scenario.seed, "policy": city.resolved.scenario.policy,
            "infections": s["infections"], "attack_rate": s["attack_rate"], "deaths": s["deaths"],
            "cases_detected": s.get("cases_detected", 0), "peak_infectious": s["peak_infectious"],
            "peak_infectious_day": s["peak_infectious_day"], "city_sealed_days": s.get("city_sealed_days", 0),
            "travel": travel,
            "stranded_visitor_days": int(rows["stranded_visitors"].sum()) if len(rows) else 0,
            "residents_away_person_days": int(rows["residents_away"].sum()) if len(rows) else 0,
        }
    scale = {city.name: city.resolved.scale for city in region.cities}
    has_rows = not timeseries.empty

    def total(column: str) -> float:
        return float(timeseries[column].sum()) if has_rows else 0.0

    diverted = flows[flows["diverted"] > 0] if not flows.empty else flows
    diverted_real = float((diverted["diverted"] / diverted["origin"].map(scale)).sum()) if len(diverted) else 0.0
    departures_real = float((flows["departed"] / flows["origin"].map(scale)).sum()) if not flows.empty else 0.0
    travel = {key: int(total(key)) for key in DAILY_KEYS}
    travel.update({
        "departures_real_equivalent": round(departures_real, 1),
        "diverted_trips": int(flows["diverted"].sum()) if not flows.empty else 0,
        "diverted_trips_real_equivalent": round(diverted_real, 1),
        "stranded_person_days": int(total("stranded_visitors")),
        "away_person_days": int(total("residents_away")),
        "arrival_quarantine_central_person_days": int(total("arrival_quarantine_central")),
        "arrival_quarantine_home_person_days": int(total("arrival_quarantine_home")),
        "arrival_quarantine_cny": round(total("arrival_quarantine_cny"), 2),
        "travel_tests_cny": round(total("travel_tests_cny"), 2),
        "units": "simulated agents (an agent of city c stands for 1/scale_fraction[c] people); "
                 "*_real_equivalent divide by the origin's scale",
        "cost_rates": {"central_quarantine_cny_per_person_day": scenario.costs.central_quarantine_cny_per_person_day,
                       "international_quarantine_cny_per_person_day":
                           scenario.costs.international_quarantine_cny_per_person_day,
                       "test_cny": region.test_cny},
    })
    memory = memory_estimate([c.residents for c in region.cities], [c.slots for c in region.cities])
    measured = sum(c.state.nbytes() + c.metadata_bytes() for c in region.cities)
    memory["measured_bytes_per_agent"] = round(measured / max(memory["residents"], 1), 1)
    reduced = [name for name, c in per_city.items() if c["scale_fraction"] < 1]
    stand_ins = [name for name, c in per_city.items() if c["population_table_is_stand_in"]]
    notes = []
    if reduced:
        notes.append("reduced scale: " + ", ".join(f"{n} {per_city[n]['scale_fraction']:.4g}" for n in reduced))
    if stand_ins:
        notes.append("district table stand-in: " + ", ".join(f"{n} uses {per_city[n]['population_table']}"
                                                             for n in stand_ins))
    if travel["arrivals_refused_no_slot"]:
        notes.append(f"{travel['arrivals_refused_no_slot']} arrivals refused for lack of visitor slots; "
                     f"raise cities.N.visitor_slots")
    return {
        "scenario": scenario.name, "kind": "region", "seed": scenario.seed, "days": scenario.duration_days,
        "start_date": scenario.start_date.isoformat() if scenario.start_date else None,
        "cities_count": len(region.cities),
        "population": int(sum(c["population"] for c in per_city.values())),
        "real_population": int(sum(c["real_population"] for c in per_city.values())),
        "infections": int(sum(c["infections"] for c in per_city.values())),
        "deaths": int(sum(c["deaths"] for c in per_city.values())),
        "cases_detected": int(sum(c["cases_detected"] for c in per_city.values())),
        "attack_rate": sum(c["infections"] for c in per_city.values()) / max(sum(c["population"] for c in per_city.values()), 1),
        "cities": per_city,
        "travel": travel,
        "memory": memory,
        "notes": notes,
        "build_seconds": round(build_seconds, 3),
        "simulation_seconds": round(simulation_seconds, 3),
        "runtime_seconds": round(build_seconds + simulation_seconds, 3),
    }


# -- ensembles ------------------------------------------------------------------------------------------
ENSEMBLE_SERIES = ("new_infections", "infectious", "new_deaths", "cases_detected")


def region_replicate(scenario_data: dict, overrides: dict, seed: int, point: int, replicate: int) -> dict:
    """One Dask task of a region ensemble: summary scalars, and a per-day table of region totals
    (the ensemble's band series) plus per-city and travel columns (``new_infections:Beijing``, ...)."""
    from zerosim.io.scenario import apply_overrides

    results = run_region(apply_overrides(scenario_data, {**overrides, "seed": seed}, validate=validate_region),
                         figures=False)
    summary = {key: value for key, value in results.summary.items() if np.isscalar(value) and value is not None}
    summary.update({f"travel.{k}": v for k, v in results.summary["travel"].items() if np.isscalar(v)})
    for name, city in results.summary["cities"].items():
        summary[f"infections:{name}"] = city["infections"]
    summary.update({"sweep": point, "replicate": replicate})
    frame = results.timeseries
    totals = frame.groupby("day")[list(ENSEMBLE_SERIES) + ["diverted_in", "stranded_visitors",
                                                            "arrival_quarantine_central", "arrivals_infected"]].sum()
    wide = frame.pivot(index="day", columns="city", values="new_infections")
    wide.columns = [f"new_infections:{c}" for c in wide.columns]
    series = totals.join(wide).reset_index().assign(sweep=point, replicate=replicate)
    return {"summary": summary, "timeseries": series}
