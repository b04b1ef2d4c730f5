"""Closures read the zone levels that zoning keeps: a policy with closures on and zoning off must run
(it crashed at set-up with "declares unknown state array 'city_zone'" before issue 19 needed that arm)."""

from __future__ import annotations

import zerosim


def test_closures_run_without_zoning():
    scenario = zerosim.load_scenario("demo", {"population.size": 3000, "duration_days": 8,
                                              "policy": "dynamic-zero-2022", "containment.zoning.enabled": False,
                                              "containment.closures.schools_closed": True})
    results = zerosim.run(scenario)
    assert results.summary["days"] == 8
    assert results.events.empty  # the zoning that runs with closures is dormant: no zone ever changes
    assert results.timeseries["sealed"].sum() == 0
