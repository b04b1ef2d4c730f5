"""Synthetic city: structure invariants (hypothesis) and agreement with the shipped tables."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zerosim.population.config import PopulationConfig
from zerosim.population.state import (
    AGENT_SCHEMA,
    NO_GROUP,
    SCHOOL_SECTORS,
    WORK_SECTORS,
    PopulationState,
    bytes_per_agent,
)
from zerosim import memory
from zerosim.memory import release_freed_memory
from zerosim.population.synthesis import _apportion, build_population, city_tables


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(min_value=100, max_value=30_000), seed=st.integers(min_value=0, max_value=2**32))
@example(n=12680, seed=153185)  # a district's first household draw fell short of its people (IndexError before)
def test_structure_invariants(n, seed):
    state = build_population(PopulationConfig(size=n), seed)
    g = state.groups
    tables = city_tables()
    # nobody created or lost; districts hold their scaled share exactly
    assert state.size == n
    assert np.array_equal(np.diff(g.district_start), _apportion(n, tables.district_population))
    # residential units are contiguous, nested, and every agent's id points at its range
    for ids, starts in (
        (state.household_id, g.household_start),
        (state.building_id, g.building_start),
        (state.compound_id, g.compound_start),
        (state.subdistrict_id, g.subdistrict_start),
        (state.district_id, g.district_start),
    ):
        assert starts[0] == 0 and starts[-1] == n
        assert (np.diff(starts) >= 1).all()
        index = np.arange(n)
        assert ((starts[ids] <= index) & (index < starts[ids.astype(np.int64) + 1])).all()
    for inner, outer in ((state.household_id, state.building_id), (state.building_id, state.compound_id),
                         (state.compound_id, state.subdistrict_id), (state.subdistrict_id, state.district_id)):
        # each inner unit lies in exactly one outer unit
        first = np.unique(inner, return_index=True)[1]
        assert np.array_equal(outer[first][inner], outer)
    assert np.array_equal(g.compound_subdistrict[state.compound_id], state.subdistrict_id)
    # workplaces and schools: CSR agrees with the per-agent ids
    for ids, offsets, members in ((state.workplace_id, g.workplace_offsets, g.workplace_members),
                                  (state.school_id, g.school_offsets, g.school_members)):
        assert offsets[-1] == members.size == (ids != NO_GROUP).sum()
        labels = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        assert np.array_equal(ids[members], labels)
    assert not ((state.workplace_id >= 0) & (state.school_id >= 0)).any()
    # codes stay within their ranges
    assert state.age.max() <= 100
    assert np.isin(state.sector[state.workplace_id >= 0], WORK_SECTORS).all()
    assert np.isin(state.sector[state.school_id >= 0], SCHOOL_SECTORS).all()
    assert ((state.vaccine_doses >= 0) & (state.vaccine_doses <= 3)).all()


@pytest.fixture(scope="module")
def big_city():
    return build_population(PopulationConfig(size=200_000), 11)


def test_ages_match_the_pyramid(big_city):
    tables = city_tables()
    n = big_city.size
    for low, high, share in zip(tables.age_low, tables.age_high, tables.age_share):
        observed = ((big_city.age >= low) & (big_city.age <= high)).mean()
        sigma = np.sqrt(share * (1 - share) / n)
        assert abs(observed - share) < 5 * sigma + 1e-4, (low, high, observed, share)


def test_household_sizes_match_the_table(big_city):
    tables = city_tables()
    sizes = np.diff(big_city.groups.household_start)
    households = sizes.size
    for size, share in zip(tables.household_size, tables.household_share):
        observed = (sizes == size).mean()
        sigma = np.sqrt(share * (1 - share) / households)
        # one truncated household per district may change size: allow 16 / households on top
        assert abs(observed - share) < 5 * sigma + 16 / households, (size, observed, share)


def test_household_composition_is_plausible(big_city):
    # children live with adults: no household made only of under-15s
    household = big_city.household_id
    oldest = np.zeros(big_city.groups.household_count, dtype=np.int64)
    np.maximum.at(oldest, household, big_city.age.astype(np.int64))
    assert (oldest >= 15).mean() > 0.999


def test_compounds_within_configured_bounds(big_city):
    sizes = np.diff(big_city.groups.compound_start)
    # all but the last compound of each district respect the bounds (+ one household of slack)
    assert np.median(sizes) >= 1000 and np.median(sizes) <= 3000
    assert (sizes <= 3000 + 10).mean() > 0.99


def test_school_ages_and_enrolment(big_city):
    tables = city_tables()
    for kind, low, high, rate in zip(tables.school_types, tables.school_age_low, tables.school_age_high,
                                     tables.school_enrollment):
        in_age = (big_city.age >= low) & (big_city.age <= high)
        enrolled = in_age & (big_city.school_id >= 0)
        assert abs(enrolled.sum() / in_age.sum() - rate) < 0.02, kind
    pupils = big_city.school_id >= 0
    assert big_city.age[pupils].min() >= tables.school_age_low.min()
    assert big_city.age[pupils].max() <= tables.school_age_high.max()


def test_state_fits_the_memory_budget(big_city):
    # issue 2: <= 150 bytes of state per agent (group indexes and buffers included)
    assert bytes_per_agent() <= 150
    assert big_city.nbytes() / big_city.size <= 150


def test_state_adopts_filled_arrays_and_fills_the_rest():
    city = build_population(PopulationConfig(size=1_000), 3)
    age = city.age.copy()
    state = PopulationState(city.size, city.groups, city.district_names, filled={"age": age})
    assert state.age is age  # adopted, not copied
    for spec in AGENT_SCHEMA:
        if spec.name != "age":
            assert state.arrays[spec.name].dtype == spec.dtype
            assert (state.arrays[spec.name] == spec.fill).all(), spec.name
    with pytest.raises(ValueError, match="age"):
        PopulationState(city.size, city.groups, city.district_names, filled={"age": age.astype(np.int16)})
    with pytest.raises(ValueError, match="age"):
        PopulationState(city.size, city.groups, city.district_names, filled={"age": age[:-1]})
    with pytest.raises(ValueError, match="not_a_column"):
        PopulationState(city.size, city.groups, city.district_names, filled={"not_a_column": age})


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm") or memory._malloc_trim() is None,
                    reason="glibc on Linux only: elsewhere release_freed_memory is a no-op")
def test_release_freed_memory_gives_the_freed_heap_back():
    blocks = [np.ones(8_000) for _ in range(1_000)]  # 64 MB in 64 KB arrays: heap, below the mmap threshold
    pin = np.ones(8_000)  # allocated above them, so the heap cannot shrink by itself when they are freed
    del blocks
    before = _resident_bytes()
    assert release_freed_memory() is True
    assert before - _resident_bytes() > 32 * 2**20  # most of the 64 MB left the process
    del pin


def test_release_freed_memory_is_a_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    assert release_freed_memory() is False
