"""Population layer: validated parameters of the synthetic city.

Layer ``population`` -- imports nothing above it. Sourced tables live in ``data/`` (see
``data/SOURCES.md``); the parameters here are the ones no table gives, each named as an
assumption in docs/parameters.md when no source exists.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Largest population a scenario may ask for (int32 agent ids; 2**31 - 1).
MAX_POPULATION = 2_000_000_000
#: Suffix of the shipped district tables, ``data/<city>_districts.csv`` (one per available city).
DISTRICT_TABLE_SUFFIX = "_districts.csv"


@cache
def available_cities() -> tuple[str, ...]:
    """Cities that ship a district table (``data/<city>_districts.csv``), sorted by name.

    Returns
    -------
    tuple of str
        Lower-case city keys accepted by ``PopulationConfig.city``, e.g. ``("beijing", ..., "shanghai", ...)``.
    """
    data = resources.files("zerosim.population").joinpath("data")
    return tuple(
        sorted(
            entry.name[: -len(DISTRICT_TABLE_SUFFIX)]
            for entry in data.iterdir()
            if entry.name.endswith(DISTRICT_TABLE_SUFFIX)
        )
    )


def unknown_city_message(city: object) -> str:
    """One-line explanation for a city without a shipped table (the field name is added by the caller)."""
    return f"unknown city {city!r}; available: {', '.join(available_cities())}"


class PopulationConfig(BaseModel):
    """The synthetic city: how many people and how they are housed, schooled and employed."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    size: int = Field(1_000_000, ge=100, le=MAX_POPULATION, description="Number of agents (people).")
    city: str = Field(
        "shanghai",
        description="City whose sourced tables are used; one of available_cities() (data/SOURCES.md, docs/population-data.md).",
    )
    compound_residents_min: int = Field(
        1000, ge=10, le=1_000_000, description="Smallest residential compound (小区), residents; issue 2 / Shanghai practice."
    )
    compound_residents_max: int = Field(3000, ge=10, le=1_000_000, description="Largest residential compound, residents.")
    building_households_mean: float = Field(
        40.0, ge=1, le=10_000, description="Mean households per residential building (ASSUMPTION, docs/parameters.md)."
    )
    building_households_sd: float = Field(20.0, ge=0, le=10_000, description="SD of households per building (ASSUMPTION).")
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
    vaccination: Literal["shanghai-2022-04", "china-2022-11"] = Field(
        "shanghai-2022-04", description="Which shipped coverage by age and doses: Shanghai's 60+ of April 2022 "
        "(national under 60), or China's of 28 November 2022 (population/data/SOURCES.md, section 7).")

    @field_validator("city")
    @classmethod
    def _known_city(cls, city: str) -> str:
        if city not in available_cities():
            raise ValueError(unknown_city_message(city))
        return city

    @model_validator(mode="after")
    def _ranges(self) -> "PopulationConfig":
        if self.compound_residents_max < self.compound_residents_min:
            raise ValueError("compound_residents_max must be >= compound_residents_min")
        if self.last_dose_days_before_start_max < self.last_dose_days_before_start_min:
            raise ValueError("last_dose_days_before_start_max must be >= last_dose_days_before_start_min")
        return self
