"""Mass testing: Dorfman pooling against its formula, false positives against specificity, lab and
swab-station capacities and backlogs, dilution in pools, campaign scheduling and targeting,
individual tests, result semantics, declared writes, thread-count independence, and every Numba
kernel against a NumPy reference."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import assert_only_declared_writes
from zerosim.disease.config import preset
from zerosim.disease.kernels import SCAN_CHUNKS
from zerosim.engine.rng import component_rng
from zerosim.errors import ScenarioError
from zerosim.policy.config import CampaignConfig, SectorScreeningConfig, TestingConfig
from zerosim.policy.testing import (
    LabQueue,
    Testing,
    TestingCounter,
    TubeBatch,
    _union,
    lab_capacity,
    swab_capacity_by_subdistrict,
)
from zerosim.policy.testing_kernels import (
    _block_members,
    _seek_member,
    FLAG_FALSE_POSITIVE,
    FLAG_POSITIVE,
    apply_distinct_result_stage,
    apply_packed_result_stage,
    apply_result_stage,
    TestedPeople,
    TestRules,
    classify_individual_tests,
    classify_listed_tests,
    gather_individual_tests,
    form_pools,
    group_swabbed,
    quarantined_agents,
    symptomatic_agents,
    plan_swabs,
    request_swabs,
    request_swabs_in_compounds,
    take_swabs,
    tubes_of_buckets,
    viral_samples,
)
from zerosim.population.kernels import blocks_with
from zerosim.population.state import (
    Compartment,
    IsolationStatus,
    Mobility,
    QuarantineStatus,
    Sector,
    TestResult,
    ZoneLevel,
)
from zerosim.transmission.kernels import hash_uniform

VIRAL_LOAD = preset("omicron_ba2").viral_load  # detection_limit_log10 = 3.0
PERFECT = dict(limit_of_detection_log10=0.0, detection_slope_log10=0.0, swab_log10_sd=0.0, swab_failure_fraction=0.0,
               specificity=1.0)


# -- helpers ---------------------------------------------------------------------------------------
def infect(state, agents, peak_log10=8.0, detectable=0, peak=1, clear=10, compartment=Compartment.MILD):
    """A viral-load course for ``agents``: the limit (3.0) on ``detectable``, ``peak_log10`` on ``peak``."""
    state.compartment[agents] = compartment
    state.day_infected[agents] = max(detectable - 1, 0)
    state.day_viral_detectable[agents] = detectable
    state.day_viral_peak[agents] = peak
    state.day_viral_clear[agents] = clear
    state.viral_peak_log10[agents] = peak_log10


def city_round(pool_size=10, **fields):
    return CampaignConfig(zone="city", pool_size=pool_size, **{"coverage_fraction": 1.0, **fields})


def run(testing, state, days, seed=1):
    """Set up ``testing`` on ``state`` and step it over ``days``; return the reports."""
    rng = component_rng(seed, testing.name)
    testing.setup(state, rng)
    reports = []
    for day in days:
        testing.step(state, day, rng)
        reports.append(testing.report(state, day))
    return reports


def total(reports, name):
    return sum(report[name] for report in reports)


# -- Dorfman pooling -------------------------------------------------------------------------------
@pytest.mark.statistical
@pytest.mark.parametrize("pool_size", [5, 10, 20])
@pytest.mark.parametrize("prevalence", [0.001, 0.01, 0.05])
def test_dorfman_tubes_per_person_match_formula(make_state, pool_size, prevalence):
    state = make_state(200_000, 1)
    n = state.size
    rng = np.random.default_rng(11)
    infected = rng.choice(n, int(round(prevalence * n)), replace=False)  # uniform: independent pool members
    infect(state, infected[: infected.size // 2], compartment=Compartment.MILD)
    infect(state, infected[infected.size // 2 :], compartment=Compartment.ASYMPTOMATIC)
    config = TestingConfig(campaigns=[city_round(pool_size, start_day=1, rounds=1)], **PERFECT)
    reports = run(Testing(config, VIRAL_LOAD), state, days=[1, 2, 3])
    people = state.testing_counts[TestingCounter.CAMPAIGN_SWABBED_TOTAL]
    assert people == n
    tubes = total(reports, "tubes_processed")
    p = infected.size / n
    expected = 1 / pool_size + 1 - (1 - p) ** pool_size
    assert tubes / people == pytest.approx(expected, rel=0.05)
    # A perfect assay finds every infected person (on the re-test day, or at once from a one-sample tube
    # at the end of a compound) and nobody else.
    assert np.isin(state.day_detected[infected], [1, 2]).all()
    assert (state.day_detected >= 0).sum() == infected.size
    assert total(reports, "false_positives") == 0


# -- false positives -------------------------------------------------------------------------------
@pytest.mark.statistical
def test_false_positives_match_specificity(make_state):
    state = make_state(20_000, 2)
    specificity = 0.999
    config = TestingConfig(campaigns=[city_round(1, interval_days=1, rounds=4)], limit_of_detection_log10=3.0,
                           specificity=specificity)
    reports = run(Testing(config, VIRAL_LOAD), state, days=range(6))
    tubes = total(reports, "tubes_processed")
    false_positives = total(reports, "false_positives")
    expected = (1 - specificity) * tubes
    assert tubes > 4 * state.size / 5
    assert abs(false_positives - expected) < 4 * np.sqrt(expected)
    # Nobody is infected: every case is a false one.
    assert total(reports, "cases_detected") == (state.day_detected >= 0).sum() > 0


# -- lab capacity and backlog ----------------------------------------------------------------------
def test_backlog_and_turnaround_grow_when_demand_exceeds_lab_capacity(make_state):
    state = make_state(20_000, 3)
    config = TestingConfig(campaigns=[city_round(10, interval_days=1)], lab_tubes_per_day_per_100k=5000,
                           specificity=1.0)  # ~2,000 tubes a day, 1,000 processed
    reports = run(Testing(config, VIRAL_LOAD), state, days=range(8))
    capacity = lab_capacity(config, state)
    assert capacity == 1000
    backlog = np.array([r["lab_backlog"] for r in reports])
    turnaround = np.array([r["turnaround_days"] for r in reports])
    assert all(r["tubes_processed"] == capacity for r in reports)
    assert (np.diff(backlog) > 0).all()
    assert (np.diff(turnaround) > 0).all()  # each day's tubes were swabbed further back


def test_backlog_drains_when_demand_is_below_capacity(make_state):
    state = make_state(20_000, 3)
    config = TestingConfig(campaigns=[city_round(10, rounds=1)], lab_tubes_per_day_per_100k=3000,
                           result_delay_days=1, specificity=1.0)  # one round of ~2,000 tubes, 600 a day
    reports = run(Testing(config, VIRAL_LOAD), state, days=range(8))
    backlog = [r["lab_backlog"] for r in reports]
    tubes = total(reports, "tubes_processed")
    assert backlog[0] == tubes - 600
    assert all(a > b for a, b in zip(backlog[:3], backlog[1:4]))
    assert backlog[3:] == [0.0] * 5
    # Results report a day after processing: tubes processed on day d report with turnaround d + 1.
    assert [r["turnaround_days"] for r in reports[:5]] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert (state.test_result == TestResult.NEGATIVE).sum() == state.size


def test_capacities_never_exceeded_and_every_request_accounted(make_state):
    state = make_state(20_000, 4)
    config = TestingConfig(
        campaigns=[city_round(10, interval_days=2, coverage_fraction=0.8),
                   CampaignConfig(zone="district", target=state.district_names[0], interval_days=1, pool_size=5)],
        swabs_per_day_per_100k=30_000, lab_tubes_per_day_per_100k=4000, specificity=1.0,
    )
    testing = Testing(config, VIRAL_LOAD)
    rng = component_rng(5, testing.name)
    testing.setup(state, rng)
    subdistrict = np.repeat(np.arange(state.groups.subdistrict_count), np.diff(state.groups.subdistrict_start))
    swab_capacity = swab_capacity_by_subdistrict(config, state)
    counts = state.testing_counts
    for day in range(10):
        if day == 3:  # people die or are isolated while waiting: their requests are cancelled
            pending = np.flatnonzero(state.day_swab_requested >= 0)
            state.compartment[pending[:50]] = Compartment.DEAD
            state.isolation_status[pending[50:100]] = IsolationStatus.ISOLATED
        requested_before = state.day_swab_requested.copy()
        testing.step(state, day, rng)
        report = testing.report(state, day)
        assert report["tubes_processed"] <= lab_capacity(config, state)
        swabbed = np.flatnonzero(state.day_last_swab == day)  # no infection: no re-tests, only campaign swabs
        assert report["tests_swabbed"] == swabbed.size
        per_subdistrict = np.bincount(subdistrict[swabbed], minlength=swab_capacity.size)
        assert (per_subdistrict <= swab_capacity).all()
        # Oldest request first: nobody still waiting asked before someone swabbed today (same subdistrict).
        request_day = np.where(requested_before[swabbed] >= 0, requested_before[swabbed], day)
        waiting = np.flatnonzero(state.day_swab_requested >= 0)
        latest_swabbed = np.full(swab_capacity.size, -1)
        np.maximum.at(latest_swabbed, subdistrict[swabbed], request_day)
        assert (state.day_swab_requested[waiting] >= latest_swabbed[subdistrict[waiting]]).all()
        assert counts[TestingCounter.PENDING_REQUESTS] == waiting.size == report["swabs_pending"]
        assert counts[TestingCounter.REQUESTED_TOTAL] == (
            counts[TestingCounter.CAMPAIGN_SWABBED_TOTAL]
            + counts[TestingCounter.PENDING_REQUESTS]
            + counts[TestingCounter.CANCELLED_TOTAL]
        )
    assert counts[TestingCounter.CANCELLED_TOTAL] == 100
    assert counts[TestingCounter.PENDING_REQUESTS] > 0  # demand exceeded the stations: people still queue


# -- dilution --------------------------------------------------------------------------------------
@pytest.mark.statistical
def test_pooling_dilution_loses_weak_positives(make_state):
    detected = {}
    for pool_size in (1, 20):
        state = make_state(20_000, 5)
        weak = np.random.default_rng(6).choice(state.size, 300, replace=False)
        infect(state, weak, peak_log10=3.6, detectable=0, peak=1, clear=3)  # 3.6 log10 on day 1, 3.3 on day 2
        config = TestingConfig(campaigns=[city_round(pool_size, start_day=1, rounds=1)], limit_of_detection_log10=3.0,
                               detection_slope_log10=0.25, swab_log10_sd=0.5, specificity=1.0)
        run(Testing(config, VIRAL_LOAD), state, days=[1, 2, 3])
        detected[pool_size] = (state.day_detected[weak] >= 0).mean()
    assert detected[1] > 0.6
    assert detected[20] < 0.25
    assert detected[1] > detected[20] + 0.4


# -- campaigns -------------------------------------------------------------------------------------
def test_rounds_start_after_cases_and_keep_their_interval_and_limit(make_state):
    state = make_state(5000, 6)
    infect(state, np.array([10]), compartment=Compartment.MILD)
    config = TestingConfig(
        campaigns=[city_round(10, start_day=0, start_after_cases=1, interval_days=3, rounds=2)],
        symptomatic_test_probability_per_day=1.0, **PERFECT,
    )
    testing = Testing(config, VIRAL_LOAD)
    requested = []
    rng = component_rng(1, testing.name)
    testing.setup(state, rng)
    for day in range(10):
        before = int(state.testing_counts[TestingCounter.REQUESTED_TOTAL])
        testing.step(state, day, rng)
        requested.append(int(state.testing_counts[TestingCounter.REQUESTED_TOTAL]) - before)
    assert state.day_detected[10] == 0  # fever clinic on day 0, same-day result
    assert requested[0] == 0  # the case is known only at the end of day 0
    rounds_on = [day for day, count in enumerate(requested) if count]
    assert rounds_on == [1, 4]
    assert requested[1] == state.size  # nobody is isolated here (no isolation component)
    assert state.testing_campaign_rounds[0].tolist() == [2, 4]


def test_zone_campaigns_target_their_compounds(make_state):
    state = make_state(20_000, 7)
    testing = Testing(
        TestingConfig(campaigns=[CampaignConfig(zone="sealed", coverage_fraction=1.0, pool_size=1),
                                 CampaignConfig(zone="restricted", coverage_fraction=1.0, pool_size=5)], **PERFECT),
        VIRAL_LOAD,
    )
    rng = component_rng(1, testing.name)
    testing.setup(state, rng)
    testing.step(state, 0, rng)  # no zone yet: no round
    assert state.testing_campaign_rounds[:, 0].tolist() == [0, 0]
    levels = state.compound_zone_level
    levels[[1, 4]] = ZoneLevel.SEALED
    levels[2] = ZoneLevel.CONTROLLED
    levels[3] = ZoneLevel.PRECAUTION
    testing.step(state, 1, rng)
    zone = levels[state.compound_id]
    swabbed = state.day_last_swab == 1
    assert np.array_equal(swabbed, zone >= ZoneLevel.CONTROLLED)
    # Sealed residents were requested by both campaigns the same day: they keep the smaller pool (1).
    assert (state.swab_pool_size[zone == ZoneLevel.SEALED] == 1).all()
    assert (state.swab_pool_size[zone == ZoneLevel.CONTROLLED] == 5).all()
    sealed_people = int((zone == ZoneLevel.SEALED).sum())
    controlled_people = int((zone == ZoneLevel.CONTROLLED).sum())
    assert testing.report(state, 1)["tubes_processed"] == sealed_people + np.ceil(controlled_people / 5)


def test_district_subdistrict_and_compound_targets(make_state):
    state = make_state(10_000, 7)
    g = state.groups
    name = state.district_names[2]
    campaigns = [CampaignConfig(zone="district", target=name, coverage_fraction=1.0, rounds=1),
                 CampaignConfig(zone="subdistrict", target="0", coverage_fraction=1.0, rounds=1),
                 CampaignConfig(zone="compound", target=str(g.compound_count - 1), coverage_fraction=1.0, rounds=1)]
    run(Testing(TestingConfig(campaigns=campaigns, **PERFECT), VIRAL_LOAD), state, days=[0])
    expected = np.zeros(state.size, dtype=bool)
    expected[g.district_start[2] : g.district_start[3]] = True
    expected[g.subdistrict_start[0] : g.subdistrict_start[1]] = True
    expected[g.compound_start[-2] :] = True
    assert np.array_equal(state.day_last_swab == 0, expected)


@pytest.mark.parametrize(
    "campaign, message",
    [
        (CampaignConfig(zone="district", target="Atlantis"), "unknown district"),
        (CampaignConfig(zone="compound", target="99999"), "does not exist"),
        (CampaignConfig(zone="subdistrict", target="first"), "not an index"),
        (CampaignConfig(zone="district"), "needs a target"),
    ],
)
def test_bad_campaign_targets_are_refused(make_state, campaign, message):
    testing = Testing(TestingConfig(campaigns=[campaign]), VIRAL_LOAD)
    with pytest.raises(ScenarioError, match=message):
        testing.setup(make_state(2000, 1), component_rng(1, "testing"))


def test_coverage_dead_and_isolated(make_state):
    state = make_state(10_000, 8)
    state.compartment[:100] = Compartment.DEAD
    state.isolation_status[100:200] = IsolationStatus.ISOLATED
    config = TestingConfig(campaigns=[city_round(1, rounds=1, coverage_fraction=0.6)], **PERFECT)
    run(Testing(config, VIRAL_LOAD), state, days=[0])
    swabbed = state.day_last_swab == 0
    assert not swabbed[:200].any()
    assert swabbed.sum() == pytest.approx(0.6 * (state.size - 200), abs=4 * np.sqrt(0.24 * state.size))


# -- pooling rules ---------------------------------------------------------------------------------
def test_tubes_never_mix_compounds_and_sealed_compounds_pool_by_household(make_state):
    state = make_state(10_000, 9)
    g = state.groups
    config = TestingConfig(campaigns=[city_round(10, rounds=1)], household_pools_in_sealed=True,
                           result_delay_days=5, **PERFECT)
    testing = Testing(config, VIRAL_LOAD)
    rng = component_rng(1, testing.name)
    testing.setup(state, rng)
    state.compound_zone_level[0] = ZoneLevel.SEALED
    testing.step(state, 0, rng)
    batch = state.lab_queue.reporting[0]  # processed, results due on day 5
    sizes = np.diff(batch.member_start)
    members = batch.member_ids()
    tube = np.repeat(np.arange(sizes.size), sizes)
    compound = state.compound_id[members]
    first_member = batch.member_start[:-1] - batch.member_start[0]
    assert (compound == compound[first_member][tube]).all()
    sealed_tubes = compound[first_member] == 0
    households = np.unique(state.household_id[: g.compound_start[1]]).size
    assert sealed_tubes.sum() == households
    assert (state.household_id[members] == state.household_id[members][first_member][tube])[compound == 0].all()
    open_sizes = sizes[~sealed_tubes]
    compounds = g.compound_count - 1
    assert (open_sizes <= 10).all() and (open_sizes == 10).sum() >= open_sizes.size - compounds
    assert sizes.sum() == state.size


def test_pool_without_retest_makes_every_member_a_case(make_state):
    state = make_state(5000, 10)
    infect(state, np.array([0]))
    config = TestingConfig(campaigns=[city_round(10, rounds=1, start_day=1)], retest_pool_members=False, **PERFECT)
    reports = run(Testing(config, VIRAL_LOAD), state, days=[1, 2])
    assert reports[0]["cases_detected"] == 10  # agent 0's tube: agents 0..9 (compound 0 is larger than 10)
    assert (state.day_detected[:10] == 1).all() and (state.day_detected[10:] == -1).all()
    assert (state.test_result[:10] == TestResult.POSITIVE).all()


def test_retest_marks_pool_pending_then_resolves(make_state):
    state = make_state(5000, 10)
    infect(state, np.array([3]))
    config = TestingConfig(campaigns=[city_round(10, rounds=1, start_day=1)], **PERFECT)
    testing = Testing(config, VIRAL_LOAD)
    rng = component_rng(1, testing.name)
    testing.setup(state, rng)
    testing.step(state, 1, rng)
    assert (state.test_result[:10] == TestResult.PENDING_RETEST).all()
    assert testing.report(state, 1)["pool_retests"] == 10
    assert testing.report(state, 1)["tests_swabbed"] == state.size + 10
    testing.step(state, 2, rng)
    report = testing.report(state, 2)
    assert report["cases_detected"] == 1 and report["tubes_processed"] == 10
    assert state.test_result[3] == TestResult.POSITIVE and state.day_detected[3] == 2
    assert (np.delete(state.test_result[:10], 3) == TestResult.NEGATIVE).all()
    assert state.is_community_case[3] == 1
    assert report["cases_detected_district"][state.district_id[3]] == 1


# -- individual tests ------------------------------------------------------------------------------
def test_quarantine_tests_and_community_flag(make_state):
    state = make_state(5000, 11)
    central, home, free_controlled = np.array([100, 101]), np.array([200]), np.array([4000])
    infect(state, np.r_[central, home, free_controlled])
    state.quarantine_status[central] = QuarantineStatus.CENTRAL
    state.quarantine_status[home] = QuarantineStatus.HOME
    state.day_quarantine_start[central] = [1, 0]  # quarantine day 2 and 3 on day 2
    state.day_quarantine_start[home] = 2  # day 1
    config = TestingConfig(symptomatic_test_probability_per_day=1.0, **PERFECT)
    testing = Testing(config, VIRAL_LOAD, quarantine_test_days=(1, 3))
    rng = component_rng(1, testing.name)
    testing.setup(state, rng)
    state.compound_zone_level[state.compound_id[free_controlled]] = ZoneLevel.CONTROLLED
    state.compound_case_level[state.compound_id[free_controlled]] = ZoneLevel.CONTROLLED
    state.mobility[free_controlled] = Mobility.COMPOUND
    # A case in a compound that is sealed only because the whole city is (no case zone of its own)
    # is a community case: social-level zero looks past citywide and district lockdowns.
    city_sealed_only = np.array([2500])
    infect(state, city_sealed_only)
    state.compound_zone_level[state.compound_id[city_sealed_only]] = ZoneLevel.SEALED
    state.mobility[city_sealed_only] = Mobility.HOME
    # A case found at home in a compound sealed around cases of its own: under closed-loop control (code 2).
    sealed_at_home = np.array([1500])
    infect(state, sealed_at_home)
    state.compound_zone_level[state.compound_id[sealed_at_home]] = ZoneLevel.SEALED
    state.compound_case_level[state.compound_id[sealed_at_home]] = ZoneLevel.SEALED
    state.mobility[sealed_at_home] = Mobility.HOME
    testing.step(state, 2, rng)
    # Agent 100 is on quarantine day 2 (no test day) but is symptomatic: fever clinic; all six detected.
    assert (state.day_detected[np.r_[central, home, free_controlled, city_sealed_only, sealed_at_home]] == 2).all()
    assert state.is_community_case[sealed_at_home[0]] == 2
    assert (state.is_community_case[np.r_[central, home]] == 0).all()  # found in quarantine
    assert state.is_community_case[free_controlled[0]] == 2  # found at home inside a controlled compound
    assert state.is_community_case[city_sealed_only[0]] == 1
    assert testing.report(state, 2)["tests_swabbed"] == 6


def test_quarantine_test_days_only(make_state):
    state = make_state(5000, 11)
    quarantined = np.arange(300, 310)
    state.quarantine_status[quarantined] = QuarantineStatus.CENTRAL
    state.day_quarantine_start[quarantined] = 5
    testing = Testing(TestingConfig(**PERFECT), VIRAL_LOAD, quarantine_test_days=(1, 2, 4))
    reports = run(testing, state, days=range(4, 11))
    assert [r["tests_swabbed"] for r in reports] == [0, 10, 10, 0, 10, 0, 0]  # days 4..10 = quarantine days 0..6


def test_antigen_positive_leads_to_pcr_confirmation(make_state):
    state = make_state(5000, 12)
    high, low = np.arange(10), np.arange(20, 30)
    infect(state, high, peak_log10=11.0)
    infect(state, low, peak_log10=3.2)
    state.mobility[4000:] = Mobility.HOME  # not free: no self-test
    config = TestingConfig(antigen_self_test_probability_per_day=1.0, antigen_limit_of_detection_log10=7.0, **PERFECT)
    reports = run(Testing(config, VIRAL_LOAD), state, days=[1])
    assert reports[0]["antigen_tests"] == 4000
    assert (state.day_detected[high] == 1).all()
    assert (state.day_detected[low] == -1).all()  # 3.2 log10: antigen negative (p ~ 5e-4 each)
    assert reports[0]["tests_swabbed"] == 10


def test_sector_screening_pools_within_workplaces(make_state):
    state = make_state(10_000, 13)
    screening = SectorScreeningConfig(sectors=["retail", "catering"], interval_days=2, pool_size=5)
    config = TestingConfig(sector_screening=[screening], result_delay_days=3, **PERFECT)
    testing = Testing(config, VIRAL_LOAD)
    run(testing, state, days=[0])
    workers = (np.isin(state.sector, [Sector.RETAIL, Sector.CATERING]) & (state.workplace_id >= 0))
    expected = workers & (np.arange(state.size) % 2 == 0)
    assert np.array_equal(state.day_last_swab == 0, expected)
    batch = state.lab_queue.reporting[0]
    sizes = np.diff(batch.member_start)
    members = batch.member_ids()
    workplace = state.workplace_id[members]
    tube = np.repeat(np.arange(sizes.size), sizes)
    assert (workplace == workplace[batch.member_start[:-1] - batch.member_start[0]][tube]).all()
    per_workplace = np.bincount(workplace)
    assert sizes.size == np.ceil(per_workplace / 5).sum()


# -- the component's contract ----------------------------------------------------------------------
def _busy_setup(state):
    """A state and component exercising every path: campaigns, capacities, all individual tests."""
    rng = np.random.default_rng(3)
    infected = rng.choice(state.size, 200, replace=False)
    infect(state, infected[:100], detectable=0, peak=2, clear=9)
    infect(state, infected[100:], peak_log10=4.0, detectable=1, peak=3, clear=6, compartment=Compartment.ASYMPTOMATIC)
    state.quarantine_status[:50] = QuarantineStatus.CENTRAL
    state.day_quarantine_start[:50] = 0
    state.isolation_status[50:60] = IsolationStatus.ISOLATED
    config = TestingConfig(
        campaigns=[city_round(10, interval_days=2, coverage_fraction=0.9),
                   CampaignConfig(zone="sealed", pool_size=5, coverage_fraction=0.95)],
        sector_screening=[SectorScreeningConfig(sectors=["logistics", "health"], interval_days=2, pool_size=5)],
        household_pools_in_sealed=True, symptomatic_test_probability_per_day=0.3,
        swabs_per_day_per_100k=40_000, lab_tubes_per_day_per_100k=2000, result_delay_days=1,
        antigen_self_test_probability_per_day=0.2, specificity=0.999,
    )
    return Testing(config, VIRAL_LOAD, quarantine_test_days=(1, 2, 3, 5, 7))


def test_writes_only_what_it_declares(make_state):
    state = make_state(5000, 14)
    testing = _busy_setup(state)
    testing.setup(state, component_rng(1, testing.name))
    state.compound_zone_level[[0, 3]] = ZoneLevel.SEALED
    for day in range(4):
        assert_only_declared_writes(testing, state, day=day, seed=day)
    assert state.testing_counts[TestingCounter.SWABBED_TODAY] > 0
    assert set(testing.writes) >= {"lab_queue", "swab_pool_size"}
    assert all(state.has_array(name) for name in testing.reads | testing.writes)


def test_results_do_not_depend_on_thread_count(make_state):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two Numba threads")
    outcomes = []
    for threads in (1, 2):
        state = make_state(5000, 14)
        testing = _busy_setup(state)
        numba.set_num_threads(threads)
        try:
            rng = component_rng(9, testing.name)
            testing.setup(state, rng)
            state.compound_zone_level[[0, 3]] = ZoneLevel.SEALED
            reports = []
            for day in range(5):
                testing.step(state, day, rng)
                reports.append(testing.report(state, day))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        outcomes.append((state, reports))
    (a, reports_a), (b, reports_b) = outcomes
    for name in testing.writes - {"lab_queue"}:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert [sorted((k, str(v)) for k, v in r.items()) for r in reports_a] == \
           [sorted((k, str(v)) for k, v in r.items()) for r in reports_b]
    assert sum(r["cases_detected"] for r in reports_a) > 0


def test_lab_queue_takes_in_fifo_order():
    def batch(day, tubes):
        return TubeBatch(np.full(tubes, day, np.int16), np.zeros(tubes, np.int8), np.arange(tubes + 1, dtype=np.int64),
                         np.arange(tubes, dtype=np.int32) + 100 * day)

    queue = LabQueue(mass=[batch(0, 5), batch(1, 4)])
    first = TubeBatch.concatenate(queue.take(queue.mass, 3))
    assert first.swab_day.tolist() == [0, 0, 0]
    assert first.member_ids().tolist() == [0, 1, 2]
    second = TubeBatch.concatenate(queue.take(queue.mass, 4))
    assert second.swab_day.tolist() == [0, 0, 1, 1]
    assert second.member_ids().tolist() == [3, 4, 100, 101]
    assert queue.waiting() == 2
    assert TubeBatch.concatenate(queue.take(queue.mass, None)).member_ids().tolist() == [102, 103]
    assert queue.waiting() == 0



@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, 5000), min_size=1, max_size=800), st.data())
def test_packed_batches_give_back_their_members(members, data):
    """A batch packed to one bit per agent gives back the same members, tube by tube, whole or sliced;
    its results, applied in place from the bits, are those of the same tubes as agent ids."""
    ids = np.array(sorted(members), dtype=np.int32)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, ids.size - 1)), max_size=ids.size)) - {ids.size})
    starts = np.array([0, *cuts, ids.size], dtype=np.int64)
    tubes = starts.size - 1
    flags = np.array(data.draw(st.lists(st.sampled_from([0, 1, 3]), min_size=tubes, max_size=tubes)), np.int8)
    batch = TubeBatch(np.zeros(tubes, np.int16), flags, starts, ids)
    packed = batch.pack()
    if (ids[-1] - ids[0]) // 8 + 1 < ids.nbytes:
        assert packed.packed_base == ids[0] and packed.members.dtype == np.uint8
    assert packed.member_ids().tolist() == ids.tolist()
    first = data.draw(st.integers(0, tubes - 1))
    stop = data.draw(st.integers(first + 1, tubes))
    part = packed.slice(first, stop)
    assert np.diff(part.member_start).tolist() == np.diff(starts[first : stop + 1]).tolist()
    assert part.member_ids().tolist() == ids[starts[first] : starts[stop]].tolist()
    # Results from the packed slice, read in place, against the same tubes as ids.
    n = 5001
    rng = np.random.default_rng(len(members))
    start = {"test_result": rng.choice([0, 1, 3], n).astype(np.int8), "day_last_result": np.full(n, -1, np.int16),
             "consecutive_negatives": rng.integers(0, 5, n).astype(np.int8),
             "day_detected": np.where(rng.random(n) < 0.1, 3, -1).astype(np.int16),
             "is_community_case": np.zeros(n, np.int8)}
    context = (np.zeros(n, np.int8), np.zeros(n, np.int32), np.zeros(1, np.int8), np.zeros(n, np.int8))
    read = data.draw(st.integers(1, 40))  # members read from the bits at a time (more tubes than one read)
    outcomes = []
    for as_bits in (False, True):
        agents = {k: v.copy() for k, v in start.items()}
        cases, retest_out, totals = np.zeros(1, np.int64), np.empty(ids.size, np.int64), np.zeros(4, np.int64)
        head = (part.swab_day, part.flags, part.member_start)
        for stage in (1, 2, 3):
            if as_bits and part.packed_base >= 0:
                apply_packed_result_stage(stage, 9, *head, part.members, part.packed_base, True, *agents.values(),
                                          *context, cases, retest_out, totals, True, read)
            else:
                apply_result_stage(stage, 9, *head, ids, True, *agents.values(), *context, cases, retest_out,
                                   totals, True)
        outcomes.append((agents, totals.tolist(), retest_out[: totals[3]].tolist(), cases.tolist()))
    (plain, *rest_plain), (bits, *rest_bits) = outcomes
    assert rest_plain == rest_bits
    for name in start:
        assert np.array_equal(plain[name], bits[name]), name
    assert (plain["day_last_result"] == 9).sum() == part.member_count  # every member got its result


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60_000), st.floats(0.001, 0.9), st.integers(0, 2**32 - 1))
def test_seek_finds_every_member_of_a_packed_set_across_blocks(size, density, seed):
    """The cursor of member k (its block from the block counts, then bytes skipped by their bit counts)
    reads the k-th bit set next, across many seek blocks, at the ends; past the last member, nothing."""
    rng = np.random.default_rng(seed)
    bits = (rng.random(size) < density).astype(np.uint8) * rng.integers(1, 256, size).astype(np.uint8)
    positions = np.flatnonzero(np.unpackbits(bits, bitorder="little"))
    prefix = _block_members(bits)
    assert prefix[-1] == positions.size
    for first in {0, positions.size // 3, max(positions.size - 1, 0), positions.size, *rng.integers(0, positions.size + 1, 5)}:
        b, rest = _seek_member(bits, prefix, int(first))
        if first < positions.size:
            while rest == 0:  # as the readers do: the member is the next bit set from the cursor on
                b += 1
                rest = int(bits[b])
            low = rest & -rest
            assert b * 8 + int(low).bit_length() - 1 == positions[first]
        else:
            assert rest == 0 and not bits[b + 1 :].any()


def test_unsorted_members_are_not_packed():
    ids = np.array([5, 9, 7, 30, 31, 32, 33, 34, 35, 36], dtype=np.int32)
    batch = TubeBatch(np.zeros(1, np.int16), np.zeros(1, np.int8), np.array([0, ids.size], np.int64), ids)
    assert batch.pack() is batch


def test_a_citywide_round_waits_for_its_results_packed(make_state):
    """The round's tubes wait a day for their results as one bit per agent, not 4 bytes per swab,
    and give the same results as unpacked tubes would."""
    state = make_state(20_000, 12)
    config = TestingConfig(campaigns=[city_round(10, rounds=1)], result_delay_days=1, **PERFECT)
    testing = Testing(config, VIRAL_LOAD)
    rng = component_rng(1, testing.name)
    testing.setup(state, rng)
    testing.step(state, 0, rng)
    (batch,) = state.lab_queue.reporting
    assert batch.packed_base >= 0 and batch.members.nbytes <= state.size // 8 + 1
    swabbed = np.flatnonzero(state.day_last_swab == 0)
    assert batch.member_ids().tolist() == swabbed.tolist()
    testing.step(state, 1, rng)
    assert (state.day_last_result[swabbed] == 1).all()


# -- kernels vs NumPy references -------------------------------------------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix(x):
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def reference_hash_uniform(seed, a, b, c):
    """NumPy version of ``transmission.kernels.hash_uniform`` over an array of ``a``."""
    a = np.asarray(a, dtype=np.uint64)
    inner = _splitmix(np.full(a.shape, b, dtype=np.uint64) * _GOLDEN + np.uint64(c))
    h = _splitmix(np.full(a.shape, seed, dtype=np.uint64) ^ _splitmix(a ^ inner))
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def reference_viral_load(day, detectable, peak, clear, top, limit):
    detectable, peak, clear, top = (np.asarray(x, dtype=np.float64) for x in (detectable, peak, clear, top))
    rising = limit + (top - limit) * (day - detectable) / np.maximum(peak - detectable, 1)
    falling = top - (top - limit) * (day - peak) / np.maximum(clear - peak, 1)
    load = np.where(day <= peak, rising, falling)
    return np.where((detectable < 0) | (day < detectable) | (day > clear), 0.0, load)


def test_hash_reference_matches_kernel():
    agents = np.arange(0, 50_000, 37)
    expected = np.array([hash_uniform(np.uint64(12345), int(i), 7, 0) for i in agents])
    assert np.array_equal(reference_hash_uniform(12345, agents, 7, 0), expected)


@pytest.mark.parametrize("by_compound", [False, True])
def test_request_swabs_matches_reference(by_compound):
    rng = np.random.default_rng(1)
    n, compounds, day, seed, stream = 20_000, 40, 5, 987654321, 18
    compound_id = np.sort(rng.integers(0, compounds, n)).astype(np.int32)
    compound_start = np.searchsorted(compound_id, np.arange(compounds + 1)).astype(np.int64)
    compartment = rng.choice([0, 4, 8], n, p=[0.8, 0.1, 0.1]).astype(np.int8)
    isolation = rng.choice([0, 2], n, p=[0.9, 0.1]).astype(np.int8)
    requested = rng.choice([-1, 3, 5], n, p=[0.7, 0.15, 0.15]).astype(np.int16)
    pool = rng.choice([1, 5, 10, 20], n).astype(np.int8)
    target = rng.random(compounds) < 0.5 if by_compound else np.ones(compounds, dtype=bool)
    lo, hi = (0, n) if by_compound else (1234, 18_000)
    coverage = np.linspace(0.5, 0.9, 9)
    pool_size = 10
    age = rng.integers(0, 101, n).astype(np.uint8)
    # reference
    ids = np.arange(n)
    u = reference_hash_uniform(seed, ids, stream, 0)
    eligible = ((ids >= lo) & (ids < hi) & target[compound_id] & (compartment != 8) & (isolation != 2)
                & ((requested < 0) | (requested == day)) & (u < coverage[np.minimum(age // 10, 8)]))
    new = eligible & (requested < 0)
    same_day = eligible & (requested == day)
    expected_requested = np.where(new, day, requested).astype(np.int16)
    expected_pool = np.where(new, pool_size, np.where(same_day, np.minimum(pool, pool_size), pool)).astype(np.int8)
    rest = (pool_size, age, compartment, isolation, requested, pool, np.ones(n, dtype=np.int8))
    if by_compound:
        count = request_swabs_in_compounds(day, np.uint64(seed), stream, coverage, np.flatnonzero(target),
                                           compound_start, *rest)
    else:
        count = request_swabs(day, np.uint64(seed), stream, coverage, lo, hi, *rest)
    assert count == new.sum() > 0
    assert np.array_equal(requested, expected_requested)
    assert np.array_equal(pool, expected_pool)


def reference_swabs(day, starts, capacity, compartment, isolation, requested):
    """Per subdistrict: valid requests sorted by (request day, agent), the first `capacity` taken."""
    n = requested.size
    ids = np.arange(n)
    subdistrict = np.repeat(np.arange(capacity.size), np.diff(starts))
    valid = (requested >= 0) & (compartment != 8) & (isolation != 2)
    taken = []
    for s in range(capacity.size):
        mine = ids[valid & (subdistrict == s)]
        mine = mine[np.lexsort((mine, requested[mine]))]
        taken.append(mine if capacity[s] < 0 else mine[: capacity[s]])
    swabbed = np.sort(np.concatenate(taken))
    new_requested = requested.copy()
    new_requested[swabbed] = -1
    new_requested[(requested >= 0) & ~valid] = -1
    return swabbed, new_requested, ((requested >= 0) & ~valid).sum()


@pytest.mark.parametrize("cap_scale", [None, 0.05, 0.3])
def test_swab_kernels_match_reference(cap_scale):
    rng = np.random.default_rng(2)
    n, subdistricts, day = 30_000, 12, 9
    starts = np.r_[0, np.sort(rng.choice(np.arange(1, n), subdistricts - 1, replace=False)), n].astype(np.int64)
    compartment = rng.choice([0, 4, 8], n, p=[0.85, 0.1, 0.05]).astype(np.int8)
    isolation = rng.choice([0, 2], n, p=[0.95, 0.05]).astype(np.int8)
    requested = rng.choice([-1, 2, 4, 6, 9], n, p=[0.4, 0.1, 0.2, 0.1, 0.2]).astype(np.int16)
    residents = np.diff(starts)
    capacity = np.full(subdistricts, -1, np.int64) if cap_scale is None else (cap_scale * residents).astype(np.int64)
    expected_swabbed, expected_requested, expected_cancelled = reference_swabs(
        day, starts, capacity, compartment, isolation, requested)
    take, threshold_day, threshold_take = (np.zeros(subdistricts, np.int64) for _ in range(3))
    plan_swabs(starts, capacity, compartment, isolation, requested, take, threshold_day, threshold_take)
    offsets = np.r_[0, np.cumsum(take)].astype(np.int64)
    out = np.empty(offsets[-1], np.int32)
    cancelled = np.zeros(subdistricts, np.int64)
    last_swab = np.full(n, -1, np.int16)
    take_swabs(day, starts, offsets, threshold_day, threshold_take, compartment, isolation, requested, last_swab, out,
               cancelled)
    assert np.array_equal(out, expected_swabbed)
    assert np.array_equal(requested, expected_requested)
    assert cancelled.sum() == expected_cancelled
    assert np.array_equal(np.flatnonzero(last_swab == day), expected_swabbed)


def reference_pools(ids, group, pool, fixed, household, household_mode):
    """Tube starts by grouping: a key per sample, then k-chunks within each run of equal keys."""
    g = group[ids]
    k = np.full(ids.size, fixed) if fixed > 0 else pool[ids].astype(np.int64)
    by_household = household_mode[g] != 0
    h = np.where(by_household, household[ids], -1)
    key_change = np.r_[True, (g[1:] != g[:-1]) | (k[1:] != k[:-1]) | (h[1:] != h[:-1])]
    run = np.cumsum(key_change) - 1
    run_start = np.flatnonzero(key_change)
    rank = np.arange(ids.size) - run_start[run]
    starts = key_change | (~by_household & (rank % k == 0))
    return np.r_[np.flatnonzero(starts), ids.size]


@pytest.mark.parametrize("fixed", [0, 5])
def test_form_pools_matches_reference(fixed):
    rng = np.random.default_rng(3)
    n = 20_000
    household = np.repeat(np.arange(n // 3 + 1), 3)[:n].astype(np.int32)
    group = (household // 40).astype(np.int32)
    pool = rng.choice([1, 5, 10, 20], group.max() + 1)[group].astype(np.int8)  # one pool size per group
    pool[rng.random(n) < 0.02] = 5  # and some same-day overlaps
    mode = (rng.random(group.max() + 1) < 0.3).astype(np.int8)
    ids = np.flatnonzero(rng.random(n) < 0.7).astype(np.int32)
    tube_start = np.empty(ids.size + 1, np.int64)
    tubes = form_pools(ids, group, pool, fixed, household, mode, tube_start)
    assert np.array_equal(tube_start[: tubes + 1], reference_pools(ids, group, pool, fixed, household, mode))


@pytest.mark.parametrize("n", [255, 256, 1_000, 5_000])
def test_quarantined_agents_finds_lone_quarantines_between_empty_blocks(n):
    """The scan skips blocks of agents without a quarantine status: lone statuses at block edges,
    in the tail, and statuses that are not CENTRAL or HOME (not listed) are all handled."""
    status = np.zeros(n, dtype=np.int8)
    for position, code in ((0, QuarantineStatus.HOME), (255, QuarantineStatus.CENTRAL),
                           (256, QuarantineStatus.PENDING), (n - 1, QuarantineStatus.HOME)):
        if position < n:
            status[position] = code
    expected = np.flatnonzero(np.isin(status, [QuarantineStatus.CENTRAL, QuarantineStatus.HOME]))
    assert np.array_equal(quarantined_agents(status), expected)


def test_group_swabbed_matches_masks_and_stable_sorts():
    """Singles in the given order, then each screening config's workers by workplace (stable), and
    day_last_swab set for the swabbed only."""
    rng = np.random.default_rng(6)
    n, workplaces = 5_000, 40
    ids = np.sort(rng.choice(n, 2_000, replace=False)).astype(np.int32)
    kinds = rng.integers(-1, 3, ids.size).astype(np.int8)
    workplace = rng.integers(0, workplaces, n).astype(np.int32)
    last_swab = np.full(n, -1, np.int16)
    swabbed, group_start, bucket_end = group_swabbed(ids, kinds, 2, workplace, workplaces, 7, last_swab)
    expected = [ids[kinds == 0]]
    for s in range(2):
        workers = ids[kinds == 1 + s]
        expected.append(workers[np.argsort(workplace[workers], kind="stable")])
    assert np.array_equal(group_start, np.r_[0, np.cumsum([e.size for e in expected])])
    assert np.array_equal(swabbed, np.concatenate(expected))
    assert np.array_equal(np.flatnonzero(last_swab == 7), np.sort(ids[kinds >= 0]))
    # Each config's tubes, cut from the workplaces' runs, are those form_pools cuts from the workers.
    for s, pool_size in ((0, 1), (1, 4), (1, 10)):
        workers = swabbed[group_start[1 + s] : group_start[2 + s]]
        reference = np.empty(workers.size + 1, np.int64)
        tubes = form_pools(workers, workplace, np.zeros(n, np.int8), pool_size, np.zeros(n, np.int32),
                           np.zeros(workplaces, np.int8), reference)
        assert np.array_equal(tubes_of_buckets(bucket_end, 1 + s * workplaces, workplaces, pool_size),
                              reference[: tubes + 1])


def test_viral_samples_matches_reference():
    rng = np.random.default_rng(4)
    n, day = 10_000, 6
    detectable = np.where(rng.random(n) < 0.3, rng.integers(0, 10, n), -1).astype(np.int16)
    peak = (detectable + rng.integers(1, 4, n)).astype(np.int16)
    clear = (peak + rng.integers(1, 8, n)).astype(np.int16)
    top = rng.uniform(3.5, 10, n).astype(np.float32)
    ids = np.sort(rng.choice(n, 4000, replace=False)).astype(np.int32)
    ever = blocks_with(detectable, np.int16(-1), True)
    positions, loads = viral_samples(day, ids, detectable, peak, clear, top, 3.0, ever)
    expected = reference_viral_load(day, detectable[ids], peak[ids], clear[ids], top[ids], 3.0)
    assert np.array_equal(positions, np.flatnonzero(expected > 0))
    assert np.allclose(loads, expected[expected > 0])
    # Few infected (blocks of never-detectable agents are skipped): lone ones at block edges and in the tail.
    sparse = np.full(n, -1, np.int16)
    sparse[[0, 511, n - 1]] = 3
    peak, clear = (sparse + 2).astype(np.int16), (sparse + 8).astype(np.int16)
    ids = np.arange(n, dtype=np.int32)
    positions, loads = viral_samples(day, ids, sparse, peak, clear, top, 3.0, blocks_with(sparse, np.int16(-1), True))
    expected = reference_viral_load(day, sparse, peak, clear, top, 3.0)
    assert positions.tolist() == [0, 511, n - 1] and np.allclose(loads, expected[expected > 0])


def individual_test_inputs(rng, n, compartments, quarantine_codes, quarantine_p, screening):
    """Random agent arrays for the individual-test kernels, in their argument order; ``screening``
    maps a Sector to its screening config (configs 0 and 1: start days 2 and 5, every 3 and 1 days)."""
    compartment = rng.choice(compartments, n).astype(np.int8)
    mobility = rng.choice([0, 1, 2, 3], n, p=[0.7, 0.1, 0.1, 0.1]).astype(np.int8)
    day_detected = np.where(rng.random(n) < 0.1, 3, -1).astype(np.int16)
    isolation = rng.choice([0, 1, 2], n, p=[0.9, 0.05, 0.05]).astype(np.int8)
    quarantine = rng.choice(quarantine_codes, n, p=quarantine_p).astype(np.int8)
    q_start = rng.integers(-1, 10, n).astype(np.int16)
    last_swab = rng.integers(-1, 9, n).astype(np.int16)
    last_result = rng.integers(-1, 9, n).astype(np.int16)
    test_day = np.zeros(8, bool)
    test_day[[1, 2, 3, 5, 7]] = True
    sector = rng.integers(0, len(Sector), n).astype(np.int8)
    workplace = np.where(rng.random(n) < 0.6, rng.integers(0, 300, n), -1).astype(np.int32)
    is_open = (rng.random(300) < 0.8).astype(np.int8)
    screen_of_sector = np.full(len(Sector), -1, np.int8)
    screen_of_sector[list(screening)] = list(screening.values())
    screen_start, screen_interval = np.array([2, 5], np.int64), np.array([3, 1], np.int64)
    detectable = np.where(rng.random(n) < 0.4, rng.integers(0, 9, n), -1).astype(np.int16)
    peak = (detectable + 2).astype(np.int16)
    clear = (peak + 5).astype(np.int16)
    top = rng.uniform(3.5, 10, n).astype(np.float32)
    return (compartment, mobility, day_detected, isolation, quarantine, q_start, last_swab, last_result, test_day,
            sector, workplace, is_open, screen_of_sector, screen_start, screen_interval, detectable, peak, clear, top)


def test_individual_test_kernels_match_reference():
    rng = np.random.default_rng(5)
    n, day, seed = 30_000, 8, 2024
    (compartment, mobility, day_detected, isolation, quarantine, q_start, last_swab, last_result, test_day, sector,
     workplace, is_open, screen_of_sector, screen_start, screen_interval, detectable, peak, clear,
     top) = individual_test_inputs(rng, n, [0, 2, 3, 4, 5, 6, 7, 8], [0, 1, 3, 4], [0.7, 0.1, 0.1, 0.1],
                                   {Sector.RETAIL: 0, Sector.HEALTH: 1})
    p_symptomatic, p_antigen, antigen_limit = 0.4, 0.3, 5.0
    rules = TestRules(day, np.uint64(seed), p_symptomatic, p_antigen, antigen_limit, 3.0, test_day, screen_of_sector,
                      screen_start, screen_interval)
    people = TestedPeople(compartment, mobility, day_detected, isolation, quarantine, q_start, last_swab, last_result,
                          sector, workplace, is_open, detectable, peak, clear, top)
    chunk_tests, chunk_antigen = np.zeros(SCAN_CHUNKS, np.int64), np.zeros(SCAN_CHUNKS, np.int64)
    kind_all = np.empty(n, np.int8)
    classify_individual_tests(rules, people, kind_all, chunk_tests, chunk_antigen)
    offsets = np.r_[0, np.cumsum(chunk_tests)].astype(np.int64)
    out_ids, out_kind = np.empty(offsets[-1], np.int32), np.empty(offsets[-1], np.int8)
    gather_individual_tests(kind_all, offsets, out_ids, out_kind)

    # reference
    ids = np.arange(n)
    alive = (compartment != 8) & (isolation != 2)
    undetected = day_detected < 0
    awaiting = last_swab > last_result
    took = alive & undetected & (mobility == 0) & (reference_hash_uniform(seed, ids, 2, 0) < p_antigen)
    load = reference_viral_load(day, detectable, peak, clear, top, 3.0)
    p_positive = 1 / (1 + np.exp(-(load - antigen_limit) / 0.5))
    antigen_positive = took & (load > 0) & (reference_hash_uniform(seed, ids, 3, 0) < p_positive)
    q_day = day - q_start.astype(np.int64) + 1
    quarantine_test = (np.isin(quarantine, [3, 4]) & (q_start >= 0) & (q_day >= 0) & (q_day < test_day.size)
                       & test_day[np.clip(q_day, 0, test_day.size - 1)])
    symptomatic = ((compartment >= 4) & (compartment <= 6) & undetected & ~awaiting
                   & (reference_hash_uniform(seed, ids, 1, 0) < p_symptomatic))
    single = alive & (quarantine_test | symptomatic | (antigen_positive & ~awaiting))
    screen = screen_of_sector[sector]
    worker = ((workplace >= 0) & (mobility == 0) & is_open[np.maximum(workplace, 0)].astype(bool) & (screen >= 0))
    start = screen_start[np.maximum(screen, 0)]
    interval = screen_interval[np.maximum(screen, 0)]
    screened = alive & worker & (day >= start) & ((day - start) % interval == ids % interval)
    kind = np.where(single, 0, np.where(screened, 1 + screen, -1))
    assert chunk_antigen.sum() == took.sum()
    assert np.array_equal(out_ids, np.flatnonzero(kind >= 0))
    assert np.array_equal(out_kind, kind[kind >= 0])
    assert 0 < (kind == 0).sum() and 0 < (kind == 1).sum() and 0 < (kind == 2).sum()
    assert np.array_equal(kind_all, kind)


def test_listed_individual_tests_equal_the_full_scan_without_antigen():
    """Deciding for the quarantined, the symptomatic and the workers due for screening only gives the
    same swabs, in the same order, as deciding for everyone (when nobody self-tests)."""
    rng = np.random.default_rng(15)
    n, day, seed = 30_000, 8, 77
    (compartment, mobility, day_detected, isolation, quarantine, q_start, last_swab, last_result, test_day, sector,
     workplace, is_open, screen_of_sector, screen_start, screen_interval, detectable, peak, clear,
     top) = individual_test_inputs(rng, n, [0, 1, 2, 3, 4, 5, 6, 7, 8], [0, 1, 2, 3, 4], [0.6, 0.1, 0.1, 0.1, 0.1],
                                   {Sector.RETAIL: 0, Sector.HEALTH: 1, Sector.LOGISTICS: 0})
    rules = TestRules(day, np.uint64(seed), 0.4, 0.0, 5.0, 3.0, test_day, screen_of_sector, screen_start,
                      screen_interval)
    people = TestedPeople(compartment, mobility, day_detected, isolation, quarantine, q_start, last_swab, last_result,
                          sector, workplace, is_open, detectable, peak, clear, top)
    kind_all = np.empty(n, np.int8)
    classify_individual_tests(rules, people, kind_all, np.zeros(SCAN_CHUNKS, np.int64), np.zeros(SCAN_CHUNKS, np.int64))

    ids = np.arange(n)
    active = np.flatnonzero((compartment >= 1) & (compartment <= 6)).astype(np.int32)
    quarantined = quarantined_agents(quarantine)
    assert np.array_equal(quarantined, np.flatnonzero(np.isin(quarantine, [3, 4])))
    symptomatic = symptomatic_agents(active, active.size, compartment)
    assert np.array_equal(symptomatic, np.flatnonzero((compartment >= 4) & (compartment <= 6)))
    candidates = _union(quarantined, symptomatic)
    assert np.array_equal(candidates, np.union1d(quarantined, symptomatic))
    screen = screen_of_sector[sector]
    for s in range(2):  # the workers due today, as Testing._screening_due lists them
        if day >= screen_start[s]:
            due = (workplace >= 0) & (screen == s) & (ids % screen_interval[s] == (day - screen_start[s]) % screen_interval[s])
            candidates = _union(candidates, np.flatnonzero(due).astype(np.int32))
    kinds = np.empty(candidates.size, np.int8)
    classify_listed_tests(candidates, rules._replace(antigen_probability=0.7), people, kinds)  # listed: never antigen
    assert np.array_equal(candidates[kinds >= 0], np.flatnonzero(kind_all >= 0))
    assert np.array_equal(kinds[kinds >= 0], kind_all[kind_all >= 0])
    assert (kinds == 0).sum() > 0 and (kinds == 1).sum() > 0 and (kinds == 2).sum() > 0


def apply_results(*args, kernel=apply_result_stage):
    """The three result stages over one batch, as the component runs them per batch; arguments as
    :func:`apply_result_stage` without ``stage`` and ``counts`` (``confirm_singles`` last, optional)."""
    head, confirm = (args[:-1], args[-1]) if len(args) == 18 else (args, False)
    counts = np.zeros(4, np.int64)
    for stage in (1, 2, 3):
        kernel(stage, *head, counts, confirm)
    return tuple(int(value) for value in counts)


@pytest.mark.parametrize("kernel", [apply_result_stage, apply_distinct_result_stage])
def test_apply_results_matches_reference(kernel):
    rng = np.random.default_rng(6)
    n, day, compounds, districts = 6000, 12, 30, 4
    members = rng.permutation(n)[:4000].astype(np.int32)  # every agent in at most one tube
    sizes = rng.choice([1, 1, 5, 10], 800)
    sizes = sizes[np.cumsum(sizes) <= members.size]
    member_start = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    members = members[: member_start[-1]]
    tubes = sizes.size
    flags = np.where(rng.random(tubes) < 0.2, FLAG_POSITIVE, 0).astype(np.int8)
    flags[(flags != 0) & (rng.random(tubes) < 0.3)] |= FLAG_FALSE_POSITIVE
    swab_day = rng.integers(8, 13, tubes).astype(np.int16)
    state = dict(
        test_result=rng.integers(0, 4, n).astype(np.int8),
        day_last_result=rng.integers(-1, 12, n).astype(np.int16),
        consecutive_negatives=rng.choice([0, 3, 127], n).astype(np.int8),
        day_detected=np.where(rng.random(n) < 0.2, 5, -1).astype(np.int16),
        is_community_case=np.zeros(n, np.int8),
    )
    quarantine = rng.choice([0, 3, 4], n).astype(np.int8)  # none, central, home
    compound = rng.integers(0, compounds, n).astype(np.int32)
    zone = rng.integers(0, 4, compounds).astype(np.int8)
    district = rng.integers(0, districts, n).astype(np.int8)
    for retest in (True, False):
        s = {k: v.copy() for k, v in state.items()}
        e = {k: v.copy() for k, v in state.items()}
        cases = np.zeros(districts, np.int64)
        retest_out = np.empty(members.size, np.int64)
        new_cases, false_positives, turnaround, retests = apply_results(
            day, swab_day, flags, member_start, members, retest, s["test_result"], s["day_last_result"],
            s["consecutive_negatives"], s["day_detected"], s["is_community_case"], quarantine, compound, zone,
            district, cases, retest_out, kernel=kernel)
        # reference (members unique, so the passes are independent)
        tube = np.repeat(np.arange(tubes), sizes)
        positive = (flags[tube] & FLAG_POSITIVE) != 0
        pooled = sizes[tube] > 1
        negative_members = members[~positive]
        keep_pending = pooled[~positive] & (e["test_result"][negative_members] == TestResult.PENDING_RETEST)
        e["day_last_result"][negative_members] = day
        plain = negative_members[~keep_pending]
        e["test_result"][plain] = TestResult.NEGATIVE
        e["consecutive_negatives"][plain] = np.minimum(e["consecutive_negatives"][plain].astype(int) + 1, 127)
        cases_members = members[positive & (~pooled | (not retest))]
        e["test_result"][cases_members] = TestResult.POSITIVE
        e["day_last_result"][cases_members] = day
        e["consecutive_negatives"][cases_members] = 0
        new = cases_members[e["day_detected"][cases_members] < 0]
        e["day_detected"][new] = day
        restricted = zone[compound[new]] >= 2  # controlled or sealed
        # 1: a community case; 2: found at home inside a sealed or controlled compound; 0: in quarantine elsewhere
        e["is_community_case"][new] = np.where((quarantine[new] == 0) & ~restricted, 1,
                                               np.where(restricted & (quarantine[new] != 3), 2, 0))
        pending = members[positive & pooled] if retest else np.zeros(0, np.int32)
        e["test_result"][pending] = TestResult.PENDING_RETEST
        e["day_last_result"][pending] = day
        e["consecutive_negatives"][pending] = 0
        for name in state:
            assert np.array_equal(s[name], e[name]), name
        assert new_cases == new.size
        assert np.array_equal(cases, np.bincount(district[new], minlength=districts))
        assert false_positives == ((flags & FLAG_FALSE_POSITIVE) != 0).sum()
        assert turnaround == (day - swab_day.astype(int)).sum()
        assert np.array_equal(np.sort(retest_out[:retests]), np.sort(pending))


def test_result_stages_over_split_batches_equal_one_joined_batch():
    """Applying the day's batches stage by stage (as the component does, without joining them) gives
    what apply_results gives on the joined batch, duplicates across batches included."""
    rng = np.random.default_rng(16)
    n, day, compounds, districts = 3000, 12, 30, 4
    members = rng.integers(0, n, 2500).astype(np.int32)  # agents may appear in several tubes
    sizes = rng.choice([1, 1, 5, 10], 600)
    sizes = sizes[np.cumsum(sizes) <= members.size]
    member_start = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    members = members[: member_start[-1]]
    tubes = sizes.size
    flags = np.where(rng.random(tubes) < 0.2, FLAG_POSITIVE, 0).astype(np.int8)
    swab_day = rng.integers(8, 13, tubes).astype(np.int16)
    quarantine = rng.choice([0, 3], n).astype(np.int8)
    compound = rng.integers(0, compounds, n).astype(np.int32)
    zone = rng.integers(0, 4, compounds).astype(np.int8)
    district = rng.integers(0, districts, n).astype(np.int8)

    def fresh():
        return {"test_result": rng.choice([0, 1, 3], n).astype(np.int8), "day_last_result": np.full(n, -1, np.int16),
                "consecutive_negatives": rng.integers(0, 5, n).astype(np.int8),
                "day_detected": np.where(rng.random(n) < 0.1, 3, -1).astype(np.int16),
                "is_community_case": np.zeros(n, np.int8)}

    start = fresh()
    joined = {k: v.copy() for k, v in start.items()}
    split = {k: v.copy() for k, v in start.items()}
    cases_joined, cases_split = np.zeros(districts, np.int64), np.zeros(districts, np.int64)
    room = members.size
    out_joined, out_split = np.empty(room, np.int64), np.empty(room, np.int64)
    expected = apply_results(day, swab_day, flags, member_start, members, True, *joined.values(), quarantine, compound,
                             zone, district, cases_joined, out_joined, True)
    cut = tubes // 3
    batches = [(swab_day[:cut], flags[:cut], member_start[: cut + 1]), (swab_day[cut:], flags[cut:], member_start[cut:])]
    totals = np.zeros(4, np.int64)
    for stage in (1, 2, 3):
        for days, tube_flags, starts in batches:
            apply_result_stage(stage, day, days, tube_flags, starts, members, True, *split.values(), quarantine,
                               compound, zone, district, cases_split, out_split, totals, True)
    assert tuple(int(v) for v in totals) == tuple(int(v) for v in expected)
    assert np.array_equal(out_split[: totals[3]], out_joined[: expected[3]])
    assert np.array_equal(cases_split, cases_joined)
    for name in start:
        assert np.array_equal(split[name], joined[name]), name
    assert expected[0] > 0 and expected[3] > 0


def test_zone_campaigns_around_cases_look_past_a_sealed_city(make_state):
    # The whole city sealed (effective level SEALED everywhere) with one compound sealed around a case and one
    # controlled: 'around_cases' campaigns test those two compounds only; an 'effective' one tests everyone.
    state = make_state(20_000, 7)
    campaigns = [CampaignConfig(zone="sealed", zone_levels="around_cases", coverage_fraction=1.0, pool_size=1),
                 CampaignConfig(zone="controlled", zone_levels="around_cases", coverage_fraction=1.0, pool_size=5)]
    testing = Testing(TestingConfig(campaigns=campaigns, **PERFECT), VIRAL_LOAD)
    rng = component_rng(1, testing.name)
    testing.setup(state, rng)
    state.compound_zone_level[:] = ZoneLevel.SEALED
    state.compound_case_level[1] = ZoneLevel.SEALED
    state.compound_case_level[2] = ZoneLevel.CONTROLLED
    testing.step(state, 0, rng)
    own = state.compound_case_level[state.compound_id]
    swabbed = state.day_last_swab == 0
    assert swabbed.sum() > 0
    assert np.array_equal(swabbed, own >= ZoneLevel.CONTROLLED)
    assert (state.swab_pool_size[own == ZoneLevel.SEALED] == 1).all()
    assert (state.swab_pool_size[own == ZoneLevel.CONTROLLED] == 5).all()

    everyone = Testing(TestingConfig(campaigns=[CampaignConfig(zone="sealed", coverage_fraction=1.0)], **PERFECT),
                       VIRAL_LOAD)
    everyone.setup(state, rng)
    everyone.step(state, 3, rng)
    assert (state.day_last_swab == 3).all()


def test_zone_levels_around_cases_needs_a_zone_campaign():
    with pytest.raises(ValueError, match="zone_levels 'around_cases' applies to zone sealed"):
        CampaignConfig(zone="city", zone_levels="around_cases")
