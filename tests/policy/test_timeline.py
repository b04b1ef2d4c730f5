"""Policy timelines: containment that starts later, and the exit (policy switched off on a day)."""

from __future__ import annotations

import pytest

import zerosim


def run(timeline, days=60, policy="dynamic-zero-2022", size=40_000, seed=2, seeding=None):
    overrides = {"population.size": size, "duration_days": days, "seed": seed, "policy": policy, "timeline": timeline}
    if seeding is not None:
        overrides["seeding"] = seeding
    return zerosim.run("demo", overrides=overrides)


def test_the_exit_lifts_every_restriction():
    exit_day = 25
    results = run([{"day": exit_day, "policy": "none"}],
                  days=60, policy="dynamic-zero-2022")
    ts = results.timeseries
    before, after = ts[ts.day < exit_day], ts[ts.day >= exit_day]
    assert before["sealed"].max() > 0 and before["tests_swabbed"].sum() > 0
    assert (after[["sealed", "controlled", "precaution", "in_isolation", "in_quarantine"]] == 0).all().all()
    assert (after["confined_home"] + after["confined_compound"] + after["in_facility"] == 0).all()
    events = results.events
    assert ((events["day"] == exit_day) & (events["reason"] == "all zones lifted: policy changed")).sum() == 1
    # an import after the exit spreads; under continued containment it is stopped
    imports = [{"day": 0, "count": 20, "district": "Pudong"}, {"day": 35, "count": 20}]
    reopened = run([{"day": exit_day, "policy": "none"}], seeding=imports)
    stay = run([], seeding=imports)
    assert reopened.summary["infections"] > 10 * stay.summary["infections"]


def test_containment_can_start_later():
    start = 15
    results = run([{"day": start, "policy": "dynamic-zero-2022"}], days=40, policy="none")
    ts = results.timeseries
    assert (ts[ts.day < start][["tests_swabbed", "sealed", "cases_detected"]] == 0).all().all()
    assert ts[ts.day >= start]["tests_swabbed"].sum() > 0
    free = run([], days=40, policy="none")
    assert results.summary["infections"] < free.summary["infections"]


def test_timeline_errors_name_the_step():
    with pytest.raises(zerosim.ScenarioError, match="timeline.0.policy"):
        run([{"day": 5, "policy": "zero-everything"}])
    with pytest.raises(zerosim.ScenarioError, match="timeline: days must increase"):
        run([{"day": 9, "policy": "none"}, {"day": 5, "policy": "none"}])
    with pytest.raises(zerosim.ScenarioError, match="timeline.0.day"):
        run([{"day": 500, "policy": "none"}])
    with pytest.raises(zerosim.ScenarioError, match="timeline.0.containment.zoning.sealed_release_days"):
        run([{"day": 5, "policy": "dynamic-zero-2022", "containment": {"zoning.sealed_release_days": 0}}])
