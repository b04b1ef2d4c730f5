"""Shared fixtures: small synthetic cities and quick runs."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest

from zerosim.population.config import PopulationConfig
from zerosim.population.synthesis import build_population

# Every simulation the tests run (in this process and in the CLI subprocesses they start) checks its
# invariants every day: conservation of people, capacities (zerosim.engine.invariants). ZEROSIM_CHECK=0
# in the environment turns it off, e.g. to time the suite without it.
os.environ.setdefault("ZEROSIM_CHECK", "1")


@pytest.fixture(scope="session")
def make_state():
    """make_state(n, seed, **population_fields) -> a fresh PopulationState (builds cached, copies returned)."""
    cache: dict = {}

    def factory(n: int = 5000, seed: int = 1, **fields):
        key = (n, seed, tuple(sorted(fields.items())))
        if key not in cache:
            cache[key] = build_population(PopulationConfig(size=n, **fields), seed)
        return copy.deepcopy(cache[key])

    return factory


def assert_only_declared_writes(component, state, day: int = 0, seed: int = 1) -> None:
    """Run one step of ``component`` and fail if it changed an array it did not declare in ``writes``."""
    from zerosim.engine.rng import component_rng

    before = {name: array.copy() for name, array in {**state.arrays, **state.unit_arrays}.items()}
    component.step(state, day, component_rng(seed, component.name))
    for name, array in {**state.arrays, **state.unit_arrays}.items():
        if name not in component.writes:
            assert np.array_equal(before[name], array), f"{component.name} changed undeclared array {name}"
