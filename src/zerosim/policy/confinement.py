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
from zerosim.engine.rng import kernel_seed
from zerosim.policy.config import ContainmentConfig
from zerosim.policy.kernels import resolve_confinement
from zerosim.population.kernels import count_codes
from zerosim.population.state import Mobility, PopulationState, Sector


@dataclass(frozen=True, slots=True)
class Confinement:
    """Resolves mobility and facility from every policy's requirement."""

    kind: ClassVar[str] = "confinement"

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
        dead = float(state.count_by_district[:, 8].sum()) if state.has_array("count_by_district") else 0.0
        return {
            "confined_home": float(counts[Mobility.HOME]) - dead,
            "confined_compound": float(counts[Mobility.COMPOUND]),
            "in_facility": float(counts[Mobility.FACILITY]),
        }
