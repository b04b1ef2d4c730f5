"""Case handling and contact tracing: capacities are never exceeded, everyone waiting is counted,
discharge and quarantine follow their rules."""

from __future__ import annotations

import numpy as np

from zerosim.disease.config import preset
from zerosim.engine.rng import component_rng
from zerosim.policy.config import IsolationConfig, TracingConfig
from zerosim.policy.isolation import Isolation
from zerosim.policy.tracing import Tracing
from zerosim.population.state import Compartment, IsolationStatus, QuarantineStatus

VIRAL_LOAD = preset("omicron_ba2").viral_load


def infect_for_test(state, agents, day_infected):
    """Give agents a simple viral-load course: detectable +1 day, peak +3 (8 log10), clear +10."""
    state.compartment[agents] = Compartment.MILD
    state.day_infected[agents] = day_infected
    state.day_viral_detectable[agents] = day_infected + 1
    state.day_viral_peak[agents] = day_infected + 3
    state.day_viral_clear[agents] = day_infected + 10
    state.viral_peak_log10[agents] = 8.0


def test_beds_never_exceeded_and_waiting_is_accounted(make_state):
    state = make_state(10_000)
    config = IsolationConfig(enabled=True, transfer_delay_days=1, beds_per_100k=300, discharge_min_days=3,
                             discharge_negative_days=2, home_monitoring_days=2)  # 30 beds
    isolation = Isolation(config, VIRAL_LOAD)
    rng = component_rng(1, "isolation")
    beds = isolation.beds(state)
    assert beds == 30
    detected_total = 0
    for day in range(40):
        if day < 10:
            new = np.arange(day * 10, day * 10 + 10)
            infect_for_test(state, new, day - 2)
            state.day_detected[new] = day
            detected_total += new.size
        isolation.step(state, day, rng)
        status = state.isolation_status
        assert (status == IsolationStatus.ISOLATED).sum() <= beds
        accounted = np.isin(status, [IsolationStatus.WAITING, IsolationStatus.ISOLATED,
                                     IsolationStatus.HOME_MONITORING, IsolationStatus.RELEASED]).sum()
        assert accounted == detected_total  # every detected case is somewhere
    assert (state.isolation_status[:100] == IsolationStatus.RELEASED).all()


def test_discharge_waits_for_negative_tests(make_state):
    state = make_state(2000)
    config = IsolationConfig(enabled=True, transfer_delay_days=0, discharge_min_days=2, discharge_negative_days=2,
                             discharge_threshold_log10=4.0, home_monitoring_days=0)
    isolation = Isolation(config, VIRAL_LOAD)
    infect_for_test(state, np.array([5]), 0)
    state.day_detected[5] = 2
    released_on = None
    for day in range(2, 20):
        isolation.step(state, day, component_rng(1, "i"))
        if state.isolation_status[5] == IsolationStatus.RELEASED and released_on is None:
            released_on = day
    # load falls below 4 log10 on day 9 (8 - 5*(t-3)/7 < 4 <=> t > 8.6): two negative days -> day 10
    assert released_on == 10


def _detect_a_few_cases_on_the_first_days(state, day):
    """Days 0-4: seven cases found a day, each waiting for a bed (so that tracing has contacts to quarantine)."""
    if day < 5:
        cases = np.arange(day * 50, day * 50 + 20, 3)
        state.day_detected[cases] = day
        state.isolation_status[cases] = IsolationStatus.WAITING


def test_quarantine_rooms_never_exceeded(make_state):
    state = make_state(20_000)
    config = TracingConfig(enabled=True, delay_days=0, rooms_per_100k=100, central_days=3, home_days=2,
                           secondary_contacts=True, workplace_contacts=5)
    tracing = Tracing(config)
    tracing.setup(state, component_rng(1, "t"))
    rooms = 20
    seen_waiting = False
    for day in range(30):
        _detect_a_few_cases_on_the_first_days(state, day)
        tracing.step(state, day, component_rng(1, "t"))
        central = (state.quarantine_status == QuarantineStatus.CENTRAL).sum()
        assert central <= rooms
        seen_waiting |= bool((state.quarantine_status == QuarantineStatus.WAITING_ROOM).any())
        # the cases themselves are never quarantined
        assert (state.quarantine_status[state.isolation_status != IsolationStatus.NONE] == QuarantineStatus.NONE).all()
    assert seen_waiting  # demand exceeded the rooms, so people waited at home
    assert (state.quarantine_status == QuarantineStatus.NONE).all()  # everyone released in the end


def test_a_wait_for_a_room_ends_with_the_quarantine_it_replaces(make_state):
    """Rooms far short of demand: a contact waits at home, but never longer than the central and home days
    together, counted from the day of the pick-up (policies.md 3), and nobody is left waiting at the end."""
    state = make_state(20_000)
    config = TracingConfig(enabled=True, delay_days=0, rooms_per_100k=5, central_days=3, home_days=2,
                           secondary_contacts=False, workplace_contacts=5)
    tracing = Tracing(config)
    tracing.setup(state, component_rng(1, "t"))
    waited = np.zeros(state.size, dtype=np.int64)
    longest = 0
    for day in range(40):
        _detect_a_few_cases_on_the_first_days(state, day)
        tracing.step(state, day, component_rng(1, "t"))
        waiting = state.quarantine_status == QuarantineStatus.WAITING_ROOM
        waited = np.where(waiting, waited + 1, 0)
        longest = max(longest, int(waited.max()))
    assert 2 <= longest <= config.central_days + config.home_days, longest
    assert not (state.quarantine_status == QuarantineStatus.WAITING_ROOM).any()


def test_household_and_infectees_are_close_contacts(make_state):
    state = make_state(10_000)
    tracing = Tracing(TracingConfig(enabled=True, coverage_fraction=1.0, workplace_contacts=0, delay_days=1,
                                    secondary_contacts=False))
    tracing.setup(state, component_rng(1, "t"))
    g = state.groups
    case = int(g.household_start[np.flatnonzero(np.diff(g.household_start) >= 3)[0]])
    infectee = 9000
    state.infected_by[infectee] = case
    state.day_infected[infectee] = 3
    state.day_detected[case] = 5
    state.isolation_status[case] = IsolationStatus.WAITING
    tracing.step(state, 5, component_rng(1, "t"))
    household = np.arange(g.household_start[state.household_id[case]], g.household_start[state.household_id[case] + 1])
    contacts = np.flatnonzero(state.quarantine_status == QuarantineStatus.PENDING)
    assert set(contacts) == (set(household) - {case}) | {infectee}
    assert (state.day_quarantine_start[contacts] == 6).all()
    tracing.step(state, 6, component_rng(1, "t"))
    assert (state.quarantine_status[contacts] == QuarantineStatus.CENTRAL).all()
