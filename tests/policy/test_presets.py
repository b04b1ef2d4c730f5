"""Presets end to end: each runs and writes every output; dynamic zero contains what 'none' does not."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import zerosim
from zerosim.cli.app import app
from zerosim.io.results import POLICY_COLUMNS
from zerosim.policy.presets import preset_names, resolve_containment

POLICY_SUMMARY_KEYS = ["tests_swabbed", "tubes_processed", "cases_detected", "false_positives", "max_lab_backlog",
                       "max_in_isolation", "max_in_quarantine", "peak_sealed_population", "city_sealed_days"]


def test_all_presets_validate():
    assert {"none", "dynamic-zero-2022", "shijiazhuang-2021", "wuhan-2020", "twenty-measures-nov-2022"} <= set(preset_names())
    for name in preset_names():
        resolve_containment(name)


def test_dynamic_zero_contains_the_demo_and_writes_everything(tmp_path):
    runs = {}
    for policy in ("none", "dynamic-zero-2022"):
        out = tmp_path / policy
        result = CliRunner().invoke(app, ["run", "demo", "--population", "100000", "--days", "60", "--seed", "4",
                                          "--set", f"policy={policy}", "--out", str(out)])
        assert result.exit_code == 0, result.output
        summary = json.loads((out / "summary.json").read_text())
        for key in POLICY_SUMMARY_KEYS:
            assert key in summary
        columns = pd.read_parquet(out / "timeseries.parquet").columns
        assert set(POLICY_COLUMNS) <= set(columns)
        events = pd.read_parquet(out / "events.parquet")
        assert list(events.columns) == ["day", "scope", "zone_id", "zone_name", "event", "reason"]
        runs[policy] = (summary, events, out)
    none, dz = runs["none"][0], runs["dynamic-zero-2022"][0]
    assert dz["infections"] < none["infections"] / 10
    assert none["tests_swabbed"] == 0 and none["peak_sealed_population"] == 0 and len(runs["none"][1]) == 0
    assert dz["cases_detected"] > 0 and dz["tests_swabbed"] > 0 and len(runs["dynamic-zero-2022"][1]) > 0
    for figure in ("testing_and_backlog.png", "people_by_zone.png", "district_lockdown_grid.png"):
        assert (runs["dynamic-zero-2022"][2] / figure).stat().st_size > 10_000


@pytest.mark.parametrize("policy", ["shijiazhuang-2021", "wuhan-2020", "twenty-measures-nov-2022"])
def test_other_presets_run(policy):
    results = zerosim.run("demo", overrides={"population.size": 30_000, "duration_days": 40, "policy": policy})
    assert results.summary["policy"] == policy
    assert results.summary["cases_detected"] > 0


def test_containment_overrides_and_errors(tmp_path):
    scenario = zerosim.load_scenario("demo", {"policy": "dynamic-zero-2022", "containment": {
        "testing.campaigns.0.pool_size": 20, "tracing": {"central_days": 14}}})
    resolved = scenario.resolved_containment()
    assert resolved.testing.campaigns[0].pool_size == 20 and resolved.tracing.central_days == 14
    with pytest.raises(zerosim.ScenarioError, match="containment.testing.campaigns.0.pool_size"):
        zerosim.load_scenario("demo", {"policy": "dynamic-zero-2022", "containment.testing.campaigns.0.pool_size": 7})
    with pytest.raises(zerosim.ScenarioError, match="policy"):
        zerosim.load_scenario("demo", {"policy": "zero-tolerance-9000"})


def test_capacity_limits_hold_in_a_full_run():
    results = zerosim.run("demo", overrides={"population.size": 100_000, "duration_days": 50, "policy": "shijiazhuang-2021",
                                             "seed": 2})
    ts = results.timeseries
    config = results.scenario.resolved_containment()
    lab = int(config.testing.lab_tubes_per_day_per_100k * 100_000 / 1e5)
    beds = int(round(config.isolation.beds_per_100k * 100_000 / 1e5))
    assert (ts["tubes_processed"] <= lab).all()
    assert (ts["in_isolation"] <= beds).all()
    # both limits were reached, so the two checks above had something to hold back
    assert (ts["tubes_processed"] == lab).any() and (ts["in_isolation"] == beds).any()
    # The lab never idles while tubes wait: each day it processes at least the tubes left waiting the
    # day before, or its whole capacity. (The backlog at the end of a day can be positive on a day the
    # lab was not full: pool re-tests are queued after the lab has run.)
    waiting_since_yesterday = ts["lab_backlog"].shift(1, fill_value=0).to_numpy()
    assert (ts["tubes_processed"].to_numpy() >= np.minimum(waiting_since_yesterday, lab)).all()
