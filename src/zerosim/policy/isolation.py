"""Policy layer: case handling -- detected cases wait at home, are transferred to centralized
isolation (fangcang shelter hospitals / designated hospitals) when a bed is free, and are discharged
after a minimum stay and consecutive negative tests, then monitored at home.

Layer ``policy`` -- imports population codes, disease kernels and the engine protocol only.
Acts on people only through ``isolation_status``; the Confinement component turns it into mobility.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from zerosim.disease.config import ViralLoadConfig
from zerosim.engine.component import Phase
from zerosim.engine.invariants import require
from zerosim.policy.config import IsolationConfig
from zerosim.population.kernels import count_codes, where_equal, where_nonzero
from zerosim.population.state import Compartment, IsolationStatus, PopulationState


def detected_on(state: PopulationState, day: int) -> np.ndarray:
    """Agents first reported positive on ``day`` (int32, one fast pass)."""
    return where_equal(state.day_detected, np.int16(day))


def active_cases(state: PopulationState, status: int | None = None) -> np.ndarray:
    """Agents with an isolation status (any, or exactly ``status``), one fast pass."""
    return agents_with_code(state, state.isolation_status, status)


def agents_with_code(state: PopulationState, codes: np.ndarray, status: int | None = None) -> np.ndarray:
    """Agents (int32) whose ``codes`` (n,) int8 entry is non-zero (``status`` None) or equals ``status``."""
    return where_nonzero(codes) if status is None else where_equal(codes, np.int8(status))


def scaled_capacity(per_100k: float | None, population: int) -> int | None:
    """A capacity given per 100,000 residents, for a city of ``population`` (None = unlimited)."""
    return None if per_100k is None else int(round(per_100k * population / 1e5))


def viral_load_today(state: PopulationState, ids: np.ndarray, day: int, limit_log10: float) -> np.ndarray:
    """log10 viral load of agents ``ids`` on ``day`` (0 when not detectable), vectorised."""
    detectable = state.day_viral_detectable[ids].astype(np.float64)
    peak = state.day_viral_peak[ids].astype(np.float64)
    clear = state.day_viral_clear[ids].astype(np.float64)
    top = state.viral_peak_log10[ids].astype(np.float64)
    rising = limit_log10 + (top - limit_log10) * (day - detectable) / np.maximum(peak - detectable, 1)
    falling = top - (top - limit_log10) * (day - peak) / np.maximum(clear - peak, 1)
    load = np.where(day <= peak, rising, falling)
    return np.where((detectable < 0) | (day < detectable) | (day > clear), 0.0, load)


@dataclass(frozen=True, slots=True)
class Isolation:
    """Transfer, bed capacity, discharge and home monitoring of detected cases."""

    kind: ClassVar[str] = "isolation"

    @staticmethod
    def switched_on(containment) -> bool:
        return containment.isolation.enabled

    @classmethod
    def from_containment(cls, containment, disease) -> Isolation:
        return cls(config=containment.isolation, viral_load=disease.viral_load)

    config: IsolationConfig
    viral_load: ViralLoadConfig
    name: str = "isolation"
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset(
        {"day_detected", "compartment", "day_viral_detectable", "day_viral_peak", "day_viral_clear", "viral_peak_log10"}
    )
    writes: ClassVar[frozenset[str]] = frozenset({"isolation_status", "day_isolation_change"})

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        pass

    def beds(self, state: PopulationState) -> int | None:
        return scaled_capacity(self.config.beds_per_100k, state.size)

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        cfg = self.config
        status = state.isolation_status
        changed = state.day_isolation_change
        if not cfg.enabled:  # switched off by a policy timeline: everyone held is released
            held = active_cases(state)
            held = held[status[held] != IsolationStatus.RELEASED]
            status[held] = IsolationStatus.RELEASED
            changed[held] = day
            return
        # Newly detected cases wait at home for transfer.
        new = detected_on(state, day)
        new = new[status[new] == IsolationStatus.NONE]
        status[new] = IsolationStatus.WAITING
        changed[new] = day
        # Everyone with a live status (one pass over the population), then subsets of it.
        live = active_cases(state)
        live = live[(status[live] != IsolationStatus.RELEASED)]
        # The dead leave every status.
        gone = live[state.compartment[live] == Compartment.DEAD]
        status[gone] = IsolationStatus.RELEASED
        changed[gone] = day
        live = live[status[live] != IsolationStatus.RELEASED]
        # Discharge: minimum stay, and the last `discharge_negative_days` daily tests below the threshold.
        isolated = live[status[live] == IsolationStatus.ISOLATED]
        if isolated.size:
            long_enough = day - changed[isolated] >= cfg.discharge_min_days
            negative = np.ones(isolated.size, dtype=bool)
            for back in range(cfg.discharge_negative_days):
                load = viral_load_today(state, isolated, day - back, self.viral_load.detection_limit_log10)
                negative &= load < cfg.discharge_threshold_log10
            leaving = isolated[long_enough & negative]
            status[leaving] = IsolationStatus.HOME_MONITORING if cfg.home_monitoring_days else IsolationStatus.RELEASED
            changed[leaving] = day
        monitoring = live[status[live] == IsolationStatus.HOME_MONITORING]
        done = monitoring[day - changed[monitoring] >= self.config.home_monitoring_days]
        status[done] = IsolationStatus.RELEASED
        changed[done] = day
        # Transfer: those waiting long enough, oldest detection first, while beds are free.
        waiting = live[status[live] == IsolationStatus.WAITING]
        waiting = waiting[day - state.day_detected[waiting] >= cfg.transfer_delay_days]
        if waiting.size:
            order = np.lexsort((waiting, state.day_detected[waiting]))
            waiting = waiting[order]
            beds = self.beds(state)
            if beds is not None:
                free = max(beds - int((status[live] == IsolationStatus.ISOLATED).sum()), 0)
                waiting = waiting[:free]
            status[waiting] = IsolationStatus.ISOLATED
            changed[waiting] = day

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        counts = count_codes(state.isolation_status, len(IsolationStatus))
        isolated = active_cases(state, IsolationStatus.ISOLATED)
        return {
            "in_isolation": float(counts[IsolationStatus.ISOLATED]),
            "waiting_for_bed": float(counts[IsolationStatus.WAITING]),
            "home_monitoring": float(counts[IsolationStatus.HOME_MONITORING]),
            "admitted_to_isolation": float((state.day_isolation_change[isolated] == day).sum()),
            "in_isolation_district": np.bincount(state.district_id[isolated], minlength=state.district_count),
        }

    def check(self, state: PopulationState, day: int) -> None:
        """Check mode: codes within IsolationStatus, and no admission to a full facility (occupancy stays
        within the beds; above them only when a timeline cut the beds, and then nobody is admitted)."""
        status = state.isolation_status
        high = int(status.max(initial=0))
        require(int(status.min(initial=0)) >= 0 and high < len(IsolationStatus), "isolation_status_codes", day,
                f"isolation_status code {high}, valid 0..{len(IsolationStatus) - 1}")
        beds = self.beds(state)
        if beds is None or not self.config.enabled:
            return
        isolated = active_cases(state, IsolationStatus.ISOLATED)
        admitted = int((state.day_isolation_change[isolated] == day).sum())
        require(isolated.size <= beds or admitted == 0, "isolation_beds", day,
                f"{isolated.size} in isolation against {beds} beds, {admitted} admitted today")
