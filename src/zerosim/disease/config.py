"""Disease layer: the validated parameters of one variant's natural history.

Layer ``disease`` -- imports nothing above ``population``. The numbers themselves live in
``presets.yaml`` next to this file, each with its source; ``docs/parameters.md`` lists them.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

# Every age-specific disease table uses the population layer's age bands (defined there once).
from zerosim.population.state import AGE_BAND_COUNT

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
AgeTable = Annotated[list[Probability], Field(min_length=AGE_BAND_COUNT, max_length=AGE_BAND_COUNT)]
DoseTable = Annotated[list[Probability], Field(min_length=4, max_length=4)]
#: Rows by age band (as AGE_BAND_LOWER_YEARS), columns by vaccine doses 0..3.
AgeDoseTable = Annotated[list[DoseTable], Field(min_length=AGE_BAND_COUNT, max_length=AGE_BAND_COUNT)]


class Duration(BaseModel):
    """A positive duration in days, drawn from a log-normal with this mean and standard deviation."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    mean_days: float = Field(gt=0, le=200, description="Mean duration in days.")
    sd_days: float = Field(ge=0, le=200, description="Standard deviation in days (0 = fixed).")


class ViralLoadConfig(BaseModel):
    """Piecewise-linear log10 viral-load trajectory (copies/mL), peaking near symptom onset.

    The trajectory rises linearly from the assay limit of detection (``detection_limit_log10``)
    to ``peak_log10`` over ``rise_days``, then falls back to the limit over ``clearance_days``.
    The peak sits ``peak_after_onset_days`` after (would-be) symptom onset. Infectiousness on a day
    is proportional to ``max(0, log10 VL - infectious_threshold_log10)``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    detection_limit_log10: float = Field(ge=0, le=8, description="PCR limit of detection, log10 copies/mL.")
    infectious_threshold_log10: float = Field(ge=0, le=12, description="Viral load below which nobody is infectious.")
    peak_log10_mean: float = Field(gt=0, le=14)
    peak_log10_sd: float = Field(ge=0, le=5)
    rise: Duration = Field(description="Days from first detectable load to the peak.")
    clearance: Duration = Field(description="Days from the peak back to the limit of detection.")
    peak_after_onset_days: float = Field(ge=-10, le=10, description="Peak time relative to symptom onset (days).")
    eclipse_days: int = Field(
        1, ge=1, le=10,
        description="Fewest whole days from infection to the first day a swab can find the virus (the first detectable "
        "day is never earlier; the peak at least a day later).",
    )

    @model_validator(mode="after")
    def _peak_above_threshold(self) -> "ViralLoadConfig":
        if self.peak_log10_mean <= self.infectious_threshold_log10:
            raise ValueError(
                "peak_log10_mean must exceed infectious_threshold_log10, or nobody is ever infectious"
            )
        return self


class VaccineConfig(BaseModel):
    """Protection by number of doses (index 0 = unvaccinated ... 3 = booster) with exponential waning."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    infection_effectiveness: DoseTable = Field(description="Reduction in susceptibility by doses 0..3.")
    severe_effectiveness: DoseTable = Field(description="Reduction in P(severe | infected) by doses 0..3.")
    death_effectiveness: DoseTable = Field(description="Reduction in P(death | infected) by doses 0..3.")
    waning_half_life_days: float = Field(gt=0, description="Half-life of vaccine protection against infection (days).")


class DiseaseConfig(BaseModel):
    """Everything the natural-history model needs for one variant. Each field's source is in presets.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    label: str = Field(description="Human-readable variant name.")
    r0: float = Field(gt=0, le=30, description="Basic reproduction number in a fully susceptible population.")
    incubation: Duration = Field(description="Infection to symptom onset.")
    viral_load: ViralLoadConfig
    asymptomatic_fraction: Probability = Field(description="Share of infections that never develop symptoms.")
    asymptomatic_relative_infectiousness: float = Field(ge=0, le=1)
    infectiousness_dispersion_k: Annotated[float, Field(gt=0)] | None = Field(
        description="Gamma shape k of individual infectiousness (overdispersion); null: none, every course "
                    "equally infectious apart from the asymptomatic discount (Poisson offspring).")
    severe_probability_by_age: AgeTable = Field(description="P(severe | symptomatic), unvaccinated, by 10-year band.")
    critical_probability_by_age: AgeTable = Field(description="P(critical | severe), unvaccinated, by band.")
    death_probability_by_age: AgeTable = Field(description="P(death | critical), unvaccinated, by band.")
    severity_multiplier: float = Field(gt=0, le=10, description="Variant severity relative to the tables above.")
    fatality_by_age_and_doses: AgeDoseTable | None = Field(
        None, description="P(death | infected) by age band (rows) and vaccine doses 0..3 (columns), from a real "
                          "wave; when given it decides who dies (the severe and critical stages then lead to it), "
                          "and the death_probability_by_age chain and death_effectiveness are not used for deaths.")
    onset_to_severe: Duration
    severe_to_critical: Duration
    critical_to_death: Duration
    mild_recovery: Duration = Field(description="Symptom onset to recovery for mild cases.")
    severe_recovery: Duration = Field(description="Severe onset to recovery.")
    critical_recovery: Duration = Field(description="Critical onset to recovery.")
    vaccine: VaccineConfig


class _PresetFile(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    presets: dict[str, DiseaseConfig]
    sources: dict[str, dict[str, str]] = Field(default_factory=dict)


@cache
def _load_presets() -> _PresetFile:
    text = resources.files("zerosim.disease").joinpath("presets.yaml").read_text(encoding="utf-8")
    return _PresetFile.model_validate(yaml.safe_load(text))


def preset_names() -> list[str]:
    """Names of the shipped variant presets."""
    return sorted(_load_presets().presets)


def preset(name: str) -> DiseaseConfig:
    """The shipped parameters of variant ``name`` (KeyError if unknown)."""
    return _load_presets().presets[name]


def variant_label(name: str) -> str:
    """The human-readable name of variant preset ``name`` (its ``label``); ``name`` itself if unknown."""
    presets = _load_presets().presets
    return presets[name].label if name in presets else name


def preset_sources(name: str) -> dict[str, str]:
    """Field -> citation for variant ``name``."""
    return _load_presets().sources.get(name, {})
