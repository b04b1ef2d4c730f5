"""Conservation: compartments sum to N every day, and the running counts match a recount."""

from __future__ import annotations

import numpy as np

import zerosim
from zerosim.population.state import COMPARTMENT_COUNT


def test_compartments_sum_to_population_every_day():
    results = zerosim.run("demo", overrides={"population.size": 30_000, "duration_days": 60, "seed": 3})
    ts = results.timeseries
    total = ts["susceptible"] + ts["exposed"] + ts["infectious"] + ts["recovered"] + ts["dead"]
    assert (total == 30_000).all()
    assert results.summary["infections"] == 30_000 - ts["susceptible"].iloc[-1]
    # by-district new infections add up to the citywide series
    daily = results.by_district.groupby("day")["new_infections"].sum().to_numpy()
    assert np.array_equal(daily, ts["new_infections"].to_numpy())


def test_running_counts_match_recount():
    simulation = zerosim.build(zerosim.load_scenario("demo", {"population.size": 20_000, "duration_days": 30}))
    simulation.run()
    state = simulation.state
    recount = np.zeros((state.district_count, COMPARTMENT_COUNT), dtype=np.int64)
    np.add.at(recount, (state.district_id.astype(np.intp), state.compartment.astype(np.intp)), 1)
    assert np.array_equal(recount, state.count_by_district)
    by_age = np.zeros_like(state.count_by_age_band)
    np.add.at(by_age, (np.minimum(state.age // 10, 8).astype(np.intp), state.compartment.astype(np.intp)), 1)
    assert np.array_equal(by_age, state.count_by_age_band)


def test_infected_list_matches_the_compartments_every_day():
    """The disease layer's list of the infected (used instead of scanning N) is exact every day."""
    scenario = zerosim.load_scenario("demo", {"population.size": 20_000, "duration_days": 40,
                                              "policy": "dynamic-zero-2022", "seeding.0.count": 40})
    simulation = zerosim.build(scenario)
    simulation.setup()
    state = simulation.state
    listed_any = False
    for day in range(scenario.duration_days):
        simulation.step(day)
        active = state.stores["active_agents"]
        expected = np.flatnonzero((state.compartment >= 1) & (state.compartment <= 6))
        assert np.array_equal(active.view(), expected), day
        listed_any |= expected.size > 0
    assert listed_any
