"""A mask mandate for zerosim, written outside zerosim: the whole intervention is this file.

Switch it on in a scenario::

    extends: demo
    components:
      mask_mandate: {start_day: 20, wearing_probability: 0.9}

What it does each day it is in force: every agent who may leave home draws whether it wears a mask
outside (``wearing_probability``); contacts outside the household are multiplied by
``(1 - share_masked * effectiveness) ** 2`` (each end of a contact may be masked).

Parameters and their sources:

- ``effectiveness`` 0.56: always wearing a face mask or respirator in indoor public places went with
  an adjusted odds ratio of 0.44 of testing positive for SARS-CoV-2 (Andrejko et al., MMWR 71(6):
  212-216, 2022, California, Feb-Dec 2021). Applied to both ends of a contact: ASSUMPTION (the study
  measured protection of the wearer only).
- ``wearing_probability`` 0.9: ASSUMPTION for a city under a mandate (change it per scenario).

What zerosim sees of it: its class attributes. ``kind`` is the name a scenario uses, ``Config`` its
settings (validated, with one-line errors), ``states`` the per-agent array it owns (``wears_mask``),
``measures`` the daily numbers it reports (time series columns, ``summary.json`` totals, ``compare``
rows and report labels), ``phase``/``reads``/``writes`` where it runs and what it touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from zerosim.engine.component import Measure, Phase
from zerosim.population.state import ArraySpec, Mobility, PopulationState
from zerosim.transmission.components import add_contact_factor
from zerosim.transmission.kernels import LAYER_NAMES

#: The layers a mask acts on: contacts outside the home (not household, building stairwells or facilities).
MASKED_LAYERS = ("workplace", "school", "community", "citywide")


class MaskMandateConfig(BaseModel):
    """Settings of a mask mandate (``components.mask_mandate`` in a scenario)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    start_day: int = Field(0, ge=0, description="First day the mandate is in force.")
    end_day: int | None = Field(None, ge=0, description="Last day in force (none: to the end of the run).")
    wearing_probability: float = Field(0.9, ge=0, le=1, description="Chance an agent outside wears a mask (ASSUMPTION).")
    effectiveness: float = Field(0.56, ge=0, le=1, description="1 - aOR 0.44 (Andrejko et al., MMWR 2022).")


@dataclass
class MaskMandate:
    """Masks outside the home from ``start_day`` to ``end_day``."""

    kind: ClassVar[str] = "mask_mandate"
    Config: ClassVar[type[BaseModel]] = MaskMandateConfig
    phase: ClassVar[Phase] = Phase.POLICY
    states: ClassVar[tuple[ArraySpec, ...]] = (
        ArraySpec.of("wears_mask", "int8", 0, "1 if the agent wears a mask outside home today"),
    )
    measures: ClassVar[tuple[Measure, ...]] = (
        Measure("mask_wearers", "people wearing a mask (most on one day)", "people", aggregate="max"),
        Measure("masked_person_days", "person-days masked", "person-days", aggregate="sum"),
    )
    reads: ClassVar[frozenset[str]] = frozenset({"mobility"})
    writes: ClassVar[frozenset[str]] = frozenset({"wears_mask", "contact_factor/mask_mandate"})

    config: MaskMandateConfig
    name: str = "mask_mandate"
    _factor: np.ndarray = field(init=False, repr=False, default=None)
    _wearers: int = field(init=False, default=0)

    @classmethod
    def from_config(cls, config: MaskMandateConfig, scenario) -> MaskMandate:
        return cls(config=config)

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        self._factor = add_contact_factor(state, self.kind)

    def in_force(self, day: int) -> bool:
        end = self.config.end_day
        return day >= self.config.start_day and (end is None or day <= end)

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        wears = state.wears_mask
        self._factor[:] = 1.0
        if not self.in_force(day):
            wears[:] = 0
            self._wearers = 0
            return
        outside = state.mobility == Mobility.FREE
        wears[:] = outside & (rng.random(state.size) < self.config.wearing_probability)
        self._wearers = int(wears.sum())
        share = self._wearers / max(int(outside.sum()), 1)
        per_contact = (1.0 - share * self.config.effectiveness) ** 2
        for layer in MASKED_LAYERS:
            self._factor[LAYER_NAMES.index(layer)] = per_contact

    def report(self, state: PopulationState, day: int) -> dict[str, float]:
        return {"mask_wearers": float(self._wearers), "masked_person_days": float(self._wearers)}
