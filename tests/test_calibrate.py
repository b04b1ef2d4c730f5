"""`zerosim calibrate`: observed data, priors, reproducible particles, and recovery of known parameters.

The statistical test fits a synthetic outbreak that zerosim itself generated with known
parameters (well-mixed city, 30,000 agents) and checks that the truth lies inside the posterior's
90% interval; fixed seeds make it deterministic.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import zerosim
from zerosim.experiments.calibrate.fit import Scale, Settings, load_problem, weighted_quantiles
from zerosim.experiments.calibrate.model import SeriesDistance, share_distance, smooth
from zerosim.errors import ScenarioError
from zerosim.experiments.calibrate.observed import builtin_series, load_observed
from zerosim.experiments.calibrate.priors import field_type, parse_prior, resolve_priors
from zerosim.cli.app import app
from zerosim.errors import ScenarioError
from zerosim.io.scenario import load_scenario

TRUE_R0 = 2.0
TRUE_ASCERTAINMENT = 0.4
#: The synthetic city and its known outbreak (well-mixed: fast, and r0 is what the model means by it).
CITY = {"population.size": 30000, "duration_days": 80, "start_date": "2022-03-01"}


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def assert_one_line_error(result, *fragments: str, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def outbreak(tmp_path_factory):
    """Reported cases of a known well-mixed outbreak: R0 = 2, 40% of infections reported (binomial)."""
    truth = zerosim.run("well-mixed", overrides={**CITY, "transmission.r0": TRUE_R0, "seed": 7})
    series = truth.timeseries
    reported = np.random.default_rng(5).binomial(series["new_infections"].to_numpy(), TRUE_ASCERTAINMENT)
    path = tmp_path_factory.mktemp("data") / "outbreak.csv"
    pd.DataFrame({"date": series["date"].dt.strftime("%Y-%m-%d"), "cases": reported}).to_csv(path, index=False)
    return path


# -- observed data -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("day,cases\n2022-03-01,4\n", ["no column 'date'"]),
        ("date,count\n2022-03-01,4\n", ["no column 'cases'"]),
        ("date,cases\n2022-03-01,4\n2022-13-01,5\n", ["line 3", "bad date", "YYYY-MM-DD"]),
        ("date,cases\n2022-03-01,-2\n", ["line 2", "whole number"]),
        ("date,cases\n2022-03-01,abc\n", ["line 2", "whole number"]),
        ("date,cases\n2022-03-01,1\n2022-03-01,2\n", ["2022-03-01", "twice"]),
        ("date,cases\n", ["no rows"]),
    ],
)
def test_bad_observed_files_give_one_line_errors(tmp_path, text, fragments):
    path = tmp_path / "cases.csv"
    path.write_text(text)
    with pytest.raises(ScenarioError) as error:
        load_observed(path)
    message = str(error.value)
    assert message.startswith("--data:") and "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_missing_observed_file_names_the_option(tmp_path):
    with pytest.raises(ScenarioError, match="--data: .*missing.csv' does not exist"):
        load_observed(tmp_path / "missing.csv")


def test_observed_gaps_count_as_zero_and_districts_sum(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("date,district,cases,deaths\n2022-03-01,Pudong,3,0\n2022-03-01,Minhang,2,0\n"
                    "2022-03-03,Pudong,1,0\n")
    observed = load_observed(path)
    assert observed.cases.tolist() == [5.0, 0.0, 1.0]
    assert sorted(observed.districts) == ["Minhang", "Pudong"]
    assert observed.by_district.loc["2022-03-03", "Pudong"] == 1.0


def test_observed_days_missing_without_districts_are_unknown(tmp_path):
    path = tmp_path / "partial.csv"
    path.write_text("date,cases\n2022-11-01,16\n2022-11-04,101\n")
    observed = load_observed(path)
    assert observed.cases.iloc[0] == 16.0 and observed.cases.iloc[3] == 101.0
    assert observed.cases.iloc[1:3].isna().all()


@pytest.mark.parametrize("name", ["shanghai_2022_cases", "shanghai_2022_cases_by_district", "wuhan_2020_cases",
                                  "chongqing_2022_cases"])
def test_builtin_series_load_by_name(name):
    assert name in builtin_series()
    observed = load_observed(name)
    assert observed.source == name and observed.cases.sum() > 0
    if name == "shanghai_2022_cases_by_district":
        assert len(observed.districts) == 16
    if name == "chongqing_2022_cases":  # partial: 31 of 41 days given
        assert observed.cases.notna().sum() == 31 and observed.cases.isna().sum() == 10


# -- priors --------------------------------------------------------------------------------------------
def test_parse_prior_and_field_types():
    prior = parse_prior("transmission.r0=uniform(1.5, 4)")
    assert (prior.path, prior.distribution, prior.a, prior.b) == ("transmission.r0", "uniform", 1.5, 4.0)
    assert field_type("transmission.r0") is float
    assert field_type("seeding.0.count") is int
    assert field_type("seeding.0.day") is int
    assert field_type("containment.zoning.sealed_release_days") is int
    assert field_type("behaviour.base_compliance") is float
    assert field_type("disease.overrides.incubation.mean_days") is float
    assert field_type("transmission.nonsense") is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("transmission.r0", "expected PATH=DIST(a,b)"),
        ("transmission.r0=beta(1,2)", "unknown distribution 'beta'"),
        ("transmission.r0=uniform(4,1)", "high > low"),
        ("seeding.0.count=loguniform(0,10)", "low > 0"),
        ("transmission.r0=normal(2,0)", "sd > 0"),
        ("ascertainment=uniform(0.5,1.5)", "within 0..1"),
        ("transmission.r0=uniform(a,2)", "must be numbers"),
    ],
)
def test_malformed_priors(text, fragment):
    with pytest.raises(ScenarioError, match="--prior") as error:
        parse_prior(text)
    assert fragment in str(error.value)


def test_priors_are_checked_against_the_scenario():
    data = load_scenario("well-mixed").model_dump(mode="json")
    resolved = resolve_priors([parse_prior("seeding.0.count=uniform(5,50)"), parse_prior("ascertainment=uniform(0,1)")],
                              data)
    assert resolved[0].integer and not resolved[1].integer
    with pytest.raises(ScenarioError, match="--prior transmission.rzero: not a numeric scenario field"):
        resolve_priors([parse_prior("transmission.rzero=uniform(1,2)")], data)
    with pytest.raises(ScenarioError, match="--prior transmission.r0=uniform.*narrow the prior"):
        resolve_priors([parse_prior("transmission.r0=uniform(1,40)")], data)
    with pytest.raises(ScenarioError, match="--prior: no priors given"):
        resolve_priors([], data)


# -- distance, scale, reproducible particles -------------------------------------------------------------
def test_distance_and_smoothing():
    assert smooth(np.array([2.0, 4.0, 6.0, 8.0]), 2).tolist() == [2.0, 3.0, 5.0, 7.0]
    series = {"reported": np.array([0.0, 5, 20, 50])}
    assert SeriesDistance(3, 1.0)(series, series) == 0.0
    assert SeriesDistance(1, 0.0)({"reported": np.zeros(4)}, series) > 0
    assert share_distance(np.array([1.0, 0]), np.array([0.0, 1])) == 1.0
    assert share_distance(np.array([1.0, 1]), np.array([2.0, 2])) == 0.0
    assert np.allclose(weighted_quantiles([1, 2, 3], [0, 1, 0], [0.05, 0.5, 0.95]), 2.0)
    # unknown days (NaN) are left out of the smoothing and of the distance
    assert np.allclose(smooth(np.array([2.0, np.nan, 6.0]), 2), [2.0, 2.0, 6.0])
    gappy = {"reported": np.array([1.0, np.nan, 10.0, np.nan])}
    assert SeriesDistance(1, 0.0)({"reported": np.array([1.0, 500.0, 10.0, 0.0])}, gappy) == 0.0
    assert SeriesDistance(1, 0.0)({"reported": np.array([1.0, 500.0, 11.0, 0.0])}, gappy) > 0


def test_the_total_term_counts_a_model_that_reports_half_the_cases():
    # 60 quiet days and a 10-day wave: reporting half the wave moves the daily term a little, the total term by log 2
    observed = {"reported": np.concatenate([np.zeros(60), np.full(10, 1000.0)])}
    half = {"reported": observed["reported"] / 2}
    daily = SeriesDistance(1, 0.0)(half, observed)
    assert daily < 0.3  # sqrt(10/70) x log 2: the quiet days dilute it
    weighted = SeriesDistance(1, 0.0, total_weight=1.0)(half, observed)
    assert weighted - daily == pytest.approx(np.log1p(10_000) - np.log1p(5_000))
    assert SeriesDistance(1, 0.0, total_weight=1.0)(observed, observed) == 0.0
    # only the days the data give count toward either total
    gappy = {"reported": np.array([1.0, np.nan, 10.0])}
    assert SeriesDistance(1, 0.0, total_weight=1.0)({"reported": np.array([1.0, 900.0, 10.0])}, gappy) == 0.0
    settings = Settings.build(["transmission.r0=uniform(1,3)"], total_weight=0.5)
    assert settings.total_weight == 0.5 and Settings.build(["transmission.r0=uniform(1,3)"]).total_weight == 0.0
    with pytest.raises(ScenarioError, match="--total-weight: must be a number >= 0"):
        Settings.build(["transmission.r0=uniform(1,3)"], total_weight=-1.0)


def test_scale_statement():
    scale = Scale(2_487_090, 24_870_895)
    assert scale.statement() == "fitted at 1/10 scale: 2,487,090 agents; observed counts scaled by 0.1"
    assert Scale(30000, 30000).statement() == "fitted at full scale: 30,000 agents; observed counts not scaled"


def test_a_particle_is_reproducible_from_its_seed(outbreak):
    settings = Settings.build(["transmission.r0=uniform(1.2,3.5)", "ascertainment=uniform(0.1,1)"], until="2022-03-25")
    model = load_problem("well-mixed", outbreak, settings, {**CITY, "population.size": 5000}).model
    values = {"transmission.r0": 2.2, "ascertainment": 0.5}
    seed = model.particle_seed(values)
    assert seed == model.particle_seed(dict(values)) and seed != model.particle_seed({**values, "ascertainment": 0.6})
    first = model({"p_transmission_r0": 2.2, "p_ascertainment": 0.5})
    again = model({"p_transmission_r0": 2.2, "p_ascertainment": 0.5})
    assert int(first["seed"][0]) == seed
    assert np.array_equal(first["raw"], again["raw"]) and first["raw"].sum() > 0
    # the full-horizon re-run repeats the accepted trajectory up to --until, then continues
    _, full = model.simulate(values, seed)
    window = model.until_day + 1
    assert np.array_equal(model.observed_series(full, window)[0], first["raw"])
    # a branch keeps the past and draws another future
    _, branch = model.simulate(values, seed, branch_seed=99)
    days = full.days
    assert np.array_equal(model.observed_series(branch, window)[0], first["raw"])
    assert not np.array_equal(model.observed_series(branch, days)[0], model.observed_series(full, days)[0])


# -- the acceptance test -----------------------------------------------------------------------------------
@pytest.mark.statistical
def test_calibration_recovers_known_parameters(outbreak, tmp_path):
    out = tmp_path / "fit"
    result = invoke("calibrate", "well-mixed", "--data", str(outbreak), "--until", "2022-04-10",
                    "--set", "start_date=2022-03-01", "--set", "duration_days=80", "--set", "population.size=30000",
                    "--prior", "transmission.r0=uniform(1.2,3.5)", "--prior", "ascertainment=uniform(0.1,1.0)",
                    "--particles", "40", "--generations", "3", "--seed", "3", "--threads", "1", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert "fitted at full scale: 30,000 agents" in result.output
    info = json.loads((out / "calibration.json").read_text())
    for path, truth in (("transmission.r0", TRUE_R0), ("ascertainment", TRUE_ASCERTAINMENT)):
        interval = info["posterior"][path]
        assert interval["q05"] <= truth <= interval["q95"], (path, interval)
    # the posterior is narrower than the prior for the transmissibility
    r0 = info["posterior"]["transmission.r0"]
    assert r0["q95"] - r0["q05"] < 0.6 * (3.5 - 1.2)
    assert len(info["epsilon_schedule"]) == 3 and info["epsilon_schedule"] == sorted(info["epsilon_schedule"], reverse=True)
    assert info["scale"]["factor"] == 1.0 and info["simulations"] > 0 and info["wall_time_seconds"] > 0

    posterior = pd.read_parquet(out / "posterior.parquet")
    assert {"transmission.r0", "ascertainment", "weight", "distance", "seed", "generation"} <= set(posterior.columns)
    assert len(posterior) == 40 and np.isclose(posterior["weight"].sum(), 1.0)
    assert posterior["seed"].nunique() == 40
    predictive = pd.read_parquet(out / "posterior_predictive.parquet")
    assert {"date", "observed", "q05", "q50", "q95"} <= set(predictive.columns)
    assert (predictive["q05"] <= predictive["q95"]).all()
    assert (out / "posterior_predictive.png").stat().st_size > 10_000
    assert (out / "abc.db").exists()
    fitted = load_scenario(out / "fitted.yaml")
    assert fitted.transmission.r0 == pytest.approx(r0["q50"])
    assert fitted.population.size == 30000

    # the same seed gives the same posterior (single-core sampler); reduced scale is stated
    small = ["calibrate", "well-mixed", "--data", str(outbreak), "--until", "2022-03-20",
             "--set", "start_date=2022-03-01", "--set", "duration_days=80", "--set", "population.size=30000",
             "--population", "5000", "--prior", "transmission.r0=uniform(1.2,3.5)", "--particles", "10",
             "--generations", "1", "--seed", "4", "--threads", "1", "--quiet", "--no-figures"]
    first = invoke(*small, "--out", str(tmp_path / "a"))
    second = invoke(*small, "--out", str(tmp_path / "b"))
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "fitted at 1/6 scale: 5,000 agents; observed counts scaled by 0.167" in first.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "posterior.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "posterior.parquet"))


# -- command-line errors -------------------------------------------------------------------------------------
def test_cli_bad_input_gives_one_line_errors(outbreak, tmp_path):
    out = str(tmp_path / "o")
    base = ["calibrate", "well-mixed", "--data", str(outbreak), "--set", "start_date=2022-03-01", "--out", out]
    assert_one_line_error(invoke(*base, "--prior", "transmission.r0=uniform(4,1)"), "--prior", "high > low")
    assert_one_line_error(invoke(*base, "--prior", "transmission.rzero=uniform(1,2)"), "--prior transmission.rzero")
    assert_one_line_error(invoke(*base), "--prior", "no priors given")
    assert_one_line_error(invoke(*base, "--prior", "transmission.r0=uniform(1,3)", "--until", "2022-02-01"),
                          "--until", "before the scenario's start_date")
    assert_one_line_error(invoke(*base, "--prior", "transmission.r0=uniform(1,3)", "--until", "2022-04-31"),
                          "--until", "YYYY-MM-DD")
    assert_one_line_error(invoke(*base, "--prior", "transmission.r0=uniform(1,3)", "--observe", "cases_detected"),
                          "--observe", "tests nobody")
    missing = ["calibrate", "well-mixed", "--data", str(tmp_path / "nope.csv"), "--prior", "transmission.r0=uniform(1,3)",
               "--set", "start_date=2022-03-01", "--out", out]
    assert_one_line_error(invoke(*missing), "--data", "nope.csv", "does not exist")
    no_start = ["calibrate", "well-mixed", "--data", str(outbreak), "--prior", "transmission.r0=uniform(1,3)", "--out", out]
    assert_one_line_error(invoke(*no_start), "start_date")
    spec = tmp_path / "calib.yaml"
    spec.write_text("priors:\n  transmission.r0: uniform(1,3)\nobserve: deaths\n")
    assert_one_line_error(invoke(*base, "--spec", str(spec)), "--spec", "observe")
    assert not (tmp_path / "o" / "posterior.parquet").exists()


def test_spec_file_gives_priors_and_settings(outbreak, tmp_path):
    spec = tmp_path / "calib.yaml"
    spec.write_text("priors:\n  transmission.r0: uniform(1.2, 3.5)\n  ascertainment: uniform(0.2, 1)\n"
                    "observe: new_infections\nuntil: 2022-03-20\nscale: {population: 3000, city_population: 30000}\n")
    settings = Settings.build(["ascertainment=uniform(0.3,0.9)"], spec)
    problem = load_problem("well-mixed", outbreak, settings, {"start_date": "2022-03-01", "duration_days": 80})
    assert [(p.path, p.a) for p in problem.priors] == [("transmission.r0", 1.2), ("ascertainment", 0.3)]
    assert problem.scale.factor == pytest.approx(0.1) and problem.model.until_day == 19
    assert problem.observed_window["reported"].size == 20
    cases = pd.read_csv(outbreak)["cases"].to_numpy()[:20]
    assert np.allclose(problem.observed_window["reported"], 0.1 * cases)  # observed counts scaled to the model


def test_missing_pyabc_is_one_line_with_the_install_command(outbreak, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyabc", None)
    result = invoke("calibrate", "well-mixed", "--data", str(outbreak), "--prior", "transmission.r0=uniform(1,3)",
                    "--out", str(tmp_path / "o"))
    assert_one_line_error(result, "pyabc", "pip install 'zerosim[calibrate]'")


@pytest.mark.slow
def test_dask_sampler_and_forecast_workers(outbreak, tmp_path):
    """--workers 2: pyabc's DaskDistributedSampler on a LocalCluster; forecast draws as Dask tasks."""
    fit = tmp_path / "fit"
    common = ["--set", "start_date=2022-03-01", "--set", "duration_days=60", "--set", "population.size=30000",
              "--population", "5000", "--workers", "2", "--quiet", "--no-figures"]
    result = invoke("calibrate", "well-mixed", "--data", str(outbreak), "--until", "2022-03-25", *common,
                    "--prior", "transmission.r0=uniform(1.2,3.5)", "--particles", "10", "--generations", "2",
                    "--out", str(fit))
    assert result.exit_code == 0, result.output
    info = json.loads((fit / "calibration.json").read_text())
    assert info["sampler"].startswith("dask LocalCluster") and len(info["generations"]) == 2
    forecast = invoke("forecast", "well-mixed", "--data", str(outbreak), "--posterior", str(fit), "--runs", "4",
                      *common, "--out", str(tmp_path / "fc"))
    assert forecast.exit_code == 0, forecast.output
    assert json.loads((tmp_path / "fc" / "forecast.json").read_text())["past_reproduced_fraction"] == 1.0


def test_a_count_prior_on_a_per_100k_seeding_is_refused():
    data = load_scenario("shanghai-2022").model_dump(mode="json")
    with pytest.raises(ScenarioError, match=r"--prior seeding\.0\.count: this seeding is given per_100k"):
        resolve_priors([parse_prior("seeding.0.count=loguniform(2,20)")], data)
    data["seeding"][0]["per_100k"] = None
    assert resolve_priors([parse_prior("seeding.0.count=loguniform(2,20)")], data)[0].integer


def test_a_calibration_too_big_for_memory_is_refused_before_its_folder_is_touched(outbreak, tmp_path, monkeypatch):
    """Issue 15: the memory check comes before the earlier calibration is cleared and before any worker."""
    import zerosim.population.synthesis as synthesis

    out = tmp_path / "o"
    out.mkdir()
    (out / "calibration.json").write_text("{}")  # an earlier calibration, to be kept
    monkeypatch.setattr(synthesis, "available_memory_bytes", lambda: 10_000)
    result = invoke("calibrate", "well-mixed", "--data", str(outbreak), "--set", "start_date=2022-03-01", "--prior",
                    "transmission.r0=uniform(1,3)", "--population", "5000", "--workers", "2", "--force",
                    "--out", str(out), "--quiet")
    assert_one_line_error(result, "population.size", "GiB")
    assert (out / "calibration.json").read_text() == "{}"
