"""Zoning: each trigger and release rule, including 'one case shuts the city' and 'confined though
ten negative tests'."""

from __future__ import annotations

import numpy as np
import pytest

from zerosim.engine.rng import component_rng
from zerosim.policy.config import ContainmentConfig, ZoningConfig
from zerosim.policy.confinement import Confinement
from zerosim.policy.zoning import Zoning, zone_neighbourhoods
from zerosim.population.state import Mobility, ZoneLevel


def make_zoning(state, **fields):
    zoning = Zoning(ZoningConfig(enabled=True, **fields))
    zoning.setup(state, component_rng(1, "zoning"))
    return zoning


def detect(state, agent, day, community=True):
    state.day_detected[agent] = day
    state.is_community_case[agent] = int(community)


def run_days(zoning, state, days):
    for day in days:
        zoning.step(state, day, component_rng(1, "zoning"))


def test_case_seals_its_compound_and_neighbours_go_to_precaution(make_state):
    state = make_state(20_000)
    zoning = make_zoning(state, compound_level_on_case="sealed", neighbours_level="precaution")
    case = 1234
    detect(state, case, 0)
    run_days(zoning, state, [0])
    compound = state.compound_id[case]
    hood = state.compound_neighbourhood  # at 20,000 people: neighbourhoods of a real subdistrict's size
    levels = state.compound_zone_level
    assert levels[compound] == ZoneLevel.SEALED
    neighbours = np.flatnonzero(hood == hood[compound])
    neighbours = neighbours[neighbours != compound]
    assert neighbours.size and (levels[neighbours] == ZoneLevel.PRECAUTION).all()
    others = hood != hood[compound]
    assert (levels[others] == ZoneLevel.NONE).all()
    log = state.stores["zone_events"]
    assert log.event.count("sealed") == 1 and log.reason[0] == "case among residents"


def test_quarantined_cases_do_not_trigger_unless_configured(make_state):
    state = make_state(5000)
    zoning = make_zoning(state)
    detect(state, 10, 0, community=False)
    run_days(zoning, state, [0])
    assert (state.compound_zone_level == 0).all()
    state2 = make_state(5000)
    zoning2 = make_zoning(state2, count_quarantined_cases=True)
    detect(state2, 10, 0, community=False)
    run_days(zoning2, state2, [0])
    assert state2.compound_zone_level[state2.compound_id[10]] == ZoneLevel.SEALED


def test_release_steps_down_after_quiet_days(make_state):
    state = make_state(5000)
    zoning = make_zoning(state, neighbours_level="none", sealed_release_days=14, controlled_release_days=7,
                         precaution_release_days=7)
    detect(state, 42, 0)
    compound = state.compound_id[42]
    levels = []
    for day in range(0, 40):
        run_days(zoning, state, [day])
        levels.append(int(state.compound_zone_level[compound]))
    assert levels[:14] == [ZoneLevel.SEALED] * 14          # days 0-13
    assert levels[14:21] == [ZoneLevel.CONTROLLED] * 7      # 14 quiet days -> controlled
    assert levels[21:28] == [ZoneLevel.PRECAUTION] * 7      # 7 more -> precaution
    assert levels[28:] == [ZoneLevel.NONE] * 12


def test_a_new_case_restarts_the_sealed_clock(make_state):
    state = make_state(5000)
    zoning = make_zoning(state, neighbours_level="none", sealed_release_days=7)
    compound = state.compound_id[42]
    housemates = np.flatnonzero(state.compound_id == compound)
    detect(state, housemates[0], 0)
    run_days(zoning, state, range(0, 5))
    detect(state, housemates[1], 5)
    run_days(zoning, state, range(5, 12))
    assert state.compound_zone_level[compound] == ZoneLevel.SEALED  # 6 quiet days since day 5
    run_days(zoning, state, [12])
    assert state.compound_zone_level[compound] == ZoneLevel.CONTROLLED


def test_a_case_found_inside_a_sealed_compound_keeps_it_sealed(make_state):
    """With ``cases_at_home_restart_clock``, release counts days with no new case in the compound
    (docs/policies.md 4.1-4.2): a case found at home in a sealed compound (code 2, not a community case)
    restarts its clock without drawing zones around it or counting as community, and one found in a
    controlled compound seals it again. Without the option (the default) neither happens."""
    state, twin = make_state(5000), make_state(5000)  # the twin has no case inside
    zoning, twin_zoning = (make_zoning(s, neighbours_level="precaution", sealed_release_days=7,
                                       controlled_release_days=7, cases_at_home_restart_clock=True)
                           for s in (state, twin))
    compound = state.compound_id[42]
    housemates = np.flatnonzero(state.compound_id == compound)
    for s, z in ((state, zoning), (twin, twin_zoning)):
        detect(s, housemates[0], 0)
        run_days(z, s, range(0, 5))
    state.day_detected[housemates[1]] = 5
    state.is_community_case[housemates[1]] = 2
    run_days(zoning, state, range(5, 12))
    run_days(twin_zoning, twin, range(5, 12))
    assert state.compound_zone_level[compound] == ZoneLevel.SEALED  # 6 quiet days since day 5
    assert twin.compound_zone_level[compound] == ZoneLevel.CONTROLLED  # 7 quiet days since day 0
    others = np.arange(state.compound_zone_level.size) != compound
    assert (state.compound_zone_level[others] == twin.compound_zone_level[others]).all()
    assert state.city_zone[4] == 0  # not a community case
    run_days(zoning, state, [12])
    assert state.compound_zone_level[compound] == ZoneLevel.CONTROLLED
    state.day_detected[housemates[2]] = 13
    state.is_community_case[housemates[2]] = 2
    run_days(zoning, state, [13])
    assert state.compound_zone_level[compound] == ZoneLevel.SEALED
    # the default: a case at home in a sealed compound changes nothing
    plain = make_state(5000)
    plain_zoning = make_zoning(plain, neighbours_level="precaution", sealed_release_days=7, controlled_release_days=7)
    detect(plain, housemates[0], 0)
    plain.day_detected[housemates[1]] = 5
    plain.is_community_case[housemates[1]] = 2
    run_days(plain_zoning, plain, range(0, 12))
    assert (plain.compound_zone_level == twin.compound_zone_level).all()


def test_one_case_shuts_the_whole_city(make_state):
    state = make_state(20_000)
    zoning = make_zoning(state, city_sealed_after_cases=1, city_release_social_zero_days=10, city_min_sealed_days=20)
    detect(state, 777, 3)
    run_days(zoning, state, range(0, 4))
    assert (state.compound_zone_level == ZoneLevel.SEALED).all()
    # The report counts everyone as sealed, and, apart, the zones drawn around the case alone (its compound).
    report = zoning.report(state, 3)
    case_compound = state.compound_id[777]
    residents = state.groups.compound_start[case_compound + 1] - state.groups.compound_start[case_compound]
    assert report["sealed"] == state.size
    assert report["sealed_around_cases"] == residents < state.size
    assert (report["sealed_around_cases"] + report["controlled_around_cases"] + report["precaution_around_cases"]
            == (state.compound_case_level > ZoneLevel.NONE) @ np.diff(state.groups.compound_start))
    log = state.stores["zone_events"]
    city_events = [r for s, r in zip(log.scope, log.reason) if s == "city"]
    assert city_events == ["a single positive case shuts the whole city"]
    run_days(zoning, state, range(4, 23))
    assert state.city_zone[0] == ZoneLevel.SEALED  # min sealed days (20) not over on day 22
    run_days(zoning, state, [23])
    assert state.city_zone[0] == ZoneLevel.NONE    # 20 days sealed and 20 days of social-level zero


def test_district_escalation_per_100k(make_state):
    state = make_state(50_000)
    zoning = make_zoning(state, neighbours_level="none", district_sealed_after_cases_per_100k=20.0, window_days=2)
    district0 = np.flatnonzero(state.district_id == 0)
    needed = max(1, int(np.ceil(20.0 * district0.size / 1e5)))
    for agent in district0[:: district0.size // needed][:needed]:
        detect(state, agent, 0)
    run_days(zoning, state, [0])
    assert state.district_level[0] == ZoneLevel.SEALED
    assert (state.district_level[1:] == ZoneLevel.NONE).all()
    assert (state.compound_zone_level[state.compound_id[district0]] == ZoneLevel.SEALED).all()


def test_subdistrict_controlled_after_k_sealed_compounds(make_state):
    state = make_state(300_000)
    zoning = make_zoning(state, neighbours_level="none", subdistrict_controlled_after_compounds=2)
    sub = 0
    compounds = np.flatnonzero(state.compound_neighbourhood == sub)[:2]
    for c in compounds:
        detect(state, state.groups.compound_start[c], 0)
    run_days(zoning, state, [0])
    assert state.subdistrict_level[sub] == ZoneLevel.CONTROLLED
    in_sub = state.compound_neighbourhood == sub
    assert not in_sub.all()
    assert (state.compound_zone_level[in_sub] >= ZoneLevel.CONTROLLED).all()


@pytest.mark.parametrize("release_after", [None, 10])
def test_confined_though_ten_negative_tests(make_state, release_after):
    state = make_state(5000)
    containment = ContainmentConfig(zoning=ZoningConfig(enabled=True, individual_release_after_negatives=release_after))
    zoning = Zoning(containment.zoning)
    confinement = Confinement(containment)
    zoning.setup(state, component_rng(1, "z"))
    confinement.setup(state, component_rng(1, "c"))
    detect(state, 100, 0)
    resident = np.flatnonzero(state.compound_id == state.compound_id[100])[-1]
    state.consecutive_negatives[resident] = 10
    zoning.step(state, 0, component_rng(1, "z"))
    confinement.step(state, 0, component_rng(1, "c"))
    if release_after is None:
        assert state.mobility[resident] == Mobility.HOME  # the practice: ten negatives change nothing
    else:
        assert state.mobility[resident] == Mobility.COMPOUND
    other = np.flatnonzero(state.compound_zone_level[state.compound_id] == ZoneLevel.PRECAUTION)[0]
    assert state.mobility[other] == Mobility.FREE


@pytest.mark.parametrize("n", [60_000, 300_000, 1_000_000])
def test_below_one_tenth_scale_subdistrict_rules_act_on_neighbourhoods_of_real_size(make_state, n):
    """Issue 14: a rule acting on a subdistrict reaches as many people per case at every scale."""
    state = make_state(n)
    unit, count = zone_neighbourhoods(state)
    g = state.groups
    real = state.real_residents["subdistrict"]
    assert state.groups.subdistrict_count * 0.75 * real > n  # the run's own subdistricts are too small
    assert count == max(1, round(n / real))
    assert (np.diff(unit) >= 0).all() and set(np.unique(unit)) == set(range(count))  # contiguous, all used
    people = np.bincount(unit, weights=np.diff(g.compound_start), minlength=count)
    largest = np.diff(g.compound_start).max()
    assert (np.abs(people - n / count) <= largest).all()
    if count > 1:  # a neighbourhood of real size crosses district lines: a reduced city cannot keep both
        assert abs(people.mean() - real) < 0.25 * real


def test_at_one_tenth_scale_and_above_the_run_s_own_subdistricts_are_the_units(make_state):
    state = make_state(2_500_000)
    unit, count = zone_neighbourhoods(state)
    assert count == state.groups.subdistrict_count
    assert np.array_equal(unit, state.groups.compound_subdistrict)
