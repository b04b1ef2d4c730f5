"""The frontier (issue 19): the written set is non-dominated and holds the best point found for each
objective; the same --seed gives the same set; bad levers are refused in one line before any work."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from typer.testing import CliRunner

import zerosim
from zerosim.cli.app import app
from zerosim.errors import InputError
from zerosim.experiments.frontier import (
    apply_levers,
    check_levers,
    non_dominated,
    parse_lever,
    radial_factor,
    run_frontier,
)


def _dominates(a, b) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 25), st.integers(2, 3)), elements=st.integers(0, 6).map(float)))
def test_non_dominated_set_is_non_dominated_and_covers_everything(values):
    keep = non_dominated(values)
    kept = values[keep]
    for i in range(len(kept)):
        for j in range(len(kept)):
            assert i == j or not _dominates(kept[j], kept[i]) and not np.array_equal(kept[i], kept[j])
    for row in values:  # every point is on the set or dominated by (or equal to) a point of it
        assert any(np.array_equal(row, point) or _dominates(point, row) for point in kept)
    np.testing.assert_array_equal(kept.min(axis=0), values.min(axis=0))  # the best of each objective is kept


def test_radial_factor():
    frontier = np.array([[50.0, 100.0], [80.0, 40.0]])
    factor, row = radial_factor(np.array([100.0, 100.0]), frontier)
    assert (factor, row) == (pytest.approx(0.8), 1)  # point 1 is at most 80 % of the actual on both
    factor, row = radial_factor(np.array([40.0, 30.0]), frontier)
    assert factor > 1  # nothing found beats it on both at once


def test_lever_syntax():
    assert parse_lever("containment.zoning.sealed_release_days=7:21").kind == "int"
    lever = parse_lever("transmission.r0=2:3.5")
    assert (lever.kind, lever.low, lever.high) == ("float", 2.0, 3.5)
    assert parse_lever("policy=none,dynamic-zero-2022").choices == ("none", "dynamic-zero-2022")
    for bad, words in (("containment.zoning.sealed_release_days=21:7", "is empty; give LO < HI"),
                       ("containment.zoning.sealed_release_days", "expected PATH=LO:HI"),
                       ("x=1", "at least two choices"), ("x=a:b", "two numbers")):
        with pytest.raises(InputError) as caught:
            parse_lever(bad)
        assert words in str(caught.value) and str(caught.value).startswith("--lever ")


def test_bad_levers_name_the_lever_and_the_fix():
    scenario = zerosim.load_scenario("demo", {"policy": "dynamic-zero-2022"})
    cases = (
        ("containment.zoning.release_after_days=7:21", "unknown field"),
        ("containment.testing.campaigns.9.interval_days=1:7", "no list item"),
        ("containment.testing.campaigns.0.interval_days=0:7", "must be >= 1"),
        ("containment.zoning.enabled=0:1", "not a number"),
    )
    for text, words in cases:
        with pytest.raises(InputError) as caught:
            check_levers(scenario, [parse_lever(text)])
        message = str(caught.value)
        assert message.startswith(f"--lever {text}: ") and words in message and "\n" not in message, message
    with pytest.raises(InputError, match="did you mean"):
        check_levers(scenario, [parse_lever("containment.zoning.sealed_release_dayz=7:21")])


def test_containment_levers_change_every_period_that_has_the_field():
    scenario = zerosim.load_scenario("shanghai-2022", {"population.size": 20000})
    changed = apply_levers(scenario, {"containment.zoning.sealed_release_days": 3,
                                      "containment.testing.campaigns.1.interval_days": 5})
    periods = changed.resolved_periods()
    assert all(config.zoning.sealed_release_days == 3 for _, config in periods)
    assert all(config.testing.campaigns[1].interval_days == 5 for _, config in periods
               if len(config.testing.campaigns) > 1)


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                      dashboard_address=None) as local:
        yield local


def _search(scenario, cluster, out, seed):
    return run_frontier(scenario, ["containment.testing.campaigns.0.interval_days=1:7",
                                   "containment.zoning.sealed_release_days=3:21"],
                        "infections,confined_person_days", trials=6, batch=3, seeds=1, seed=seed,
                        scheduler=cluster.scheduler_address, out=out)


def test_frontier_is_non_dominated_holds_each_best_and_is_reproducible(tmp_path, cluster):
    scenario = zerosim.load_scenario("demo", {"population.size": 4000, "duration_days": 20,
                                              "policy": "dynamic-zero-2022"})
    first = _search(scenario, cluster, tmp_path / "one", seed=5)
    second = _search(scenario, cluster, tmp_path / "two", seed=5)
    keys = ["infections", "confined_person_days"]
    written = pd.read_parquet(tmp_path / "one" / "frontier.parquet")
    trials = pd.read_parquet(tmp_path / "one" / "trials.parquet")
    assert first.failures == [] and len(trials) == 6
    values = written[keys].to_numpy()
    for i in range(len(values)):
        for j in range(len(values)):
            assert i == j or not _dominates(values[j], values[i])
    for key in keys:
        assert written[key].min() == trials[key].min()
    pd.testing.assert_frame_equal(written, pd.read_parquet(tmp_path / "two" / "frontier.parquet"))
    assert first.factor == second.factor and first.closest == second.closest
    for point in written["id"]:  # each point's scenario reproduces its lever values
        again = zerosim.load_scenario(str(tmp_path / "one" / "points" / f"{point}.yaml"))
        row = written[written["id"] == point].iloc[0]
        config = again.resolved_containment()
        assert config.zoning.sealed_release_days == row["containment.zoning.sealed_release_days"]
        assert config.testing.campaigns[0].interval_days == row["containment.testing.campaigns.0.interval_days"]
    meta = json.loads((tmp_path / "one" / "frontier.json").read_text())
    assert meta["kind"] == "frontier" and meta["actual"]["containment.zoning.sealed_release_days"] == 7
    assert "radial factor" in meta["inside"]["definition"]
    from zerosim.report import write_report

    page = write_report([tmp_path / "one"], tmp_path / "one" / "report.html").read_text()
    assert "frontier of infections against" in page and "<svg" in page and "actual policy" in page
    assert all(point in page for point in written["id"])


def test_frontier_command_refuses_a_bad_lever_before_any_work(tmp_path):
    out = tmp_path / "front"
    result = CliRunner().invoke(app, ["frontier", "demo", "--set", "policy=dynamic-zero-2022", "--lever",
                                      "containment.zoning.release_after_days=7:21", "--out", str(out)])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: --lever containment.zoning.release_after_days=7:21: ")
    assert not out.exists()


def test_frontier_command_end_to_end(tmp_path, cluster):
    out = tmp_path / "front"
    result = CliRunner().invoke(app, [
        "frontier", "demo", "--population", "3000", "--days", "12", "--set", "policy=dynamic-zero-2022",
        "--lever", "containment.zoning.sealed_release_days=3:21", "--lever", "containment.tracing.central_days=0,7,14",
        "--trials", "4", "--batch", "2", "--out", str(out), "--scheduler", cluster.scheduler_address, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "non-dominated points of 4 trials" in result.stdout and "actual policy:" in result.stdout
    assert "trial" not in result.stderr, result.stderr  # --quiet: no progress lines either
    assert (out / "frontier.png").stat().st_size > 10_000 and list((out / "points").glob("t*.yaml"))
    trials = pd.read_parquet(out / "trials.parquet")
    assert set(trials["containment.tracing.central_days"]) <= {0, 7, 14}
