"""Analytic oracles in the well-mixed scenario: final size and Euler-Lotka early growth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

import zerosim
from zerosim.disease.components import NaturalHistory, course_table
from zerosim.disease.kernels import log10_viral_load
from zerosim.engine.rng import component_rng


def final_size(r0: float) -> float:
    """Root z in (0, 1) of z = 1 - exp(-r0 z)."""
    return brentq(lambda z: z - 1 + np.exp(-r0 * z), 1e-9, 1 - 1e-12)


@pytest.mark.statistical
@pytest.mark.parametrize("r0", [1.5, 2.5])
def test_final_size_matches_kermack_mckendrick(r0):
    attack = []
    for seed in range(1, 6):
        results = zerosim.run("well-mixed", overrides={"transmission.r0": r0, "seed": seed, "duration_days": 400})
        last = results.timeseries.iloc[-1]
        # over: nobody left who can still infect (a rare long hospital course may still be running:
        # severe-to-critical is a heavy-tailed log-normal, mean 3 d, sd 7.4 d)
        assert last["exposed"] + last["presymptomatic"] + last["asymptomatic"] + last["mild"] == 0, "still running"
        attack.append(results.summary["attack_rate"])
    assert abs(np.mean(attack) - final_size(r0)) < 0.02, (attack, final_size(r0))


def generation_time_distribution(scenario, make_state, n=100_000, max_days=60) -> np.ndarray:
    """g(tau): the mean infectiousness weight tau days after infection, from the model's own sampler."""
    state = make_state(n, 5, vaccinate=False)
    disease = scenario.disease.resolve()
    component = NaturalHistory(config=disease, hospitalised_transmit=True)
    component.setup(state, component_rng(1, "gt"))
    ids = np.arange(n)
    component.infect(state, ids, 0, component_rng(1, "gt"))
    vl = disease.viral_load
    scale = course_table(state, ids)["infectiousness_scale"]
    g = np.zeros(max_days)
    for tau in range(max_days):
        load = np.array([log10_viral_load(tau, a, b, c, d, vl.detection_limit_log10) for a, b, c, d in zip(
            state.day_viral_detectable, state.day_viral_peak, state.day_viral_clear, state.viral_peak_log10)])
        g[tau] = (np.clip(load - vl.infectious_threshold_log10, 0, None) * scale).mean()
    return g


@pytest.mark.statistical
def test_early_growth_matches_euler_lotka(make_state):
    r0 = 2.5
    scenario = zerosim.load_scenario("well-mixed", {"transmission.r0": r0})
    g = generation_time_distribution(scenario, make_state, n=20_000)
    assert abs(g.sum() - 1) < 0.03  # each course's weights sum to 1 on average: R0 is exact
    taus = np.arange(g.size)
    expected = brentq(lambda r: r0 * (g * np.exp(-r * taus)).sum() - 1, 1e-6, 5)
    rates = []
    for seed in range(1, 6):
        results = zerosim.run(scenario, overrides={"seed": seed, "population.size": 1_000_000, "duration_days": 80,
                                                   "seeding.0.count": 50})
        new = results.timeseries["new_infections"].to_numpy().astype(float)
        cumulative = np.cumsum(new)
        # exponential phase: from 1,000 infections to 1% of the population (depletion < 1%)
        window = np.flatnonzero((cumulative > 1_000) & (cumulative < 10_000))
        slope = np.polyfit(window, np.log(new[window]), 1)[0]
        rates.append(slope)
    assert abs(np.mean(rates) / expected - 1) < 0.10, (rates, expected)
