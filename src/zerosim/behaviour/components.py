"""Behaviour layer: compliance and fatigue -- how people respond to what containment costs them.

Layer ``behaviour`` -- imports population codes, the ledger config and the engine protocol only.
Each morning every person complies with confinement and testing with a probability that falls with
the days they have already been confined (fatigue) and while their household has no food, and
rises with recent community cases in their district. Non-compliance shows up downstream: the
Confinement component lets a non-compliant person out of a zone or home quarantine for the day
(contacts that escape the zone), and the Testing component skips their campaign swab.
Sources and the fitted rates: docs/ledger.md (behaviour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from zerosim.behaviour.kernels import draw_compliance
from zerosim.engine.component import Phase
from zerosim.engine.rng import kernel_seed
from zerosim.ledger.config import BehaviourConfig
from zerosim.population.state import PopulationState


@dataclass(frozen=True, slots=True)
class Compliance:
    """Draws each person's compliance for the day."""

    kind: ClassVar[str] = "behaviour"

    config: BehaviourConfig
    name: str = "behaviour"
    phase: ClassVar[Phase] = Phase.BEHAVIOUR
    reads: ClassVar[frozenset[str]] = frozenset(
        {"confined_days_total", "household_id", "district_id", "household_out_today", "case_window"}
    )
    writes: ClassVar[frozenset[str]] = frozenset({"is_compliant_today"})

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        # Read before the ledger / zoning create them on day 0: make sure they exist.
        if not state.has_array("household_out_today"):
            state.add_unit_array("household_out_today", np.zeros(state.groups.household_count, dtype=np.int8))
        if not state.has_array("case_window"):
            state.add_unit_array("case_window", np.zeros((1, state.district_count), dtype=np.int64))

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        cfg = self.config
        people = np.diff(state.groups.district_start)
        cases = state.case_window.sum(axis=0)
        per_100k = cases / np.maximum(people, 1) * 1e5
        boost = cfg.local_case_response * np.log10(1.0 + per_100k)
        draw_compliance(
            kernel_seed(rng), state.confined_days_total, state.household_id, state.household_out_today,
            state.district_id, boost.astype(np.float64), cfg.base_compliance, cfg.fatigue_per_confined_day,
            cfg.food_shortfall_penalty, cfg.minimum_compliance, state.is_compliant_today,
        )

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        return {"non_compliant": float(state.size - int(state.is_compliant_today.sum()))}
