"""Every Numba kernel agrees with a plain NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zerosim.disease.kernels import (
    COURSE_COLUMNS,
    COURSE_CRITICAL,
    COURSE_FATAL,
    COURSE_INFECTIOUS,
    COURSE_OUTCOME,
    COURSE_SEVERE,
    COURSE_SYMPTOMATIC,
    collect_active,
    count_active,
    course_viral_weight,
    drop_listed,
    log10_viral_load,
    merge_courses,
    outcomes_by_dose_count,
    progress_day,
)
from zerosim.population.kernels import blocks_with, count_codes, union_sorted, where_equal, where_nonzero
from zerosim.population.state import COMPARTMENT_COUNT, NEVER, Compartment
from zerosim.transmission.kernels import facility_index, hash_uniform, poisson_from_uniforms


def reference_viral_load(day, detectable, peak, clear, peak_log10, limit):
    day = np.asarray(day, dtype=float)
    rising = limit + (peak_log10 - limit) * (day - detectable) / max(peak - detectable, 1)
    falling = peak_log10 - (peak_log10 - limit) * (day - peak) / max(clear - peak, 1)
    value = np.where(day <= peak, rising, falling)
    return np.where((day < detectable) | (day > clear) | (detectable < 0), 0.0, value)


@settings(max_examples=50, deadline=None)
@given(detectable=st.integers(0, 10), rise=st.integers(1, 6), fall=st.integers(1, 15),
       peak_log10=st.floats(3.5, 11))
def test_viral_load_matches_reference(detectable, rise, fall, peak_log10):
    peak, clear = detectable + rise, detectable + rise + fall
    for day in range(0, clear + 3):
        expected = reference_viral_load(day, detectable, peak, clear, peak_log10, 3.0)
        assert np.isclose(log10_viral_load(day, detectable, peak, clear, peak_log10, 3.0), expected)
    total, last = course_viral_weight(detectable, peak, clear, np.float32(peak_log10), 3.0, 6.0)
    days = np.arange(detectable, clear + 1)
    excess = reference_viral_load(days, detectable, peak, clear, np.float32(peak_log10), 3.0) - 6.0
    assert np.isclose(total, np.clip(excess, 0, None).sum())
    assert last == (days[excess > 0].max() if (excess > 0).any() else -1)


def reference_progress(day, compartment, d_inf, d_sym, d_sev, d_crit, d_out, fatal):
    out = compartment.copy()
    active = (compartment >= Compartment.EXPOSED) & (compartment <= Compartment.CRITICAL)
    target = np.select(
        [day >= d_out, (d_crit >= 0) & (day >= d_crit), (d_sev >= 0) & (day >= d_sev), (d_sym >= 0) & (day >= d_sym),
         day >= d_inf],
        [np.where(fatal == 1, Compartment.DEAD, Compartment.RECOVERED), Compartment.CRITICAL, Compartment.SEVERE,
         Compartment.MILD, np.where(d_sym < 0, Compartment.ASYMPTOMATIC, Compartment.PRESYMPTOMATIC)],
        default=compartment,
    )
    out[active] = target[active]
    return out


def test_progress_day_matches_reference():
    rng = np.random.default_rng(4)
    n = 40_000  # several work chunks (PROGRESS_CHUNK_MIN agents each)
    compartment = rng.integers(0, COMPARTMENT_COUNT, n).astype(np.int8)
    d_inf = rng.integers(1, 5, n).astype(np.int16)
    d_sym = np.where(rng.random(n) < 0.3, NEVER, d_inf + rng.integers(0, 3, n)).astype(np.int16)
    d_sev = np.where((d_sym >= 0) & (rng.random(n) < 0.3), d_sym + 2, NEVER).astype(np.int16)
    d_crit = np.where((d_sev >= 0) & (rng.random(n) < 0.3), d_sev + 2, NEVER).astype(np.int16)
    d_out = (np.maximum.reduce([d_inf, d_sym, d_sev, d_crit]) + rng.integers(1, 5, n)).astype(np.int16)
    fatal = ((d_crit >= 0) & (rng.random(n) < 0.5)).astype(np.int8)
    district = rng.integers(0, 3, n).astype(np.int8)
    age = rng.integers(0, 101, n).astype(np.uint8)
    for day in range(0, 14):
        expected = reference_progress(day, compartment, d_inf, d_sym, d_sev, d_crit, d_out, fatal)
        counts = np.zeros((3, COMPARTMENT_COUNT), dtype=np.int64)
        np.add.at(counts, (district.astype(int), compartment.astype(int)), 1)
        by_age = np.zeros((9, COMPARTMENT_COUNT), dtype=np.int64)
        np.add.at(by_age, (np.minimum(age // 10, 8).astype(int), compartment.astype(int)), 1)
        entered = np.zeros_like(counts)
        changed = expected != compartment
        listed = np.flatnonzero((compartment >= 1) & (compartment <= 6)).astype(np.int32)
        listed = np.concatenate([listed, np.flatnonzero(compartment == 0)[:50].astype(np.int32)])  # others skipped
        listed = np.sort(listed)
        course = np.zeros((listed.size, COURSE_COLUMNS), np.int16)
        for column, days in ((COURSE_INFECTIOUS, d_inf), (COURSE_SYMPTOMATIC, d_sym), (COURSE_SEVERE, d_sev),
                             (COURSE_CRITICAL, d_crit), (COURSE_OUTCOME, d_out), (COURSE_FATAL, fatal)):
            course[:, column] = days[listed]
        scale = (listed * 0.5).astype(np.float32)  # tied to the agent: must move with it
        # a third of the listed come in as today's new infections, to be merged while progressing
        new = np.zeros(listed.size, dtype=bool)
        new[::3] = True
        out_ids, out_course, out_scale = np.empty_like(listed), np.empty_like(course), np.empty_like(scale)
        kept = progress_day(day, listed[~new], int((~new).sum()), course[~new], scale[~new], listed[new],
                            course[new], scale[new], out_ids, out_course, out_scale, compartment, district, age,
                            counts, by_age, entered)
        assert np.array_equal(compartment, expected)
        still = np.flatnonzero((expected >= 1) & (expected <= 6))
        assert np.array_equal(out_ids[:kept], still)  # the infected stay listed, in order; the others go
        assert np.array_equal(out_scale[:kept], (still * 0.5).astype(np.float32))
        assert np.array_equal(out_course[:kept, COURSE_OUTCOME], d_out[still])
        recount = np.zeros_like(counts)
        np.add.at(recount, (district.astype(int), compartment.astype(int)), 1)
        assert np.array_equal(counts, recount)
        expected_entered = np.zeros_like(counts)
        np.add.at(expected_entered, (district[changed].astype(int), compartment[changed].astype(int)), 1)
        assert np.array_equal(entered, expected_entered)


def test_collect_active_matches_flatnonzero():
    compartment = np.random.default_rng(1).integers(0, COMPARTMENT_COUNT, 10_000).astype(np.int8)
    out = np.empty(compartment.size, dtype=np.int64)
    count = collect_active(compartment, out)
    expected = np.flatnonzero((compartment >= 1) & (compartment <= 6))
    assert np.array_equal(out[:count], expected)
    assert count_active(compartment) == expected.size


@settings(max_examples=50, deadline=None)
@given(first=st.sets(st.integers(0, 500)), second=st.sets(st.integers(0, 500)))
def test_union_sorted_is_the_sorted_union(first, second):
    a = np.array(sorted(first) + [-7, -7], dtype=np.int32)  # entries past the count are ignored
    b = np.array(sorted(second), dtype=np.int32)
    out = np.empty(len(first) + len(second), dtype=np.int32)
    count = union_sorted(a, len(first), b, out)
    assert np.array_equal(out[:count], np.array(sorted(first | second), dtype=np.int32))


def _listed_with_payload(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Course rows and scales that identify their agent (so a test can see they moved with it)."""
    course = (ids[:, None] % 97 + np.arange(COURSE_COLUMNS)).astype(np.int16)
    return course, (ids * 0.5).astype(np.float32)


@settings(max_examples=50, deadline=None)
@given(listed=st.sets(st.integers(0, 500)), rows=st.lists(st.integers(0, 600)))
def test_drop_listed_removes_exactly_the_rows(listed, rows):
    ids = np.array(sorted(listed) + [-7], dtype=np.int32)
    course, scale = _listed_with_payload(ids)
    kept = drop_listed(ids, course, scale, len(listed), np.sort(np.array(rows, dtype=np.int64)))
    expected = np.array(sorted(listed - set(rows)), dtype=np.int32)
    assert np.array_equal(ids[:kept], expected)
    expected_course, expected_scale = _listed_with_payload(expected)
    assert np.array_equal(course[:kept], expected_course) and np.array_equal(scale[:kept], expected_scale)


def test_hash_uniforms_are_uniform_and_deterministic():
    values = np.array([hash_uniform(99, i, 3, 7) for i in range(20_000)])
    assert values.min() >= 0 and values.max() < 1
    assert abs(values.mean() - 0.5) < 0.01
    counts = np.histogram(values, bins=10, range=(0, 1))[0]
    assert counts.min() > 1800 and counts.max() < 2200
    assert hash_uniform(99, 5, 3, 7) == hash_uniform(99, 5, 3, 7)
    assert hash_uniform(99, 5, 3, 7) != hash_uniform(100, 5, 3, 7)


def test_poisson_from_uniforms_has_the_right_moments():
    for lam in (0.3, 4.0, 55.0):
        draws = np.array([poisson_from_uniforms(lam, 17, i, 0) for i in range(20_000)])
        assert abs(draws.mean() - lam) < 4 * np.sqrt(lam / draws.size) + 0.01
        assert abs(draws.var() / lam - 1) < 0.06


@settings(deadline=None, max_examples=60)  # the first call compiles the kernel
@given(st.lists(st.integers(0, 30), max_size=200))
def test_stable_order_by_key_is_a_stable_argsort(keys):
    from zerosim.population.kernels import stable_order_by_key

    keys = np.asarray(keys, dtype=np.int32)
    assert np.array_equal(stable_order_by_key(keys, 31), np.argsort(keys, kind="stable"))


def test_facility_index_matches_argsort():
    rng = np.random.default_rng(8)
    facility = np.where(rng.random(5_000) < 0.2, rng.integers(0, 12, 5_000), -1).astype(np.int32)
    mobility = rng.integers(0, 4, 5_000).astype(np.int8)
    offsets, members = facility_index(mobility, facility, np.int8(3))
    inside = np.flatnonzero(facility >= 0)
    order = np.argsort(facility[inside], kind="stable")
    assert np.array_equal(members, inside[order])
    assert np.array_equal(offsets, np.r_[0, np.cumsum(np.bincount(facility[inside], minlength=facility.max() + 1))])
    empty_offsets, empty_members = facility_index(np.zeros(5_000, np.int8), facility, np.int8(3))
    assert empty_offsets.tolist() == [0] and empty_members.size == 0
    # Sparse: lone residents at block edges and in the tail, between blocks nobody is in a facility.
    sparse = np.full(5_000, -1, np.int32)
    sparse[[0, 255, 256, 4_999]] = [4, 1, 4, 0]
    offsets, members = facility_index(np.where(sparse >= 0, 3, 0).astype(np.int8), sparse, np.int8(3))
    assert offsets.tolist() == [0, 1, 2, 2, 2, 4] and members.tolist() == [4_999, 255, 0, 256]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 20_000), codes=st.integers(1, 6), density=st.floats(0.0, 1.0), seed=st.integers(0, 99))
def test_code_counts_and_index_scans_match_numpy(n, codes, density, seed):
    rng = np.random.default_rng(seed)
    values = np.where(rng.random(n) < density, rng.integers(-1, codes + 1, n), 0).astype(np.int8)
    assert np.array_equal(count_codes(values, codes), np.bincount(values[(values >= 0) & (values < codes)],
                                                                  minlength=codes))
    assert np.array_equal(where_nonzero(values), np.flatnonzero(values))
    assert np.array_equal(where_equal(values, np.int8(1)), np.flatnonzero(values == 1))
    days = np.where(values > 0, np.int16(300) + values, -1).astype(np.int16)  # a day per agent, -1 = never
    assert np.array_equal(where_equal(days, np.int16(301)), np.flatnonzero(days == 301))
    assert np.array_equal(where_nonzero(days + 1), np.flatnonzero(days + 1))


@pytest.mark.parametrize("n", [0, 255, 256, 257, 5_000])
def test_block_skipping_scans_find_lone_matches(n):
    """The scans skip blocks without a match: a match at either end of a block, or in the tail
    after the last full block, is still found."""
    for position in sorted({0, 255, 256, 511, n - 1} & set(range(n))):
        values = np.zeros(n, dtype=np.int8)
        values[position] = 2
        assert where_nonzero(values).tolist() == [position]
        assert where_equal(values, np.int8(2)).tolist() == [position]
        assert count_codes(values, 3).tolist() == [n - 1, 0, 1]
        busy = blocks_with(values, np.int8(0), True)
        assert busy.size == (n + 255) // 256 and np.flatnonzero(busy).tolist() == [position // 256]


@pytest.mark.parametrize("shape", [0.25, 1.0, 3.0])
def test_hash_normal_and_gamma_have_the_right_moments(shape):
    from zerosim.population.counter_rng import hash_gamma, hash_normal

    z = np.array([hash_normal(11, i, 4, 0) for i in range(40_000)])
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs((np.abs(z) > 1.96).mean() - 0.05) < 0.005
    g = np.array([hash_gamma(shape, 11, i, 5) for i in range(40_000)])
    assert g.min() > 0
    assert abs(g.mean() / shape - 1) < 0.04 and abs(g.var() / shape - 1) < 0.12


def test_sampled_courses_follow_the_config(make_state):
    """Course durations drawn by the kernel have the configured log-normal means, and severity the
    configured share."""
    import zerosim
    from zerosim.disease.components import NaturalHistory, course_table
    from zerosim.engine.rng import component_rng

    disease = zerosim.load_scenario("well-mixed").disease.resolve()
    state = make_state(60_000, 3, vaccinate=False)
    component = NaturalHistory(config=disease)
    component.setup(state, component_rng(2, "courses"))
    component.infect(state, np.arange(state.size), 0, component_rng(2, "courses"))
    course = course_table(state, np.arange(state.size))
    symptomatic = course["day_symptomatic"] >= 0
    assert abs(symptomatic.mean() - (1 - disease.asymptomatic_fraction)) < 0.01
    incubation = course["day_symptomatic"][symptomatic].astype(float)
    assert abs(incubation.mean() / disease.incubation.mean_days - 1) < 0.05  # whole days, at least 1
    assert (state.compartment == 1).all() and (course["day_infectious"] >= 1).all()
    assert (course["day_outcome"] > course["day_infectious"]).all()
    assert (course["infectiousness_scale"] >= 0).all() and course["infectiousness_scale"].max() > 0


@pytest.mark.parametrize("variant, eclipse", [("ancestral", 2), ("delta", 2), ("omicron_ba2", 1)])
def test_no_swab_finds_the_virus_before_the_eclipse_ends(make_state, variant, eclipse):
    """The first detectable day is at least ``eclipse_days`` after infection (Killingley et al. 2022: 40 h),
    the peak a day later, and the eclipse binds: some courses start exactly on its last day."""
    import zerosim
    from zerosim.disease.components import NaturalHistory
    from zerosim.engine.rng import component_rng

    disease = zerosim.load_scenario("well-mixed", {"disease.variant": variant}).disease.resolve()
    assert disease.viral_load.eclipse_days == eclipse
    state = make_state(20_000, 3, vaccinate=False)
    component = NaturalHistory(config=disease)
    component.setup(state, component_rng(2, "eclipse"))
    component.infect(state, np.arange(state.size), 5, component_rng(2, "eclipse"))
    after = state.day_viral_detectable.astype(np.int64) - 5
    assert after.min() == eclipse
    assert (state.day_viral_peak > state.day_viral_detectable).all()


@settings(max_examples=50, deadline=None)
@given(first=st.sets(st.integers(0, 500)), second=st.sets(st.integers(0, 500)))
def test_merge_courses_keeps_order_and_payload(first, second):
    second = second - first
    size = len(first) + len(second)
    ids = np.full(size + 1, -7, dtype=np.int32)  # room for the merge, and one row past it left alone
    ids[: len(first)] = sorted(first)
    course, scale = _listed_with_payload(ids)
    new = np.array(sorted(second), dtype=np.int32)
    new_course, new_scale = _listed_with_payload(new)
    assert merge_courses(ids, course, scale, len(first), new, new_course, new_scale) == size
    merged = np.array(sorted(first | second), dtype=np.int32)
    assert np.array_equal(ids[:size], merged) and ids[size] == -7
    expected_course, expected_scale = _listed_with_payload(merged)
    assert np.array_equal(course[:size], expected_course) and np.array_equal(scale[:size], expected_scale)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 3_000), interval=st.integers(1, 9), seed=st.integers(0, 99))
def test_screened_workers_by_turn_is_a_stable_bucketing(n, interval, seed):
    from zerosim.policy.testing_kernels import screened_workers_by_turn

    rng = np.random.default_rng(seed)
    workplace_id = np.where(rng.random(n) < 0.6, rng.integers(0, 50, n), -1).astype(np.int32)
    sector = rng.integers(0, 5, n).astype(np.int8)
    screen_of_sector = np.array([-1, 0, 1, 0, -1], dtype=np.int8)
    members, offsets = screened_workers_by_turn(workplace_id, sector, screen_of_sector, 0, interval)
    workers = np.flatnonzero((workplace_id >= 0) & (screen_of_sector[sector] == 0))
    order = np.argsort(workers % interval, kind="stable")
    assert np.array_equal(members, workers[order]) and members.dtype == np.int32
    assert np.array_equal(offsets, np.r_[0, np.cumsum(np.bincount(workers % interval, minlength=interval))])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 3000), seed=st.integers(0, 2**31 - 1))
def test_outcomes_by_dose_count_matches_bincount(n, seed):
    rng = np.random.default_rng(seed)
    doses = rng.integers(-1, 6, n).astype(np.int8)  # -1 and 4-5: outside 0..3, left out
    compartment = rng.integers(0, COMPARTMENT_COUNT, n).astype(np.int8)
    counted = outcomes_by_dose_count(doses, compartment, 4)
    inside = (doses >= 0) & (doses < 4)
    ever = inside & (compartment != Compartment.SUSCEPTIBLE)
    dead = inside & (compartment == Compartment.DEAD)
    assert counted[0].tolist() == np.bincount(doses[ever], minlength=4)[:4].tolist()
    assert counted[1].tolist() == np.bincount(doses[dead], minlength=4)[:4].tolist()
