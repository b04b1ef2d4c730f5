"""Region layer: visitor slots -- rows reserved at the end of a city's state for people from elsewhere.

Layer ``region`` -- imports the population state and codes only.

A city of N residents gets V extra rows (N .. N+V-1). Each slot is its own one-person household,
building and compound (a hotel room), attached for zoning to a host subdistrict drawn in proportion
to population; slots are outside every residential range (``subdistrict_start``,
``district_start``), so the city's residential layers, district populations and per-100,000
denominators of its districts are unchanged. A traveller's state row (disease course, test
history, health code, confinement record) is copied into a free slot on arrival and back home on
return; the home row is *parked* meanwhile.

A parked row -- an empty slot, or a resident who is away -- is inert everywhere without any change
to the single-city kernels: compartment DEAD (no progression, no testing, no tracing, skipped by
the ledger), ``day_infected`` 0 (never a contact target or a seed), mobility AWAY (above every
contact layer's limit; Confinement leaves it alone) and no facility. Parked rows are removed from
the city's compartment counts; a traveller is counted where he is (de facto population).
"""

from __future__ import annotations

import numpy as np

from zerosim.population.state import (
    AGE_BAND_COUNT,
    AGENT_SCHEMA,
    NEVER,
    NO_GROUP,
    Compartment,
    GroupIndex,
    HealthCode,
    IsolationStatus,
    Mobility,
    PopulationState,
    QuarantineStatus,
    TestResult,
    Travel,
)

#: Columns of the base schema that travel with a person (copied to the slot on arrival and back home
#: on return), read off each array's declared ``travel``; a run's own list, with the arrays its
#: components declared, is :meth:`PopulationState.travel_columns`. The clinical course of the
#: infected travels too, with ``zerosim.disease.components.move_courses``.
TRAVEL_COLUMNS: tuple[str, ...] = tuple(s.name for s in AGENT_SCHEMA if s.travel in (Travel.WITH_PERSON, Travel.FIXED))
#: Columns that never change during a run: not copied back home.
STATIC_COLUMNS = frozenset(s.name for s in AGENT_SCHEMA if s.travel == Travel.FIXED)
#: Slot-owned columns (the slot's own household, compound, host subdistrict ...), never copied.
SLOT_COLUMNS = tuple(s.name for s in AGENT_SCHEMA if s.travel == Travel.STAYS)


def with_visitor_slots(state: PopulationState, slots: int, rng: np.random.Generator) -> PopulationState:
    """A new state holding ``state``'s residents followed by ``slots`` parked visitor slots.

    Parameters
    ----------
    state : PopulationState
        A freshly built city (no components set up yet).
    slots : int
        Number of visitor rows to add (0 returns ``state`` itself).
    rng : numpy Generator
        Draws each slot's host subdistrict and placeholder age (a random resident's).
    """
    if slots <= 0:
        return state
    n, v = state.size, int(slots)
    g = state.groups

    def extend(starts: np.ndarray) -> np.ndarray:
        return np.concatenate([starts, n + 1 + np.arange(v, dtype=starts.dtype)])

    template = rng.integers(0, n, size=v)
    host = state.subdistrict_id[template].astype(np.int64)
    groups = GroupIndex(
        household_start=extend(g.household_start),
        building_start=extend(g.building_start),
        compound_start=extend(g.compound_start),
        subdistrict_start=g.subdistrict_start,
        district_start=g.district_start,
        workplace_offsets=g.workplace_offsets,
        workplace_members=g.workplace_members,
        workplace_sector=g.workplace_sector,
        workplace_district=g.workplace_district,
        school_offsets=g.school_offsets,
        school_members=g.school_members,
        school_sector=g.school_sector,
        compound_subdistrict=np.concatenate([g.compound_subdistrict, host.astype(g.compound_subdistrict.dtype)]),
        subdistrict_district=g.subdistrict_district,
    )
    extended = PopulationState(n + v, groups, state.district_names)
    extended.real_residents = dict(state.real_residents)
    extended.declare([spec for spec in state.schema.values() if spec.name not in extended.schema], by="the city")
    for name, array in state.arrays.items():
        extended.arrays[name][:n] = array
    for name, array in state.unit_arrays.items():
        if name not in extended.unit_arrays:
            extended.unit_arrays[name] = array
        elif extended.unit_arrays[name].shape == array.shape:
            extended.unit_arrays[name][...] = array
    rows = np.arange(n, n + v)
    extended.household_id[rows] = g.household_count + np.arange(v)
    extended.building_id[rows] = g.building_count + np.arange(v)
    extended.compound_id[rows] = g.compound_count + np.arange(v)
    extended.subdistrict_id[rows] = host
    extended.district_id[rows] = g.subdistrict_district[host]
    extended.workplace_id[rows] = NO_GROUP
    extended.school_id[rows] = NO_GROUP
    extended.sector[rows] = 0
    extended.age[rows] = state.age[template]
    extended.sex[rows] = state.sex[template]
    park(extended, rows)
    return extended


def park(state: PopulationState, rows: np.ndarray) -> None:
    """Make ``rows`` inert (see the module docstring). Counts are the caller's business."""
    state.compartment[rows] = Compartment.DEAD
    state.day_infected[rows] = 0
    state.infected_by[rows] = NO_GROUP
    state.mobility[rows] = Mobility.AWAY
    state.facility_id[rows] = NO_GROUP
    state.health_code[rows] = HealthCode.GREEN
    state.isolation_status[rows] = IsolationStatus.NONE
    state.quarantine_status[rows] = QuarantineStatus.NONE
    state.day_detected[rows] = NEVER
    state.day_swab_requested[rows] = NEVER
    state.test_result[rows] = TestResult.NONE
    state.is_community_case[rows] = 0
    state.is_compliant_today[rows] = 1


def age_bands(state: PopulationState, rows: np.ndarray) -> np.ndarray:
    return np.minimum(state.age[rows] // 10, AGE_BAND_COUNT - 1).astype(np.int64)


def add_to_counts(state: PopulationState, rows: np.ndarray, sign: int) -> None:
    """Add (+1) or remove (-1) ``rows`` at their current compartment in the city's compartment counts."""
    if rows.size == 0:
        return
    compartment = state.compartment[rows].astype(np.int64)
    np.add.at(state.count_by_district, (state.district_id[rows].astype(np.int64), compartment), sign)
    np.add.at(state.count_by_age_band, (age_bands(state, rows), compartment), sign)


def copy_rows(source: PopulationState, source_rows: np.ndarray, target: PopulationState, target_rows: np.ndarray,
              columns: tuple[str, ...] | None = None) -> None:
    """Copy ``columns`` (default: every array that travels, components' own included) of ``source_rows``
    into ``target_rows`` (same order)."""
    for name in (source.travel_columns() if columns is None else columns):
        target.arrays[name][target_rows] = source.arrays[name][source_rows]


def slot_unit_bytes() -> int:
    """Bytes of group indexes and per-unit arrays each visitor slot adds (one household, building and
    compound): three int64 offsets, the compound's subdistrict (int16), zoning's per-compound level and
    days (2 int8 + 2 int16), confinement's compound level (int8), and the ledger's per-household food
    stock, flags and lookups (2 float32 + 2 int8 + 2 int64 + 1 bool), plus the daily event buffer (int32)."""
    return 3 * 8 + 2 + (2 + 4) + 1 + (8 + 2 + 16 + 1) + 4
