"""Policy layer: health code -- green / yellow / red per person from cases, contacts, pending
re-tests and, when required, a negative test within 48 or 72 h. Work, school and community
contacts need green (the transmission layers read ``health_code``).

Layer ``policy`` -- imports population codes, policy kernels and the engine protocol only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from zerosim.engine.component import Phase
from zerosim.policy.config import HealthCodeConfig
from zerosim.policy.kernels import assign_health_codes
from zerosim.population.kernels import count_codes
from zerosim.population.state import HealthCode, PopulationState


@dataclass(frozen=True, slots=True)
class HealthCodes:
    """Assigns every person's health-code colour each day."""

    kind: ClassVar[str] = "health_code"

    @staticmethod
    def switched_on(containment) -> bool:
        return containment.health_code.enabled

    @classmethod
    def from_containment(cls, containment, disease) -> HealthCodes:
        return cls(config=containment.health_code)

    config: HealthCodeConfig
    name: str = "health_code"
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset(
        {"isolation_status", "quarantine_status", "day_quarantine_start", "test_result", "day_last_swab"}
    )
    writes: ClassVar[frozenset[str]] = frozenset({"health_code"})

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        pass

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        cfg = self.config
        if not cfg.enabled:  # switched off by a policy timeline: codes no longer gate anything
            state.health_code[:] = HealthCode.GREEN
            return
        require = cfg.test_validity_days is not None and day >= cfg.test_requirement_from_day
        assign_health_codes(
            day, state.isolation_status, state.quarantine_status, state.day_quarantine_start, state.test_result,
            state.day_last_swab, require, cfg.test_validity_days or 0, state.health_code,
        )

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        counts = count_codes(state.health_code, len(HealthCode))
        return {"code_green": float(counts[HealthCode.GREEN]), "code_yellow": float(counts[HealthCode.YELLOW]),
                "code_red": float(counts[HealthCode.RED])}
