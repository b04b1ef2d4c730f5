"""Regions (issue 7): several cities stepped together, travellers as agents, policies on the lines."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import zerosim
from zerosim.errors import ScenarioError
from zerosim.population.state import Mobility
from zerosim.region.config import load_region, validate_region
from zerosim.region.results import finish, run_region
from zerosim.region.runner import OCCUPIED, Region, city_scenarios, plan_memory

#: A small infected city and small infection-free ones, all on Shanghai's district table (a stand-in).
INFECTED = {"extends": "demo", "seeding": [{"day": 0, "count": 40}], "policy": "none"}
CLEAN = {"extends": "demo", "seeding": [], "policy": "none"}


def _region(cities: list[dict], **fields) -> dict:
    data = {"kind": "region", "name": "test-region", "seed": 3, "duration_days": 20,
            "travel": {"shipped_lines": False, "lines": []}, "cities": cities}
    data.update(fields)
    return data


def _city(name: str, size: int, scenario: dict, **fields) -> dict:
    return {"name": name, "population_size": size, "population_city": "shanghai", "scenario": scenario, **fields}


def _counts_add_up(region: Region) -> None:
    """Every resident is counted exactly once in the region: at home, or as a visitor somewhere."""
    counted = sum(int(city.state.count_by_district.sum()) for city in region.cities)
    imported = sum(int(((city.flags & OCCUPIED) != 0)[city.home_city < 0].sum()) for city in region.cities)
    assert counted == sum(city.residents for city in region.cities) + imported
    for city in region.cities:
        assert (city.state.count_by_district >= 0).all()


def test_shipped_travel_table_is_its_derivation():
    from zerosim.region.travel import derive_travel_table, shipped_travel_table

    shipped = shipped_travel_table()
    pd.testing.assert_frame_equal(shipped, derive_travel_table(), check_dtype=False)
    assert {"rail", "air", "road"} == set(shipped["mode"])
    assert set(shipped["origin"]) == {"Beijing", "Shanghai", "Shijiazhuang", "Chongqing", "Lhasa", "Wuhan", "Xian"}
    both = shipped.merge(shipped, left_on=["origin", "destination", "mode"], right_on=["destination", "origin", "mode"])
    assert (both["trips_per_day_x"] == both["trips_per_day_y"]).all()  # a trip out, a trip back


def test_no_travel_each_city_evolves_as_alone(tmp_path):
    data = _region([_city("Alpha", 3000, INFECTED), _city("Beta", 2500, {**INFECTED, "seeding": [{"day": 2, "count": 5}]})],
                   travel={"shipped_lines": False, "volume_multiplier": 0.0,
                           "lines": [{"origin": "Alpha", "destination": "Beta", "mode": "rail", "trips_per_day": 1e6}]})
    region = validate_region(data)
    out = tmp_path / "region"
    from zerosim.cli.app import app

    path = tmp_path / "region.yaml"
    path.write_text(region.to_yaml())
    done = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-figures", "--quiet"])
    assert done.exit_code == 0, done.output
    for name, scenario in city_scenarios(region).items():
        alone = zerosim.run(scenario, figures=False)
        together = pd.read_parquet(out / "cities" / name / "timeseries.parquet")
        pd.testing.assert_frame_equal(together, alone.timeseries)
        assert alone.summary["infections"] > 10
        with open(out / "cities" / name / "summary.json") as handle:
            assert json.load(handle)["infections"] == alone.summary["infections"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["travel"]["departures"] == 0 and summary["cities"]["Beta"]["visitor_slots"] == 0
    table = pd.read_parquet(out / "region_timeseries.parquet")
    assert len(table) == 2 * region.duration_days and {"city", "day", "arrivals", "stranded_visitors"} <= set(table)


def test_entry_ban_diverts_passengers_to_the_diversion_city():
    data = _region(
        [_city("Lhasa", 3000, INFECTED), _city("Beijing", 3000, CLEAN), _city("Shijiazhuang", 2500, CLEAN)],
        travel={"shipped_lines": False, "stay_days_mean": 3,
                "lines": [{"origin": "Lhasa", "destination": "Beijing", "mode": "rail", "trips_per_day": 2e5},
                          {"origin": "Lhasa", "destination": "Beijing", "mode": "air", "trips_per_day": 1e5},
                          {"origin": "Lhasa", "destination": "Shijiazhuang", "mode": "rail", "trips_per_day": 5e4},
                          {"origin": "Beijing", "destination": "Shijiazhuang", "mode": "rail", "trips_per_day": 1e6}]},
        policies={"entry_bans": [{"city": "Beijing", "origins": "with_cases",
                                  "trigger": {"cases": 1, "window_days": 14, "measure": "infections"}}],
                  "diversions": [{"barred_destination": "Beijing", "diversion_city": "Shijiazhuang", "modes": ["rail"],
                                  "quarantine": {"central_days": 5, "home_days": 2, "test_on_arrival": True}}]},
    )
    region = Region(validate_region(data))
    lhasa, beijing, shijiazhuang = region.cities
    for day in range(region.scenario.duration_days):
        region.step(day)
        _counts_add_up(region)
        # nobody from Lhasa ever sits in a Beijing visitor slot
        occupied = (beijing.flags & OCCUPIED) != 0
        assert not (occupied & (beijing.origin == 0)).any()
        # a traveller is one agent: his row is in the slot, his home row is parked (away, out of the counts)
        slots = np.flatnonzero(((shijiazhuang.flags & OCCUPIED) != 0) & (shijiazhuang.home_city == 0))
        homes = shijiazhuang.home_row[slots]
        assert (lhasa.state.mobility[homes] == Mobility.AWAY).all()
        assert (lhasa.state.age[homes] == shijiazhuang.state.age[shijiazhuang.residents + slots]).all()
    result = finish(region, None, False, None, 0.0, 0.0)
    flows = result.flows
    lhasa_out = flows[flows["origin"] == "Lhasa"]
    assert lhasa_out.loc[lhasa_out["arrived_at"] == "Beijing", "departed"].sum() == 0
    rail = lhasa_out[(lhasa_out["destination"] == "Beijing") & (lhasa_out["mode"] == "rail")]
    assert rail["diverted"].sum() > 20 and (rail["diverted"] == rail["departed"]).all()
    assert set(rail.loc[rail["diverted"] > 0, "diverted_to"]) == {"Shijiazhuang"}
    air = lhasa_out[(lhasa_out["destination"] == "Beijing") & (lhasa_out["mode"] == "air")]
    assert air["turned_away"].sum() == air["planned"].sum() > 0
    table = result.timeseries
    shijiazhuang_rows = table[table["city"] == "Shijiazhuang"]
    assert shijiazhuang_rows["diverted_in"].sum() == rail["diverted"].sum() == result.summary["travel"]["diverted_trips"]
    assert shijiazhuang_rows["arrival_quarantine_central"].sum() > 0
    assert shijiazhuang_rows["arrival_tests"].sum() >= shijiazhuang_rows["diverted_in"].sum()
    assert result.summary["travel"]["stranded_person_days"] > 0
    # travellers carry their state: the infected diverted passengers arrived infected
    assert shijiazhuang_rows["diverted_in_infected"].sum() > 0
    # people went home and came back with their course
    assert table.loc[table["city"] == "Beijing", "returns_home"].sum() > 0


@pytest.mark.statistical
def test_importation_rate_is_volume_times_origin_prevalence():
    data = _region(
        [_city("Wuhan", 4000, {**INFECTED, "seeding": [{"day": 0, "count": 60}]}), _city("Xian", 3000, CLEAN),
         _city("Chongqing", 3000, CLEAN)],
        duration_days=24,
        travel={"shipped_lines": False, "stay_days_mean": 2,
                "lines": [{"origin": "Wuhan", "destination": "Xian", "mode": "rail", "trips_per_day": 2.5e5}]},
        importation=[{"city": "Chongqing", "arrivals_per_day": 2e5, "prevalence_fraction": 0.1, "central_days": 3,
                      "home_days": 0}],
    )
    result = run_region(validate_region(data), figures=False)
    flows = result.flows[result.flows["departed"] > 0]
    observed = flows["infected"].sum()
    p = flows["origin_prevalence"]
    expected = (flows["departed"] * p).sum()
    sd = math.sqrt((flows["departed"] * p * (1 - p)).sum())
    assert expected > 30, expected
    assert abs(observed - expected) <= 3.5 * sd, (observed, expected, sd)
    xian = result.timeseries[result.timeseries["city"] == "Xian"]
    assert xian["arrivals_infected"].sum() == observed
    assert result.summary["cities"]["Xian"]["infections"] > 0  # the imports started an outbreak
    chongqing = result.summary["cities"]["Chongqing"]["travel"]
    n, k = chongqing["imported"], chongqing["imported_infected"]
    assert n > 200 and abs(k - 0.1 * n) <= 3.5 * math.sqrt(n * 0.1 * 0.9), (n, k)


def test_diverted_train_example_infects_the_diversion_city(tmp_path):
    region = load_region("diverted-train", {
        "duration_days": 30, "cities.0.population_size": 4000, "cities.1.population_size": 5000,
        "cities.2.population_size": 4000, "travel.volume_multiplier": 10, "outputs.city_figures": False})
    result = run_region(region, out=tmp_path / "train")
    shijiazhuang = result.summary["cities"]["Shijiazhuang"]["travel"]
    assert shijiazhuang["diverted_in"] > 0 and shijiazhuang["diverted_in_infected"] > 0
    assert result.summary["cities"]["Lhasa"]["travel"]["diverted_out"] == shijiazhuang["diverted_in"]
    assert result.summary["travel"]["arrival_quarantine_cny"] > 0
    tables = {name: city["population_table"] for name, city in result.summary["cities"].items()}
    assert tables == {"Lhasa": "lhasa", "Beijing": "beijing", "Shijiazhuang": "shijiazhuang"}  # their own districts
    for name in ("summary.json", "region_timeseries.parquet", "travel_flows.parquet", "region.png", "scenario.yaml",
                 "cities/Shijiazhuang/summary.json", "cities/Shijiazhuang/timeseries.parquet",
                 "cities/Shijiazhuang/by_district.parquet"):
        assert (tmp_path / "train" / name).exists(), name


def test_bad_region_input_names_the_field(tmp_path):
    base = _region([_city("Alpha", 1000, CLEAN), _city("Beta", 1000, CLEAN)])
    cases = [
        ({"travel": {"lines": [{"origin": "Alpha", "destination": "Gamma", "mode": "rail", "trips_per_day": 5}]}},
         "travel.lines.0.destination"),
        ({"travel": {"lines": [{"origin": "Alpha", "destination": "Beta", "mode": "boat", "trips_per_day": 5}]}},
         "travel.lines.0.mode"),
        ({"policies": {"diversions": [{"barred_destination": "Alpha", "diversion_city": "Alpha"}]}},
         "policies.diversions.0.diversion_city"),
        ({"importation": [{"city": "Alpha", "arrivals_per_day": 1, "prevalence_fraction": 2}]},
         "importation.0.prevalence_fraction"),
        ({"cities": [_city("Alpha", 1000, CLEAN), _city("Alpha", 1000, CLEAN)]}, "cities"),
    ]
    for change, field in cases:
        with pytest.raises(ScenarioError) as error:
            validate_region({**base, **change})
        assert str(error.value).startswith(field) and "\n" not in str(error.value), str(error.value)
    with pytest.raises(ScenarioError, match="cities.0.real_population"):
        Region(validate_region(_region([{"name": "Atlantis", "scenario": CLEAN}])))
    path = tmp_path / "bad.yaml"
    path.write_text("kind: region\nname: bad\ncities:\n  - {name: Alpha, population_size: 1000, real_population: 5000}\n"
                    "travel: {lines: [{origin: Alpha, destination: Nowhere, mode: rail, trips_per_day: 1}]}\n")
    from zerosim.cli.app import app

    done = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert done.exit_code == 2
    assert "travel.lines.0.destination" in done.output and "Nowhere" in done.output


def test_five_city_region_of_50_million_fits_the_memory_budget():
    region = validate_region({"kind": "region", "population_total": 50_000_000,
                              "cities": [{"name": name, "population_city": "shanghai"}
                                         for name in ("Beijing", "Shanghai", "Shijiazhuang", "Wuhan", "Xian")],
                              "policies": {"arrival_quarantine": [{"city": "Beijing", "origins": "any",
                                                                   "central_days": 7, "home_days": 7}]}})
    estimate = plan_memory(region)
    assert abs(estimate["residents"] - 50_000_000) < 10
    assert estimate["bytes_per_agent"] <= 120, estimate


def test_same_seed_same_region():
    data = _region([_city("Wuhan", 2000, INFECTED), _city("Xian", 2000, CLEAN)], duration_days=12,
                   travel={"shipped_lines": False,
                           "lines": [{"origin": "Wuhan", "destination": "Xian", "mode": "air", "trips_per_day": 1e5},
                                     {"origin": "Xian", "destination": "Wuhan", "mode": "air", "trips_per_day": 1e5}]})
    first, second = (run_region(validate_region(data), figures=False) for _ in range(2))
    pd.testing.assert_frame_equal(first.timeseries, second.timeseries)
    pd.testing.assert_frame_equal(first.flows, second.flows)
    assert first.flows["departed"].sum() > 50


def test_region_ensemble_on_dask(tmp_path):
    from zerosim.cli.app import app

    out = tmp_path / "ens"
    done = CliRunner().invoke(app, ["ensemble", "diverted-train", "--runs", "2", "--population", "6000", "--days", "8",
                                    "--set", "cities.0.population_city=shanghai", "--set",
                                    "cities.1.population_city=shanghai", "--set", "cities.2.population_city=shanghai",
                                    "--out", str(out), "--workers", "2"])
    assert done.exit_code == 0, done.output
    summaries = pd.read_parquet(out / "summaries.parquet")
    assert len(summaries) == 2 and summaries["seed"].nunique() == 2 and (summaries["kind"] == "region").all()
    assert abs(summaries["population"].iloc[0] - 6000) <= 3
    series = pd.read_parquet(out / "replicates")
    assert {"new_infections", "new_infections:Lhasa", "diverted_in"} <= set(series.columns)
    assert (out / "quantiles.parquet").exists()
