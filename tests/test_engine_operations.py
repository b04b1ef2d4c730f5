"""Engine operations other layers use instead of private access: find a component (the period in
force for a scheduled one), and standing in for a kind that does not run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from zerosim.engine.component import Phase
from zerosim.engine.schedule import Scheduled
from zerosim.engine.simulation import Simulation
from zerosim.errors import StateError


@dataclass
class Part:
    name: str
    kind: str
    stands_in_for: frozenset = frozenset()
    array: str = ""
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset()

    @property
    def writes(self):
        return frozenset({self.array} if self.array else ())

    def setup(self, state, rng):
        pass

    def step(self, state, day, rng):
        pass

    def report(self, state, day):
        return {}


def test_find_gives_the_period_in_force_on_a_day(make_state):
    early, late = Part("tracing", "tracing"), Part("tracing", "tracing")
    other = Part("ledger", "ledger")
    simulation = Simulation(make_state(300), [Scheduled([(0, early), (5, late)]), other], days=10, seed=1)
    assert simulation.find("ledger") is other and simulation.find("ledger", 7) is other
    assert simulation.find("tracing", 4) is early
    assert simulation.find("tracing", 5) is late
    assert simulation.find("tracing") is early
    assert simulation.find("testing") is None and simulation.find("testing", 3) is None


def test_a_stand_in_may_write_the_arrays_of_a_kind_that_does_not_run(make_state):
    Simulation(make_state(300), [Part("screen", "screen", frozenset({"confinement"}), "mobility")], days=1, seed=1)


def test_a_stand_in_for_a_kind_that_runs_is_refused(make_state):
    parts = [Part("screen", "screen", frozenset({"confinement"})), Part("confinement", "confinement")]
    with pytest.raises(StateError, match="stands in for 'confinement', which runs"):
        Simulation(make_state(300), parts, days=1, seed=1)


def test_standing_in_for_one_kind_does_not_open_another_kinds_arrays(make_state):
    with pytest.raises(StateError, match="'quarantine_status', which 'tracing' owns"):
        Simulation(make_state(300), [Part("screen", "screen", frozenset({"confinement"}), "quarantine_status")],
                   days=1, seed=1)
