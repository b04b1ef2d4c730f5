"""Policy layer: closures -- workplaces by sector and schools close by the zone level of their
district (or the city); essential sectors keep a share running in closed loop.

Layer ``policy`` -- imports population codes and the engine protocol only. Acts through
``workplace_is_open`` / ``school_is_open``, which the contact layers read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from zerosim.engine.component import Phase
from zerosim.policy.config import ClosuresConfig
from zerosim.population.state import LEVEL_CODE, WORK_SECTOR_CODE, PopulationState
from zerosim.transmission.kernels import CITYWIDE, LAYER_NAMES

_NEVER_CLOSES = 99


@dataclass(frozen=True, slots=True)
class Closures:
    """Opens and closes workplaces and schools each day from the zone levels."""

    kind: ClassVar[str] = "closures"
    #: Runs with zoning (dormant when zoning is switched off): it reads the zone levels zoning keeps.
    runs_with: ClassVar[tuple[str, ...]] = ("zoning",)

    @staticmethod
    def switched_on(containment) -> bool:
        return containment.closures.enabled

    @classmethod
    def from_containment(cls, containment, disease) -> Closures:
        return cls(config=containment.closures)

    config: ClosuresConfig
    name: str = "closures"
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset({"district_level", "city_zone", "compound_zone_level"})
    # (also reads the ledger's ``store_failed`` when a ledger runs; it may not exist, so not declared)
    writes: ClassVar[frozenset[str]] = frozenset({"workplace_is_open", "school_is_open", "layer_contact_scale"})

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        if not state.has_array("layer_contact_scale"):
            state.add_unit_array("layer_contact_scale", np.ones(len(LAYER_NAMES), dtype=np.float64))

    def _close_level_by_sector(self) -> np.ndarray:
        levels = np.full(max(WORK_SECTOR_CODE.values()) + 1, _NEVER_CLOSES, dtype=np.int64)
        for sector, level in self.config.sector_close_level.items():
            if LEVEL_CODE[level]:
                levels[WORK_SECTOR_CODE[sector]] = LEVEL_CODE[level]
        return levels

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        g = state.groups
        cfg = self.config
        if not cfg.enabled:  # switched off by a policy timeline: everything reopens (failed stores stay shut)
            state.workplace_is_open[:] = 1
            if state.has_array("store_failed"):
                state.workplace_is_open[state.store_failed == 1] = 0
            state.school_is_open[:] = 1
            state.layer_contact_scale[CITYWIDE] = 1.0
            return
        area_level = np.maximum(state.district_level, state.city_zone[0])  # per district
        close_at = self._close_level_by_sector()[g.workplace_sector]
        closed = area_level[g.workplace_district] >= close_at
        if cfg.sectors_closed:
            closed |= np.isin(g.workplace_sector, [WORK_SECTOR_CODE[s] for s in cfg.sectors_closed])
        is_essential = np.zeros(max(WORK_SECTOR_CODE.values()) + 1, dtype=bool)
        is_essential[[WORK_SECTOR_CODE[s] for s in cfg.essential_sectors]] = True
        # A fixed share of essential workplaces (by id) keeps running in closed loop (the share is
        # computed for the closed essential ones only: a float remainder per workplace costs ~35 ns).
        shut = np.flatnonzero(closed & is_essential[g.workplace_sector])
        keeps_running = (shut * 0.6180339887498949) % 1.0 < cfg.essential_open_fraction
        closed[shut[keeps_running]] = False
        if state.has_array("store_failed"):
            closed |= state.store_failed == 1  # a store that ran out of cash does not reopen
        state.workplace_is_open[:] = ~closed
        transport_level = LEVEL_CODE[cfg.transport_close_level]
        if cfg.transport_closed:
            state.layer_contact_scale[CITYWIDE] = cfg.transport_closed_citywide_factor
        elif transport_level:
            people = np.diff(g.district_start)
            stopped = float(people[area_level >= transport_level].sum()) / max(state.size, 1)
            state.layer_contact_scale[CITYWIDE] = 1.0 - (1.0 - cfg.transport_closed_citywide_factor) * stopped
        school_level = LEVEL_CODE[cfg.schools_close_level]
        if cfg.schools_closed:
            state.school_is_open[:] = 0
        elif school_level and g.school_count:
            school_district = g.subdistrict_district[
                g.compound_subdistrict[state.compound_id[g.school_members[g.school_offsets[:-1]]]]
            ]
            state.school_is_open[:] = area_level[school_district] < school_level
        else:
            state.school_is_open[:] = 1

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        g = state.groups
        sizes = np.diff(g.workplace_offsets)
        closed = state.workplace_is_open == 0
        return {
            "workplaces_closed": float(closed.sum()),
            "workers_in_closed_workplaces": float(sizes[closed].sum()),
            "schools_closed": float((state.school_is_open == 0).sum()),
            "transit_contact_scale": float(state.layer_contact_scale[CITYWIDE]),
        }
