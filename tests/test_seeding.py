"""Seeding: conditioning on establishment (``seeding.N.until_established_day``) introduces the seeded
number again whenever nobody is infected, up to that day and never after it."""

from __future__ import annotations

import numpy as np

import zerosim

BASE = {"population.size": 3000, "duration_days": 40, "policy": "none", "transmission.r0": 0.05,
        "seeding.0.count": 1, "seeding.0.day": 2}


def _new_infections(**extra) -> np.ndarray:
    results = zerosim.run(zerosim.load_scenario("demo", {**BASE, **extra}), figures=False)
    return results.timeseries["new_infections"].to_numpy()


def test_a_chain_that_dies_out_is_followed_by_another_introduction_until_the_day():
    once = _new_infections()
    assert once[2] == 1 and once.sum() <= 2  # R0 0.05: the one seeded chain dies at once
    again = _new_infections(**{"seeding.0.until_established_day": 30})
    seeded_days = np.flatnonzero(again)
    assert again[:2].sum() == 0 and again[2] == 1
    assert len(seeded_days) >= 3, seeded_days  # re-introduced after each extinction (a course lasts ~1-2 weeks)
    assert seeded_days.max() <= 30 + 1  # none after the day (an infection on day 31 would be the last chain's)
