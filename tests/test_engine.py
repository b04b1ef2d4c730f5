"""Engine: declared reads/writes are enforced, streams are per component, policies plug in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import zerosim
from zerosim.engine.component import Phase
from zerosim.engine.rng import component_rng
from zerosim.engine.simulation import Simulation
from zerosim.errors import StateError
from zerosim.population.state import Mobility

from .conftest import assert_only_declared_writes


@dataclass
class Writer:
    name: str
    array: str = "workplace_is_open"
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset()

    @property
    def writes(self):
        return frozenset({self.array})

    def setup(self, state, rng):
        pass

    def step(self, state, day, rng):
        pass

    def report(self, state, day):
        return {}


def test_two_writers_of_one_array_are_named(make_state):
    state = make_state(500)
    with pytest.raises(StateError, match="'a' and 'b'"):
        Simulation(state, [Writer("a"), Writer("b")], days=1, seed=1)


def test_a_component_may_not_write_a_per_agent_array_another_kind_owns(make_state):
    with pytest.raises(StateError, match="'mobility', which 'confinement' owns"):
        Simulation(make_state(500), [Writer("a", array="mobility")], days=1, seed=1)


def test_unknown_array_is_refused(make_state):
    with pytest.raises(StateError, match="no_such_array"):
        Simulation(make_state(500), [Writer("a", array="no_such_array")], days=1, seed=1).setup()


def test_streams_are_keyed_by_component_name():
    a1 = component_rng(5, "transmission").random(4)
    a2 = component_rng(5, "transmission").random(4)
    b = component_rng(5, "mass_testing").random(4)
    assert np.array_equal(a1, a2)
    assert not np.array_equal(a1, b)


def test_components_write_only_what_they_declare(make_state):
    scenario = zerosim.load_scenario("demo", {"population.size": 5000})
    simulation = zerosim.build(scenario, population=make_state(5000))
    simulation.setup()
    for day in range(6):
        for component, _ in simulation.plan:
            assert_only_declared_writes(component, simulation.state, day=day)


@dataclass
class ConfineEveryone:
    """A minimal 'policy' written outside the engine: everyone stays home from a given day."""

    day_from: int
    name: str = "confine_everyone"
    kind: ClassVar[str] = "confinement"  # mobility is confinement's: this stands in for it (demo has none)
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset()
    writes: ClassVar[frozenset[str]] = frozenset({"mobility"})

    def setup(self, state, rng):
        pass

    def step(self, state, day, rng):
        if day == self.day_from:
            state.mobility[:] = Mobility.HOME

    def report(self, state, day):
        return {"confined": float((state.mobility == Mobility.HOME).sum())}


def test_a_policy_confines_people_without_touching_the_engine(make_state):
    # a flat sealed shut: no building contacts either (tests/test_leaks.py covers the leaky default)
    scenario = zerosim.load_scenario("demo", {"population.size": 20_000, "duration_days": 40,
                                              "transmission.sealed_contacts_per_day": None,
                                              "transmission.test_queue_contacts": None})
    base = zerosim.build(scenario, population=make_state(20_000))
    simulation = Simulation(base.state, [c for c, _ in base.plan] + [ConfineEveryone(day_from=10)], 40, scenario.seed)
    recorder = simulation.run()
    outside_home = sum(recorder.scalars[f"new_infections_{layer}"][11:].sum()
                       for layer in ("building", "compound", "workplace", "school", "community", "citywide"))
    assert outside_home == 0
    assert recorder.scalars["new_infections_household"][11:].sum() > 0
    assert recorder.scalars["confined"][-1] == 20_000
    # same seed without the policy: more infections (the layers outside home stay open)
    free = zerosim.build(scenario, population=make_state(20_000)).run()
    assert free.scalars["new_infections"].sum() > recorder.scalars["new_infections"].sum()
