"""Population layer: validated parameters of the synthetic city.

Layer ``population`` -- imports nothing above it. Sourced tables live in ``data/`` (see
``data/SOURCES.md``); the parameters here are the ones no table gives, each named as an
assumption in docs/parameters.md when no source exists.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Largest population a scenario may ask for (int32 agent ids; 2**31 - 1).
MAX_POPULATION = 2_000_000_000


class PopulationConfig(BaseModel):
    """The synthetic city: how many people and how they are housed, schooled and employed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    size: int = Field(1_000_000, ge=100, le=MAX_POPULATION, description="Number of agents (people).")
    city: Literal["shanghai"] = Field("shanghai", description="City whose district table is used.")
    compound_residents_min: int = Field(
        1000, ge=10, description="Smallest residential compound (小区), residents; issue 2 / Shanghai practice."
    )
    compound_residents_max: int = Field(3000, ge=10, description="Largest residential compound, residents.")
    building_households_mean: float = Field(
        40.0, gt=0, description="Mean households per residential building (ASSUMPTION, docs/parameters.md)."
    )
    building_households_sd: float = Field(20.0, ge=0, description="SD of households per building (ASSUMPTION).")
    local_work_fraction: float = Field(
        0.7, ge=0, le=1, description="Share of workers employed in their home district (ASSUMPTION)."
    )
    male_fraction: float = Field(
        0.5, ge=0, le=1, description="Share of males (ASSUMPTION: 1:1; Shanghai's census sex ratio not shipped)."
    )
    last_dose_days_before_start_min: int = Field(
        14, ge=0, le=3000, description="Earliest last vaccine dose, days before day 0 (ASSUMPTION)."
    )
    last_dose_days_before_start_max: int = Field(
        300, ge=0, le=3000, description="Latest last vaccine dose, days before day 0 (ASSUMPTION)."
    )
    vaccinate: bool = Field(True, description="Apply the shipped vaccination coverage by age.")

    @model_validator(mode="after")
    def _ranges(self) -> "PopulationConfig":
        if self.compound_residents_max < self.compound_residents_min:
            raise ValueError("compound_residents_max must be >= compound_residents_min")
        if self.last_dose_days_before_start_max < self.last_dose_days_before_start_min:
            raise ValueError("last_dose_days_before_start_max must be >= last_dose_days_before_start_min")
        return self
