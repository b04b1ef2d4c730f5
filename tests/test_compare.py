"""Comparing runs (io.compare) and the ledger figures (viz.ledger_figures), on synthetic run directories.

The run directories are written here by hand with the columns ``zerosim run`` writes, so these tests
depend only on the run-directory contract, not on a simulation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import zerosim
from zerosim.errors import OutputError, ZerosimError
from zerosim.io.compare import MAIN_COSTS, SUMMARY_MEASURES, compare_runs, format_table, headline, readable, write_comparison
from zerosim.viz import ledger_figures as lf

DISTRICTS = ("Pudong", "Minhang", "Baoshan", "Xuhui", "Jingan", "Huangpu")
SECTORS = ("retail", "catering", "manufacturing", "office", "logistics", "health", "public_service")
WORKER_TYPES = ("formal", "informal", "gig", "self_employed")
LEDGER_DAILY = (
    "confined_compound_person_days", "confined_home_person_days", "facility_person_days",
    "confined_after_ten_negatives_person_days", "food_shortfall_person_days", "households_without_food",
    "households_ran_out_new", "elderly_alone_ran_out_new", "income_lost_cny", "workers_kept_from_work", "stores",
    "stores_closed", "stores_failed", "store_demand_lost", "testing_cny", "testing_staff_hours", "testing_queue_hours",
    "dialysis_sessions_missed", "emergencies_without_care", "births_without_care", "chemotherapy_patient_days_missed",
    "excess_non_covid_deaths", "residents_under_pressure",
)
STORES = 4_000


def _wave(days: int, peak: float, width: float, total: float, integer: bool = False) -> np.ndarray:
    """A bell-shaped daily series that sums to ``total`` (exactly, in whole numbers when ``integer``)."""
    shape = np.exp(-0.5 * ((np.arange(days) - peak) / width) ** 2)
    if shape.sum() == 0 or total == 0:
        return np.zeros(days, dtype=np.int64 if integer else float)
    series = shape / shape.sum() * total
    if integer:
        return np.diff(np.r_[0, np.round(np.cumsum(series))]).astype(np.int64)
    return series


def make_run(
    root: Path, policy: str, *, infections: int, deaths: int, confined: float = 0.0, income: float = 0.0,
    food: float = 0.0, testing: float = 0.0, stores_failed: int = 0, excess: float = 0.0,
    population: int = 2_000_000, days: int = 60, seed: int = 3, scenario: str = "shanghai", name: str | None = None,
) -> Path:
    """Write a run directory of ``policy`` with the given totals; every ledger number is 0 when ``confined`` is 0."""
    rng = np.random.default_rng(seed)
    run_dir = root / (name or policy)
    run_dir.mkdir(parents=True)
    day = np.arange(days)
    contained = confined > 0
    daily = {
        "confined_compound_person_days": _wave(days, 30, 8, 0.5 * confined),
        "confined_home_person_days": _wave(days, 32, 8, 0.45 * confined),
        "facility_person_days": _wave(days, 28, 6, 0.05 * confined),
        "confined_after_ten_negatives_person_days": _wave(days, 36, 6, 0.1 * confined),
        "food_shortfall_person_days": _wave(days, 38, 5, food),
        "households_without_food": _wave(days, 38, 5, food / 2.6),
        "households_ran_out_new": _wave(days, 35, 5, food / 40, integer=True),
        "elderly_alone_ran_out_new": _wave(days, 35, 5, food / 400, integer=True),
        "income_lost_cny": _wave(days, 31, 9, income),
        "workers_kept_from_work": _wave(days, 31, 9, income / 180),
        "stores": np.full(days, STORES if contained else STORES, dtype=float),
        "stores_closed": np.minimum(_wave(days, 32, 9, 40 * STORES if contained else 0) , STORES),
        "stores_failed": np.minimum(np.cumsum(_wave(days, 40, 6, stores_failed, integer=True)), STORES),
        "store_demand_lost": np.minimum(_wave(days, 34, 10, 50 * STORES if contained else 0), STORES),
        "testing_cny": _wave(days, 25, 12, testing),
        "testing_staff_hours": _wave(days, 25, 12, testing / 60),
        "testing_queue_hours": _wave(days, 25, 12, testing / 4),
        "dialysis_sessions_missed": _wave(days, 31, 9, confined * 2e-5),
        "emergencies_without_care": _wave(days, 31, 9, confined * 1e-5),
        "births_without_care": _wave(days, 31, 9, confined * 3e-6),
        "chemotherapy_patient_days_missed": _wave(days, 31, 9, confined * 4e-5),
        "excess_non_covid_deaths": _wave(days, 31, 9, excess),
        "residents_under_pressure": _wave(days, 40, 5, confined * 1e-3),
    }
    new_infections = _wave(days, 25, 7, infections, integer=True)
    timeseries = pd.DataFrame({"day": day.astype(np.int32),
                               "date": pd.date_range("2022-03-01", periods=days, freq="D"),
                               "new_infections": new_infections,
                               "new_deaths": _wave(days, 35, 7, deaths, integer=True),
                               "infectious": np.cumsum(new_infections) - np.r_[np.zeros(7), np.cumsum(new_infections)[:-7]]})
    for key, values in daily.items():
        timeseries[f"ledger_{key}"] = values
    timeseries["ledger_resistance_pressure_max"] = _wave(days, 40, 5, 3.0 if contained else 0)
    timeseries.to_parquet(run_dir / "timeseries.parquet", index=False)

    ledger_long = pd.DataFrame({"day": np.repeat(day, len(DISTRICTS)), "district": np.tile(DISTRICTS, days)})
    weights = np.tile(np.linspace(2, 1, len(DISTRICTS)) / np.linspace(2, 1, len(DISTRICTS)).sum(), days)
    for key, values in daily.items():
        ledger_long[key] = np.repeat(values, len(DISTRICTS)) * weights
    ledger_long.to_parquet(run_dir / "ledger.parquet", index=False)

    subdistricts = np.arange(4 * len(DISTRICTS))
    level = rng.uniform(0, 1, subdistricts.size) if contained else np.zeros(subdistricts.size)
    bump = np.exp(-0.5 * ((day - 40) / 6) ** 2)
    pd.DataFrame({
        "day": np.repeat(day, subdistricts.size).astype(np.int32),
        "subdistrict": np.tile(subdistricts, days).astype(np.int32),
        "district": np.tile(np.repeat(DISTRICTS, 4), days),
        "resistance_pressure": (0.12 * np.outer(bump, level)).reshape(-1).astype(np.float32),
    }).to_parquet(run_dir / "pressure.parquet", index=False)

    people = int(confined / 20) if contained else 0
    longest = np.clip(np.round(rng.lognormal(np.log(14), 0.6, people)), 1, days).astype(np.int16)
    pd.DataFrame({"longest_confinement_days": longest,
                  "confined_days_total": (longest + rng.poisson(2, people)).astype(np.int16)}
                 ).to_parquet(run_dir / "confinement_days.parquet", index=False)

    sector_share = np.array([0.22, 0.18, 0.2, 0.15, 0.1, 0.05, 0.1])
    type_share = np.array([0.4, 0.3, 0.15, 0.15])
    total = {key: float(values.sum()) for key, values in daily.items()}
    summary = {
        "scenario": scenario, "seed": seed, "population": population, "days": days,
        "infections": int(new_infections.sum()), "attack_rate": new_infections.sum() / population,
        "deaths": int(timeseries["new_deaths"].sum()), "peak_infectious_day": 30, "peak_infectious": 1000,
        "tests_swabbed": int(testing / 3.5), "tubes_processed": int(testing / 35), "cases_detected": infections // 2,
        "max_in_isolation": 1000 if contained else 0, "max_in_quarantine": 3000 if contained else 0,
        "peak_sealed_population": int(0.4 * population) if contained else 0, "city_sealed_days": 20 if contained else 0,
        "policy": policy, "policy_label": policy.replace("-", " "), "variant": "omicron_ba2",
        "ledger": {
            "confined_person_days": confined,
            "confined_home_person_days": total["confined_home_person_days"],
            "confined_compound_person_days": total["confined_compound_person_days"],
            "facility_person_days": total["facility_person_days"],
            "people_ever_confined": people,
            "longest_confinement_days_max": int(longest.max(initial=0)),
            "longest_confinement_days_mean": float(longest.mean()) if people else 0.0,
            "people_confined_after_ten_negatives": people // 10,
            "confined_after_ten_negatives_person_days": total["confined_after_ten_negatives_person_days"],
            "food_shortfall_person_days": food,
            "households_ran_out": int(total["households_ran_out_new"]),
            "elderly_alone_ran_out": int(total["elderly_alone_ran_out_new"]),
            "income_lost_cny": income,
            "income_lost_cny_by_sector": dict(zip(SECTORS, (income * sector_share).tolist())),
            "income_lost_cny_by_worker_type": dict(zip(WORKER_TYPES, (income * type_share).tolist())),
            "worker_days_lost": total["workers_kept_from_work"],
            "store_days_closed": total["stores_closed"],
            "stores_failed": int(daily["stores_failed"][-1]),
            "stores": STORES,
            "store_demand_lost_store_days": total["store_demand_lost"],
            "testing_cny": testing,
            "testing_staff_hours": total["testing_staff_hours"],
            "testing_queue_hours": total["testing_queue_hours"],
            "dialysis_sessions_missed": total["dialysis_sessions_missed"],
            "emergencies_without_care": total["emergencies_without_care"],
            "births_without_care": total["births_without_care"],
            "chemotherapy_patient_days_missed": total["chemotherapy_patient_days_missed"],
            "excess_non_covid_deaths": excess,
            "infections_in_facilities": 120 if contained else 0,
            "people_per_toilet": 40,
            "resistance_pressure_max": float(timeseries["ledger_resistance_pressure_max"].max()),
        },
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "none": make_run(root, "none", infections=1_000_000, deaths=3_400),
        "dynamic": make_run(root, "dynamic-zero-2022", infections=4_139, deaths=99, confined=12.3e6, income=4.1e9,
                            food=850_000, testing=2.4e9, stores_failed=310, excess=41.5),
        "leaky": make_run(root, "leaky", infections=600_000, deaths=3_450, confined=2e6, income=5e8, food=10_000,
                          testing=3e8, stores_failed=12, excess=4.0),
    }


@pytest.fixture(scope="module")
def comparison(runs):
    return compare_runs([runs["none"], runs["dynamic"]])


# -- the table ----------------------------------------------------------------------------------------
def test_table_has_one_row_per_measure_and_one_column_per_run(comparison):
    table = comparison.table
    none, dynamic = "shanghai/none", "shanghai/dynamic-zero-2022"
    assert comparison.runs == (none, dynamic)
    assert list(table.columns) == ["unit", none, dynamic, f"diff {dynamic}"]
    assert table.index.name == "measure"
    assert list(table.index[: len(SUMMARY_MEASURES)]) == list(SUMMARY_MEASURES)
    for measure in ("confined_person_days", "income_lost_cny", "testing_staff_hours", "excess_non_covid_deaths",
                    "resistance_pressure_max", "income_lost_cny_by_sector.retail",
                    "income_lost_cny_by_worker_type.gig"):
        assert measure in table.index
    assert "people_per_toilet" not in table.index  # a parameter, not a total
    assert "income_lost_cny_by_sector" not in table.index  # expanded, not kept as a dict
    assert table.index.is_unique


def test_differences_and_units(comparison):
    table = comparison.table
    diff = "diff shanghai/dynamic-zero-2022"
    assert table.at["infections", diff] == 4_139 - 1_000_000
    assert table.at["deaths", diff] == 99 - 3_400
    assert table.at["confined_person_days", diff] == pytest.approx(12.3e6)
    assert table.at["income_lost_cny_by_sector.retail", diff] == pytest.approx(0.22 * 4.1e9)
    assert comparison.difference("income_lost_cny", 1) == pytest.approx(4.1e9)
    assert comparison.value("deaths", 0) == 3_400
    units = table["unit"]
    assert units["infections"] == "people" and units["deaths"] == "deaths"
    assert units["confined_person_days"] == units["food_shortfall_person_days"] == "person-days"
    assert units["income_lost_cny"] == units["income_lost_cny_by_worker_type.informal"] == "CNY"
    assert units["testing_queue_hours"] == "hours"
    assert units["city_sealed_days"] == units["longest_confinement_days_max"] == "days"
    assert units["stores_failed"] == "stores" and units["households_ran_out"] == "households"
    assert units["emergencies_without_care"] == "episodes" and units["excess_non_covid_deaths"] == "deaths"


def test_cost_per_infection_and_death_averted(comparison):
    per = comparison.per_averted
    label = "shanghai/dynamic-zero-2022"
    assert set(per["cost"]) == set(MAIN_COSTS)
    row = per.loc[(label, "confined_person_days")]
    assert row["infections_averted"] == 995_861 and row["deaths_averted"] == 3_301
    assert row["per_infection_averted"] == pytest.approx(12.3e6 / 995_861)
    assert row["per_death_averted"] == pytest.approx(12.3e6 / 3_301)
    assert per.loc[(label, "income_lost_cny"), "per_death_averted"] == pytest.approx(4.1e9 / 3_301)
    assert per.loc[(label, "testing_cny"), "unit"] == "CNY"


def test_per_averted_is_none_when_nothing_was_averted(runs):
    per = compare_runs([runs["none"], runs["leaky"]]).per_averted
    row = per.loc[("shanghai/leaky", "income_lost_cny")]
    assert row["per_infection_averted"] == pytest.approx(5e8 / 400_000)
    assert row["per_death_averted"] is None  # leaky had 50 more deaths
    # against a baseline that did better, nothing was averted: every value is None
    back = compare_runs([runs["dynamic"], runs["none"]]).per_averted
    assert back["per_infection_averted"].isna().all() and back["per_death_averted"].isna().all()


# -- the sentence -------------------------------------------------------------------------------------
def test_headline_states_what_was_averted_and_what_it_cost(comparison):
    sentence = headline(comparison)
    assert sentence == ("dynamic-zero-2022 averted 995,861 infections and 3,301 deaths compared with none, "
                        "at 12.3 million person-days confined and CNY 4.1 billion in lost income.")


def test_headline_when_a_policy_averts_nothing_or_costs_nothing(runs):
    worse = headline(compare_runs([runs["dynamic"], runs["none"]]))
    assert worse.startswith("none averted no infections or deaths and had 995,861 more infections and 3,301 more deaths")
    assert "12.3 million fewer person-days confined" in worse and "CNY 4.1 billion less in lost income" in worse
    mixed = headline(compare_runs([runs["none"], runs["leaky"]]))
    assert mixed.startswith("leaky averted 400,000 infections but had 50 more deaths compared with none")
    assert "2 million person-days confined" in mixed
    free = headline(compare_runs([runs["none"], runs["none"]]))
    assert free == ("none #2 averted no infections or deaths compared with none #1, "
                    "with nobody confined and no income lost.")
    three = headline(compare_runs([runs["none"], runs["dynamic"], runs["leaky"]]))
    assert three.count(".") >= 2 and "dynamic-zero-2022 averted" in three and "leaky averted" in three


def test_readable_numbers():
    assert readable(995_861) == "995,861"
    assert readable(12_345_678) == "12.3 million"
    assert readable(4.1e9, "CNY") == "CNY 4.1 billion"
    assert readable(3.74) == "3.7" and readable(0.0) == "0" and readable(None) == "n/a"
    assert readable(0.125, "fraction") == "12.5%"


def test_format_and_write(comparison, tmp_path):
    text = format_table(comparison)
    assert text.at["income_lost_cny", "diff shanghai/dynamic-zero-2022"] == "+CNY 4.1 billion"
    assert text.at["infections", "diff shanghai/dynamic-zero-2022"] == "-995,861"
    paths = write_comparison(comparison, tmp_path / "cmp")
    assert [p.name for p in paths] == ["comparison.csv", "comparison_per_averted.csv", "comparison.json"]
    meta = json.loads(paths[2].read_text())
    assert meta["headline"] == headline(comparison) and meta["baseline"] == "shanghai/none"
    assert pd.read_csv(paths[0], index_col="measure").shape[0] == comparison.table.shape[0]


# -- checks -------------------------------------------------------------------------------------------
def test_mismatched_population_days_and_seed_are_flagged(tmp_path, runs):
    other = make_run(tmp_path, "dynamic-zero-2022", infections=3_000, deaths=50, confined=5e6, income=1e9,
                     population=1_000_000, days=45, seed=7)
    result = compare_runs([runs["none"], other])
    text = " | ".join(result.warnings)
    assert "different population sizes" in text and "2,000,000" in text and "1,000,000" in text
    assert "different run lengths" in text
    assert "different seeds" in text and "3" in text and "7" in text
    with pytest.raises(OutputError, match="population size or days"):
        compare_runs([runs["none"], other], strict=True)
    assert compare_runs([runs["none"], runs["dynamic"]]).warnings == []


def test_only_seed_differs_gives_one_warning_and_distinct_labels(tmp_path, runs):
    again = make_run(tmp_path, "none", infections=990_000, deaths=3_380, seed=4)
    result = compare_runs([runs["none"], again])
    assert len(result.warnings) == 1 and result.warnings[0].startswith("different seeds")
    assert result.runs == ("shanghai/none (seed 3)", "shanghai/none (seed 4)")


def test_missing_or_invalid_run_dir_raises_output_error(tmp_path, runs):
    missing = tmp_path / "no-such-run"
    with pytest.raises(OutputError) as info:
        compare_runs([runs["none"], missing])
    assert str(missing) in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == 2  # a missing run is bad input (README's exit codes)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OutputError, match="no summary.json"):
        compare_runs([runs["none"], empty])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text("{not json")
    with pytest.raises(OutputError, match="broken.*unreadable"):
        compare_runs([broken, runs["none"]])
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "summary.json").write_text(json.dumps({"scenario": "x", "population": 10}))
    with pytest.raises(OutputError, match="'days'"):
        compare_runs([runs["none"], partial])
    with pytest.raises(ZerosimError, match="at least two"):
        compare_runs([runs["none"]])
    with pytest.raises(ZerosimError, match="--baseline"):
        compare_runs([runs["none"], runs["dynamic"]], baseline=2)


def test_results_objects_and_a_run_without_ledger(runs):
    summary = json.loads((runs["dynamic"] / "summary.json").read_text())
    old = {key: value for key, value in json.loads((runs["none"] / "summary.json").read_text()).items() if key != "ledger"}
    result = compare_runs([SimpleNamespace(summary=old, out_dir=None), SimpleNamespace(summary=summary, out_dir=runs["dynamic"])])
    assert math.isnan(result.table.at["confined_person_days", "shanghai/none"])
    assert any("no ledger" in warning for warning in result.warnings)
    assert result.per_averted["per_infection_averted"].isna().all()
    assert headline(result) == "dynamic-zero-2022 averted 995,861 infections and 3,301 deaths compared with none."
    assert result.sources == (None, runs["dynamic"])


# -- figures ------------------------------------------------------------------------------------------
def _tables(run_dir: Path) -> SimpleNamespace:
    return SimpleNamespace(
        summary=json.loads((run_dir / "summary.json").read_text()),
        timeseries=pd.read_parquet(run_dir / "timeseries.parquet"),
        pressure=pd.read_parquet(run_dir / "pressure.parquet"),
        confinement_days=pd.read_parquet(run_dir / "confinement_days.parquet"),
    )


def _assert_png(path: Path, minimum: int = 10_000) -> None:
    assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > minimum, f"{path.name} is only {path.stat().st_size} bytes"


def test_each_ledger_figure_writes_a_real_png(runs, tmp_path):
    run = _tables(runs["dynamic"])
    paths = [
        lf.confinement_distribution(run.confinement_days, run.summary, tmp_path / "a.png"),
        lf.food_shortfall(run.timeseries, run.summary, tmp_path / "b.png"),
        lf.income_lost(run.summary, tmp_path / "c.png"),
        lf.stores(run.timeseries, run.summary, tmp_path / "d.png"),
        lf.resistance_pressure_map(run.pressure, tmp_path / "e.png"),
    ]
    for path in paths:
        _assert_png(path)


def test_ledger_figures_cope_with_empty_and_zero_data(runs, tmp_path):
    zero = _tables(runs["none"])
    empty_series = pd.DataFrame({"day": pd.Series([], dtype="int32")})
    calls = [
        lambda p: lf.confinement_distribution(zero.confinement_days, zero.summary, p),
        lambda p: lf.confinement_distribution(pd.DataFrame(), {}, p),
        lambda p: lf.food_shortfall(zero.timeseries, zero.summary, p),
        lambda p: lf.food_shortfall(empty_series, {}, p),
        lambda p: lf.income_lost(zero.summary, p),
        lambda p: lf.income_lost({}, p),
        lambda p: lf.stores(zero.timeseries, zero.summary, p),
        lambda p: lf.stores(empty_series, {}, p),
        lambda p: lf.resistance_pressure_map(zero.pressure, p),
        lambda p: lf.resistance_pressure_map(pd.DataFrame(), p),
    ]
    for i, call in enumerate(calls):
        _assert_png(call(tmp_path / f"empty{i}.png"), minimum=1_000)


def test_write_ledger_figures_writes_those_with_data(runs, tmp_path):
    written = lf.write_ledger_figures(tmp_path, runs["dynamic"])
    assert [p.name for p in written] == ["confinement_distribution.png", "food_shortfall.png", "income_lost.png",
                                         "stores.png", "resistance_pressure.png"]
    assert lf.write_ledger_figures(tmp_path / "x", _tables(runs["none"])) == []
    with pytest.raises(OutputError, match="no-run"):
        lf.write_ledger_figures(tmp_path, tmp_path / "no-run")


def test_comparison_figure(runs, tmp_path):
    three = compare_runs([runs["none"], runs["dynamic"], runs["leaky"]])
    _assert_png(lf.comparison_figure(three, tmp_path / "compare.png"))
    old = {key: value for key, value in json.loads((runs["none"] / "summary.json").read_text()).items() if key != "ledger"}
    sparse = compare_runs([SimpleNamespace(summary=old), SimpleNamespace(summary=dict(old, seed=9))])
    _assert_png(lf.comparison_figure(sparse, tmp_path / "sparse.png"), minimum=1_000)


def test_every_ledger_total_a_run_writes_is_declared_once_with_a_unit_and_label():
    """Names once (issue 17): a ledger total gets its label, unit and group from zerosim.ledger.totals; a new
    line added to summary.json without a declaration would show as 'count' under 'Other'."""
    from zerosim.ledger.totals import LEDGER_TOTALS

    results = zerosim.run("demo", overrides={"population.size": 20_000, "duration_days": 15,
                                             "policy": "dynamic-zero-2022"})
    declared = [total.key for total in LEDGER_TOTALS]
    assert len(declared) == len(set(declared))
    written = [key for key in results.summary["ledger"] if key != "per_averted"]
    assert sorted(set(written) - set(declared)) == []
