"""Policy layer: confinement -- the one writer of ``mobility`` and ``facility_id``.

Each policy says what it requires of a person (isolation status, quarantine status, a pending
re-test, the zone of their compound); this component takes the strictest each day, and sets the
crowding of each facility. It runs last in the policy phase.

Layer ``policy`` -- imports population codes, policy kernels and the engine protocol only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from zerosim.engine.component import Phase
from zerosim.engine.invariants import require
from zerosim.engine.rng import kernel_seed
from zerosim.policy.config import ContainmentConfig
from zerosim.policy.kernels import resolve_confinement, tally_facilities
from zerosim.population.kernels import count_codes
from zerosim.population.state import Compartment, Mobility, PopulationState, Sector


#: The per-agent arrays :func:`confine` writes (the confinement layer's own).
CONFINEMENT_ARRAYS = frozenset({"mobility", "facility_id"})


def confine(state: PopulationState, rows: np.ndarray, mobility: int) -> None:
    """Set the mobility of ``rows`` directly, in a run **without** a Confinement component (where one
    runs, it resolves mobility from the statuses every day; ask nothing of it). FACILITY puts a person
    in the quarantine hotel of his district (facility ``district_count + district_id``); any other
    level takes him out of facilities. Only a component standing in for confinement
    (``stands_in_for``) calls it.
    """
    state.mobility[rows] = mobility
    if mobility == Mobility.FACILITY:
        state.facility_id[rows] = state.district_count + state.district_id[rows]
    else:
        state.facility_id[rows] = -1


@dataclass(frozen=True, slots=True)
class Confinement:
    """Resolves mobility and facility from every policy's requirement."""

    kind: ClassVar[str] = "confinement"

    #: Confinement runs whenever any other containment part does: it turns their decisions into mobility.
    follows_containment: ClassVar[bool] = True

    @staticmethod
    def switched_on(containment) -> bool:
        return False

    @classmethod
    def from_containment(cls, containment, disease) -> Confinement:
        return cls(config=containment)

    config: ContainmentConfig
    name: str = "confinement"
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset(
        {"compartment", "isolation_status", "quarantine_status", "day_quarantine_start", "test_result",
         "consecutive_negatives", "compound_id", "district_id", "compound_zone_level", "count_by_district",
         "is_compliant_today", "sector"}
    )
    writes: ClassVar[frozenset[str]] = frozenset({"mobility", "facility_id", "facility_contact_scale",
                                                 "essential_exempt_by_sector", "essential_exempt_seed"})

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        districts = state.district_count
        scale = np.empty(2 * districts, dtype=np.float32)
        scale[:districts] = self.config.isolation.facility_contacts_per_day  # isolation facilities
        scale[districts:] = self.config.tracing.facility_contacts_per_day  # quarantine hotels
        state.unit_arrays["facility_contact_scale"] = scale
        exempt = np.zeros(len(Sector), dtype=np.float64)
        for name, share in self.config.zoning.essential_exempt_fraction.items():
            exempt[Sector[name.upper()]] = share
        state.unit_arrays["essential_exempt_by_sector"] = exempt
        state.unit_arrays["essential_exempt_seed"] = np.array([kernel_seed(rng)], dtype=np.uint64)
        if not state.has_array("compound_zone_level"):
            state.add_unit_array("compound_zone_level", np.zeros(state.groups.compound_count, dtype=np.int8))

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        resolve_confinement(
            day, state.compartment, state.isolation_status, state.quarantine_status, state.day_quarantine_start,
            state.test_result, state.consecutive_negatives, state.compound_id, state.district_id,
            state.compound_zone_level, state.district_count, self.config.testing.pool_positive_members_stay_home,
            self.config.zoning.individual_release_after_negatives or 0, state.is_compliant_today, state.sector,
            state.essential_exempt_by_sector, state.essential_exempt_seed[0], state.mobility, state.facility_id,
        )

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        counts = count_codes(state.mobility, len(Mobility))
        # the dead are parked at HOME by the kernel: count only the living as confined
        dead = float(state.count_by_district[:, Compartment.DEAD].sum()) if state.has_array("count_by_district") else 0.0
        return {
            "confined_home": float(counts[Mobility.HOME]) - dead,
            "confined_compound": float(counts[Mobility.COMPOUND]),
            "in_facility": float(counts[Mobility.FACILITY]),
        }

    def check(self, state: PopulationState, day: int) -> None:
        """Check mode: mobility codes valid; a facility exactly for those in one, each facility an
        isolation facility (district id) or a quarantine hotel (district count + district id); nobody in
        a facility without the status that sends them there."""
        districts = state.district_count
        low, high, mismatched, top, isolation, hotels, isolated, central = tally_facilities(
            state.mobility, state.facility_id, state.isolation_status, state.quarantine_status, districts)
        require(state.size == 0 or (low >= 0 and high < len(Mobility)), "mobility_codes", day,
                f"mobility codes range {low}..{high}, valid 0..{len(Mobility) - 1}")
        require(mismatched == 0, "facility_matches_mobility", day,
                f"{mismatched} agents have a facility_id without mobility FACILITY, or the reverse")
        require(top < 2 * districts, "facility_ids", day, f"facility_id {top}, valid -1..{2 * districts - 1}")
        require(isolation <= isolated, "isolation_facility_occupancy", day,
                f"{isolation} people in isolation facilities, {isolated} with isolation status ISOLATED")
        require(hotels <= central, "quarantine_hotel_occupancy", day,
                f"{hotels} people in quarantine hotels, {central} with quarantine status CENTRAL")
