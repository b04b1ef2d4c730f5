"""The region runner writes no array it does not own (issue 17, item 3).

Between the cities' days every per-agent array of every city, and its compartment counts, is made
read-only. Only the sanctioned operations may write, each only what it owns:

* the exchange (``zerosim.region.slots``: ``move_in``, ``move_home``, ``vacate``,
  ``arrive_from_outside``): what moves with a person, what a newcomer starts afresh and what parking
  a row sets (:func:`~zerosim.region.slots.exchange_writes`), and the counts;
* an owner's public method: the arrays whose ``ArraySpec.owner`` is its kind (testing's
  ``record_results``, tracing's ``set_quarantine``, transmission's ``record_outside_infections``,
  disease's ``infect`` with its counts);
* the travel screening's methods: what it declares in ``writes`` (the arrays of the kinds it stands
  in for in that city).

Any other write -- the runner's own code, or an operation writing beyond its share -- raises NumPy's
"assignment destination is read-only" at the line that does it. The cities' own days run unlocked
(the engine checks the components' declarations).
"""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest

import zerosim.region.runner as runner_module
from zerosim.disease.components import NaturalHistory
from zerosim.engine.simulation import Simulation
from zerosim.policy.testing import Testing
from zerosim.policy.tracing import Tracing
from zerosim.region.config import load_region, validate_region
from zerosim.region.runner import Region
from zerosim.region.screening import TravelScreening
from zerosim.region.slots import exchange_writes
from zerosim.transmission.components import Transmission

COUNTS = ("count_by_district", "count_by_age_band")


class WriteGuard:
    """Read-only state arrays, unlocked per sanctioned operation (see the module docstring)."""

    def __init__(self) -> None:
        self.states: list = []
        self.calls: Counter = Counter()

    def arrays(self, state, names=None):
        for name, array in state.arrays.items():
            if names is None or name in names:
                yield array
        for name in COUNTS + ("entered_by_district",):
            if (names is None or name in names) and name in state.unit_arrays:
                yield state.unit_arrays[name]

    @contextlib.contextmanager
    def unlocked(self, allowed):
        """``allowed(state)`` -> names writable in ``state`` (None: everything)."""
        changed = []
        for state in self.states:
            for array in self.arrays(state, allowed(state)):
                if not array.flags.writeable:
                    array.flags.writeable = True
                    changed.append(array)
        try:
            yield
        finally:
            for array in changed:
                array.flags.writeable = False

    def lock(self, states) -> None:
        self.states = list(states)
        for state in self.states:
            for array in self.arrays(state):
                array.flags.writeable = False

    def unlock_all(self) -> None:
        for state in self.states:
            for array in self.arrays(state):
                array.flags.writeable = True

    def sanction(self, label, function, allowed):
        guard = self

        def wrapped(*args, **kwargs):
            guard.calls[label] += 1
            with guard.unlocked(allowed):
                return function(*args, **kwargs)

        return wrapped


def owned_by(kind, *extra):
    return lambda state: {name for name, spec in state.schema.items() if spec.owner == kind} | set(extra)


@pytest.fixture
def guard(monkeypatch):
    guard = WriteGuard()
    original_step = Region.step

    def step(region, day):
        guard.lock(city.state for city in region.cities)
        try:
            original_step(region, day)
        finally:
            guard.unlock_all()

    monkeypatch.setattr(Region, "step", step)
    city_day = Simulation.step
    monkeypatch.setattr(Simulation, "step", guard.sanction("city day", city_day, lambda state: None))
    exchange = lambda state: exchange_writes(state) | set(COUNTS)  # noqa: E731
    for name in ("move_in", "move_home", "vacate", "arrive_from_outside"):
        monkeypatch.setattr(runner_module, name, guard.sanction(name, getattr(runner_module, name), exchange))
    for cls, method, kind, extra in (
        (Testing, "record_results", "testing", ()),
        (Tracing, "set_quarantine", "tracing", ()),
        (Transmission, "record_outside_infections", "transmission", ()),
        (NaturalHistory, "infect", "disease", COUNTS + ("entered_by_district",)),
    ):
        monkeypatch.setattr(cls, method, guard.sanction(f"{kind}.{method}", getattr(cls, method), owned_by(kind, *extra)))
    screening = {}

    def screening_writes(state):
        return screening.get(id(state), frozenset())

    original_init = Region.__init__

    def init(region, *args, **kwargs):
        original_init(region, *args, **kwargs)
        for city in region.cities:
            screening[id(city.state)] = city.screening.writes

    monkeypatch.setattr(Region, "__init__", init)
    for method in ("test", "quarantine", "set_tomorrow", "forget"):
        monkeypatch.setattr(TravelScreening, method,
                            guard.sanction(f"screening.{method}", getattr(TravelScreening, method), screening_writes))
    return guard


def _run(region: Region) -> None:
    for day in range(region.scenario.duration_days):
        region.step(day)


def test_diverted_train_runner_writes_only_through_owners(guard):
    region = Region(load_region("diverted-train", {"population_total": 80_000, "duration_days": 16}))
    stands_in = {city.name: city.screening.stands_in_for for city in region.cities}
    assert stands_in["Lhasa"] == {"tracing"} and stands_in["Beijing"] == frozenset()
    _run(region)
    calls = guard.calls
    assert calls["city day"] == 3 * 16
    for operation in ("move_in", "move_home", "vacate", "testing.record_results", "tracing.set_quarantine",
                      "screening.test", "screening.quarantine", "screening.set_tomorrow"):
        assert calls[operation] > 0, operation


def test_region_with_imports_and_a_city_without_containment(guard):
    """Importation (outside infections), and arrival quarantine in a city with no testing, tracing or
    confinement: the screening stands in for all three there."""
    clean = {"extends": "demo", "seeding": [], "policy": "none"}
    infected = {"extends": "demo", "seeding": [{"day": 0, "count": 60}], "policy": "dynamic-zero-2022"}
    data = {
        "kind": "region", "name": "guard", "seed": 5, "duration_days": 12,
        "travel": {"shipped_lines": False, "stay_days_mean": 3,
                   "lines": [{"origin": "A", "destination": "B", "mode": "rail", "trips_per_day": 600},
                             {"origin": "B", "destination": "A", "mode": "rail", "trips_per_day": 600}]},
        "cities": [{"name": "A", "population_size": 6000, "population_city": "shanghai", "scenario": infected},
                   {"name": "B", "population_size": 5000, "population_city": "shanghai", "scenario": clean}],
        "policies": {"arrival_quarantine": [{"city": "B", "origins": "any", "central_days": 3, "home_days": 2},
                                            {"city": "A", "origins": "any", "central_days": 2, "home_days": 1}],
                     "pre_departure_tests": [{"destination": "any", "origins": "any", "hours": 48}],
                     "outbound_ban_when_sealed": False, "inbound_closed_when_sealed": False},
        "importation": [{"city": "B", "arrivals_per_day": 200, "prevalence_fraction": 0.2}],
    }
    region = Region(validate_region(data))
    a, b = region.cities
    assert b.screening.stands_in_for == {"testing", "tracing", "confinement"}
    assert a.screening.stands_in_for == frozenset()
    _run(region)
    for operation in ("arrive_from_outside", "disease.infect", "transmission.record_outside_infections",
                      "screening.test", "screening.set_tomorrow", "move_home"):
        assert guard.calls[operation] > 0, operation
    for city in region.cities:  # arrivals from outside are counted once, at their own age
        ages, districts = city.state.count_by_age_band, city.state.count_by_district
        assert (ages >= 0).all() and (ages.sum(axis=0) == districts.sum(axis=0)).all()
    # B's quarantine was kept by the stand-in: arrivals went to a quarantine hotel, tests found cases
    in_b = [record for record in region.records if record["city"] == "B"]
    assert sum(record["arrival_quarantine_central"] for record in in_b) > 0
    assert sum(record["arrival_positives"] for record in in_b) > 0


def test_the_guard_catches_a_direct_write(guard, monkeypatch):
    """A runner that writes an owned array itself (here: mobility of arrivals, as it did before)."""
    original = Region._arrive

    def arrive(region, home, home_rows, dest, day, **kwargs):
        slots = original(region, home, home_rows, dest, day, **kwargs)
        dest.state.mobility[dest.residents + slots] = 0  # confinement's array, written by the runner
        return slots

    monkeypatch.setattr(Region, "_arrive", arrive)
    region = Region(load_region("diverted-train", {"population_total": 30_000, "duration_days": 3}))
    with pytest.raises(ValueError, match="read-only"):
        _run(region)


def test_an_operation_may_not_write_beyond_its_owner(guard, monkeypatch):
    """Testing's method writing a tracing array is caught too."""
    original = Testing.record_results

    def record_results(self, state, rows, positive, day, **kwargs):
        original(self, state, rows, positive, day, **kwargs)
        state.quarantine_status[rows] = state.quarantine_status[rows]

    monkeypatch.setattr(Testing, "record_results", guard.sanction("bad", record_results, owned_by("testing")))
    region = Region(load_region("diverted-train", {"population_total": 80_000, "duration_days": 16}))
    with pytest.raises(ValueError, match="read-only"):
        _run(region)


def test_the_exchange_writes_what_moves_never_the_rows_structure(make_state):
    state = make_state(300)
    writes = exchange_writes(state)
    assert {"compartment", "test_result", "quarantine_status", "age", "mobility", "infected_by"} <= writes
    assert not {"household_id", "compound_id", "workplace_id", "district_id", "worker_type"} & writes
