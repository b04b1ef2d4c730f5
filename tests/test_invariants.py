"""Check mode (ZEROSIM_CHECK=1, ``zerosim run --check``): each invariant holds on a real run and is caught,
as a one-line StateError naming it, when the state is broken on purpose."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from zerosim.api import build
from zerosim.cli.app import app
from zerosim.engine.invariants import CHECK_ENV, InvariantChecker, check_mode_enabled
from zerosim.errors import StateError
from zerosim.io.scenario import load_scenario
from zerosim.policy.isolation import Isolation
from zerosim.policy.testing import TestingCounter, lab_capacity
from zerosim.population.state import Compartment, IsolationStatus, Mobility

from .test_cli import assert_one_line_error

OVERRIDES = {"population.size": 20_000, "duration_days": 12, "seed": 4, "seeding.0.count": 200,
             "policy": "dynamic-zero-2022", "behaviour.enabled": True}
DAY = 11  # the last day: every check below corrupts the state as it stands after it


@pytest.fixture(scope="module")
def finished():
    """A small dynamic-zero run (every policy component and Compliance) stepped to its last day in check mode."""
    simulation = build(load_scenario("demo", OVERRIDES))
    simulation.checker = InvariantChecker()
    simulation.run()  # every day checked: the invariants hold on a real run
    assert simulation.state.testing_counts[TestingCounter.CUMULATIVE_CASES] > 0  # the policies had work to do
    return simulation


@pytest.fixture()
def simulation(finished):
    """A copy of the finished run, to break."""
    import copy

    return copy.deepcopy(finished)


def check(simulation) -> None:
    simulation.checker.check(simulation.state, DAY, (component for component, _ in simulation.plan))


def test_every_component_with_state_to_guard_has_a_check(finished):
    checked = {component.name for component, _ in finished.plan if hasattr(component, "check")}
    assert {"disease", "testing", "isolation", "tracing", "confinement"} <= checked


def _move_a_count(state):
    state.count_by_district[0, Compartment.SUSCEPTIBLE] -= 1
    state.count_by_district[0, Compartment.RECOVERED] += 1


def _infect_behind_the_list(state):
    agent = int(np.flatnonzero(state.compartment == Compartment.SUSCEPTIBLE)[0])
    state.compartment[agent] = Compartment.EXPOSED
    band = min(int(state.age[agent]) // 10, state.count_by_age_band.shape[0] - 1)
    for counts, row in ((state.count_by_district, state.district_id[agent]), (state.count_by_age_band, band)):
        counts[row, Compartment.SUSCEPTIBLE] -= 1
        counts[row, Compartment.EXPOSED] += 1


def _overfill_beds(state, simulation):
    isolation = next(c for c, _ in simulation.plan if c.name == "isolation")
    beds = isolation.beds(state)
    free = np.flatnonzero(state.isolation_status == IsolationStatus.NONE)[: beds + 1]
    state.isolation_status[free] = IsolationStatus.ISOLATED
    state.day_isolation_change[free] = DAY


def _overwork_the_lab(state, simulation):
    testing = next(c for c, _ in simulation.plan if c.name == "testing")
    state.testing_counts[TestingCounter.TUBES_PROCESSED_TODAY] = lab_capacity(testing.config, state) + 1


def _facility_without_mobility(state):
    free = int(np.flatnonzero(state.mobility == Mobility.FREE)[0])
    state.facility_id[free] = 0


BREAKS = {
    "compartment_codes": lambda state, sim: state.compartment.__setitem__(0, 42),
    "people_conserved_by_district": lambda state, sim: state.count_by_district.__setitem__((0, 0), state.count_by_district[0, 0] + 1),
    "people_conserved_by_age_band": lambda state, sim: state.count_by_age_band.__setitem__((2, 0), state.count_by_age_band[2, 0] - 1),
    "counts_match_recount": lambda state, sim: _move_a_count(state),
    "infected_list_complete": lambda state, sim: _infect_behind_the_list(state),
    "lab_backlog": lambda state, sim: state.testing_counts.__setitem__(
        TestingCounter.LAB_BACKLOG, state.testing_counts[TestingCounter.LAB_BACKLOG] + 1),
    "testing_counts_non_negative": lambda state, sim: state.testing_counts.__setitem__(TestingCounter.CASES_TODAY, -1),
    "lab_capacity": _overwork_the_lab,
    "swab_requests_conserved": lambda state, sim: state.testing_counts.__setitem__(
        TestingCounter.REQUESTED_TOTAL, state.testing_counts[TestingCounter.REQUESTED_TOTAL] + 1),
    "isolation_beds": _overfill_beds,
    "facility_matches_mobility": lambda state, sim: _facility_without_mobility(state),
    "mobility_codes": lambda state, sim: state.mobility.__setitem__(0, 9),
}


@pytest.mark.parametrize("invariant", sorted(BREAKS))
def test_a_broken_invariant_is_named_in_one_line(simulation, invariant):
    check(simulation)  # holds before
    BREAKS[invariant](simulation.state, simulation)
    with pytest.raises(StateError) as raised:
        check(simulation)
    message = str(raised.value)
    assert message.startswith(f"invariant {invariant} broken on day {DAY}: ") and "\n" not in message, message
    assert any(ch.isdigit() for ch in message.split(": ", 1)[1])  # the numbers are given


def test_the_dead_stay_dead(simulation):
    state = simulation.state
    agent = int(np.flatnonzero(state.compartment == Compartment.SUSCEPTIBLE)[0])
    state.compartment[agent] = Compartment.DEAD
    simulation.checker._check_population(state, DAY)  # today's dead remembered
    state.compartment[agent] = Compartment.SUSCEPTIBLE
    with pytest.raises(StateError, match=f"invariant dead_stay_dead broken on day {DAY + 1}: 1 agents dead"):
        simulation.checker._check_population(state, DAY + 1)


def test_check_mode_follows_the_environment(monkeypatch):
    for value, expected in (("1", True), ("yes", True), ("0", False), ("", False), ("off", False)):
        monkeypatch.setenv(CHECK_ENV, value)
        assert check_mode_enabled() is expected
    monkeypatch.delenv(CHECK_ENV)
    assert not check_mode_enabled()
    assert build(load_scenario("well-mixed", {"population.size": 2_000, "duration_days": 2})).checker is None


def test_run_check_stops_a_bug_with_exit_3(tmp_path, monkeypatch):
    """A deliberately broken Isolation (it forgets the bed limit) is stopped by ``zerosim run --check``."""
    monkeypatch.setenv(CHECK_ENV, "0")  # off (and restored after the test: --check below sets it)
    original = Isolation.step

    def step_without_bed_limit(self, state, day, rng):
        original(self, state, day, rng)
        waiting = np.flatnonzero(state.isolation_status == IsolationStatus.WAITING)
        state.isolation_status[waiting] = IsolationStatus.ISOLATED
        state.day_isolation_change[waiting] = day

    monkeypatch.setattr(Isolation, "step", step_without_bed_limit)
    args = ["run", "demo", "--population", "20000", "--days", "20", "--seed", "4", "--set", "seeding.0.count=200",
            "--set", "policy=dynamic-zero-2022", "--set", "containment.isolation.beds_per_100k=10",
            "--no-figures", "--quiet"]
    unchecked = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "unchecked")])
    assert unchecked.exit_code == 0, unchecked.output  # the bug goes unnoticed without --check
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "checked"), "--check"])
    assert_one_line_error(result, "invariant isolation_beds broken on day", "beds", code=3)


def test_a_waived_invariant_is_skipped_and_only_that_one(simulation):
    simulation.checker.waive("lab_backlog", "a test")
    BREAKS["lab_backlog"](simulation.state, simulation)
    check(simulation)  # waived: no error
    BREAKS["isolation_beds"](simulation.state, simulation)
    with pytest.raises(StateError, match="invariant isolation_beds broken"):
        check(simulation)


# -- the check kernels against NumPy references ------------------------------------------------------
def test_recount_kernel_matches_numpy():
    from zerosim.disease.kernels import recount_compartments

    rng = np.random.default_rng(3)
    n, districts, bands, codes = 5_000, 7, 9, len(Compartment)
    compartment = rng.integers(0, codes, n).astype(np.int8)
    district = rng.integers(0, districts, n).astype(np.int8)
    age = rng.integers(0, 101, n).astype(np.uint8)
    mobility = rng.choice([Mobility.FREE, Mobility.HOME, Mobility.AWAY], n, p=[0.6, 0.3, 0.1]).astype(np.int8)
    by_district, by_band = np.zeros((districts, codes), np.int64), np.zeros((bands, codes), np.int64)
    away, infected = recount_compartments(compartment, district, age, mobility, np.int8(Mobility.AWAY),
                                          by_district, by_band)
    here = mobility != Mobility.AWAY
    band = np.minimum(age // 10, bands - 1).astype(np.intp)
    assert away == (~here).sum()
    assert infected == ((compartment >= Compartment.EXPOSED) & (compartment <= Compartment.CRITICAL)).sum()
    expected = np.zeros_like(by_district)
    np.add.at(expected, (district[here].astype(np.intp), compartment[here].astype(np.intp)), 1)
    assert np.array_equal(by_district, expected)
    expected = np.zeros_like(by_band)
    np.add.at(expected, (band[here], compartment[here].astype(np.intp)), 1)
    assert np.array_equal(by_band, expected)


def test_facility_tally_kernel_matches_numpy():
    from zerosim.policy.kernels import tally_facilities
    from zerosim.population.state import QuarantineStatus

    rng = np.random.default_rng(4)
    n, districts = 5_000, 6
    mobility = rng.integers(0, len(Mobility), n).astype(np.int8)
    facility = np.where(rng.random(n) < 0.2, rng.integers(0, 2 * districts, n), -1).astype(np.int32)
    isolation = rng.integers(0, len(IsolationStatus), n).astype(np.int8)
    quarantine = rng.integers(0, len(QuarantineStatus), n).astype(np.int8)
    expected = (mobility.min(), mobility.max(), ((mobility == Mobility.FACILITY) != (facility >= 0)).sum(),
                facility.max(), ((facility >= 0) & (facility < districts)).sum(), (facility >= districts).sum(),
                (isolation == IsolationStatus.ISOLATED).sum(), (quarantine == QuarantineStatus.CENTRAL).sum())
    assert tuple(int(v) for v in tally_facilities(mobility, facility, isolation, quarantine, districts)) == \
        tuple(int(v) for v in expected)


def test_compartment_scan_kernel_matches_numpy():
    from zerosim.engine.invariants import _scan_compartments

    rng = np.random.default_rng(5)
    n, residents = 5_000, 4_000
    dead, away = np.int8(Compartment.DEAD), np.int8(Mobility.AWAY)
    was_dead = rng.random(residents) < 0.1
    compartment = rng.integers(0, len(Compartment), n).astype(np.int8)
    mobility = rng.choice([Mobility.FREE, Mobility.AWAY], n, p=[0.9, 0.1]).astype(np.int8)
    revived = np.flatnonzero(was_dead & (compartment[:residents] != dead))
    today = (compartment[:residents] == dead) & (mobility[:residents] != away)
    got = _scan_compartments(compartment, mobility, was_dead, dead, away)
    assert tuple(int(v) for v in got) == (compartment.min(), compartment.max(), revived.size, revived[0])
    assert np.array_equal(was_dead, today)
