"""Region layer: visitor slots -- rows reserved at the end of a city's state for people from elsewhere
-- and the **exchange** of travellers between cities.

Layer ``region`` -- imports the population state and codes, and the disease layer's course list.

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

from zerosim.disease.components import move_courses, scale_infectiousness
from zerosim.population.state import (
    AGE_BAND_COUNT,
    NO_GROUP,
    Compartment,
    GroupIndex,
    Mobility,
    PopulationState,
    Travel,
)

#: What travels with a person is read off each array's declared ``travel`` (``ArraySpec.travel``):
#: :meth:`PopulationState.travel_columns` lists a run's own, components' arrays included. The clinical
#: course of the infected travels too, with ``zerosim.disease.components.move_courses``.
#: Values of a parked row that differ from the fill (see the module docstring); :func:`park` sets
#: these and puts the rest of :data:`PARKED_AT_FILL` at their fill.
PARKED = {"compartment": Compartment.DEAD, "day_infected": 0, "mobility": Mobility.AWAY}
PARKED_AT_FILL = ("infected_by", "facility_id", "health_code", "isolation_status", "quarantine_status",
                  "day_detected", "day_swab_requested", "test_result", "is_community_case", "is_compliant_today")


def exchange_writes(state: PopulationState) -> frozenset[str]:
    """Every per-agent array the exchange may write in ``state``: what travels (``WITH_PERSON``,
    ``FIXED``), what a newcomer starts afresh (``RESETS``) and what parking a row sets. Never the
    row's own structure (``STAYS``: household, compound, workplace, worker type ...).

    The exchange writes arrays that components own because it moves *people*, not decisions: a
    traveller's row is his state (disease course, test history, quarantine record ...), and moving
    it from one city's row to another's is neither a test nor a quarantine. Who is tested or
    quarantined on the way is the travel screening's, through the owners (``screening.py``).
    """
    carried = {name for name, spec in state.schema.items() if spec.travel != Travel.STAYS}
    return frozenset(carried | set(PARKED) | set(PARKED_AT_FILL))


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
    for name, value in PARKED.items():
        state.arrays[name][rows] = value
    for name in PARKED_AT_FILL:
        state.arrays[name][rows] = state.schema[name].fill


def reset_rows(state: PopulationState, rows: np.ndarray, travel: Travel = Travel.RESETS) -> None:
    """Put the arrays of kind ``travel`` of ``rows`` at their fill values."""
    for name in state.travel_columns(travel):
        state.arrays[name][rows] = state.schema[name].fill


def exclude_empty_slots(state: PopulationState, first_slot: int) -> None:
    """After the disease layer's set-up counted every row as susceptible: take the (parked) slots
    ``first_slot ..`` out of the age-band counts, so the city counts as it would alone."""
    rows = np.arange(first_slot, state.size)
    np.subtract.at(state.count_by_age_band, (age_bands(state, rows), Compartment.SUSCEPTIBLE), 1)


# -- the exchange: moving people between rows ---------------------------------------------------------
def move_in(home: PopulationState, home_rows: np.ndarray, host: PopulationState, slot_rows: np.ndarray,
            weight: float) -> None:
    """Travellers ``home_rows`` of ``home`` arrive in the free visitor rows ``slot_rows`` of ``host``:
    their carried arrays (``WITH_PERSON``, ``FIXED``) and clinical course are copied, their
    infectiousness is multiplied by ``weight`` (host scale / home scale), what a newcomer starts
    afresh (``RESETS``: mobility, pending swab request, ...) is at its fill, the home rows are parked,
    and both cities' counts follow them."""
    copy_rows(home, home_rows, host, slot_rows)
    move_courses(home, home_rows, host, slot_rows)
    scale_infectiousness(host, slot_rows, np.float32(weight))
    add_to_counts(home, home_rows, -1)
    park(home, home_rows)
    reset_rows(host, slot_rows)
    add_to_counts(host, slot_rows, +1)


def move_home(host: PopulationState, slot_rows: np.ndarray, home: PopulationState, home_rows: np.ndarray,
              weight: np.ndarray) -> None:
    """Visitors in ``slot_rows`` of ``host`` go back to their rows ``home_rows`` of ``home``: what
    changes on a trip (``WITH_PERSON``: infection, tests, codes, quarantine record ...) and the
    clinical course are copied back, the infectiousness weight (per row) is divided out, ``RESETS``
    arrays are at their fill (an infector's row in the host means nothing at home) and the home
    city counts them again. The slots are the caller's to :func:`vacate`."""
    copy_rows(host, slot_rows, home, home_rows, host.travel_columns(Travel.WITH_PERSON))
    move_courses(host, slot_rows, home, home_rows)
    scale_infectiousness(home, home_rows, weight, divide=True)
    reset_rows(home, home_rows)
    add_to_counts(home, home_rows, +1)


def vacate(state: PopulationState, rows: np.ndarray) -> None:
    """Empty the visitor rows ``rows``: out of the counts, parked, their courses dropped."""
    add_to_counts(state, rows, -1)
    park(state, rows)
    state.stores["active_agents"].drop(rows)


def arrive_from_outside(state: PopulationState, slot_rows: np.ndarray, template_rows: np.ndarray) -> None:
    """People from outside the region arrive in the free visitor rows ``slot_rows``: who they are
    (``FIXED``: age, sex, vaccination) is copied from residents ``template_rows``, everything else
    starts at its fill (susceptible, never tested ...); they are counted in the city. Infections
    before arrival are recorded by the owners (transmission, disease) afterwards."""
    for name in state.travel_columns(Travel.FIXED):
        state.arrays[name][slot_rows] = state.arrays[name][template_rows]
    reset_rows(state, slot_rows, Travel.WITH_PERSON)
    reset_rows(state, slot_rows, Travel.RESETS)
    add_to_counts(state, slot_rows, +1)


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
