"""Ledger layer: validated parameters of the social-cost ledger.

Layer ``ledger`` -- imports nothing above ``population``. The shipped defaults live in
``defaults.yaml`` next to this file, each with its source or its ASSUMPTION label; docs/ledger.md
explains them.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
SECTORS = ("retail", "catering", "manufacturing", "office", "logistics", "health", "public_service")
WORKER_TYPES = ("formal", "informal", "gig", "self_employed")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FoodConfig(_Model):
    """Household food stocks, their draw-down while confined, and deliveries."""

    stock_days_mean: NonNegative = Field(description="Mean days of food a household holds when confinement starts.")
    stock_days_sd: NonNegative = Field(description="SD of the days of food held (log-normal).")
    elderly_alone_stock_factor: NonNegative = Field(description="Multiplier on the stock of people >= 65 living alone.")
    deliveries_per_day_per_100k: NonNegative = Field(
        description="Households resupplied per day per 100,000 residents by couriers (delivery platforms); government "
        "packages and group buying are separate supplies (package_*, group_buy_*)."
    )
    delivery_days_of_food: NonNegative = Field(description="Days of food one delivery brings.")
    courier_dependence_fraction: Fraction = Field(
        description="Share of delivery capacity that depends on logistics workers being free to work."
    )
    confined_level: int = Field(2, ge=1, le=3, description="Mobility level from which a household cannot shop (2 = home).")
    package_wait_days: NonNegativeInt = Field(
        description="Days a household is cut off from shops (confined, or its shops closed) before its first "
        "government food package."
    )
    package_interval_days: NonNegativeInt = Field(
        description="Days between government food packages to a household cut off from shops (0: no packages)."
    )
    package_days_of_food: NonNegative = Field(description="Days of food one government package holds.")
    group_buy_reach_fraction: Fraction = Field(
        description="Share of households with a member under 65 that take part in compound group buying (团购)."
    )
    group_buy_wait_days: NonNegativeInt = Field(
        description="Days a household is cut off from shops before its first group-buying order arrives."
    )
    group_buy_interval_days: NonNegativeInt = Field(
        description="Days between group-buying orders a taking-part household receives (0: no group buying)."
    )
    group_buy_days_of_food: NonNegative = Field(description="Days of food one group-buying order brings.")


class IncomeConfig(_Model):
    """Wages lost while a worker cannot work."""

    daily_wage_cny_by_sector: dict[str, NonNegative] = Field(description="Mean daily wage (CNY) by sector.")
    worker_type_share: dict[str, Fraction] = Field(description="Share of workers of each type (sums to 1).")
    wage_loss_fraction_by_type: dict[str, Fraction] = Field(
        description="Share of the daily wage lost per day not worked, by worker type (formal workers keep part of pay)."
    )


class ShopsConfig(_Model):
    """Small stores and restaurants: closure, failure and recovery."""

    cash_runway_days_mean: NonNegative = Field(description="Mean days a closed small business survives on its cash.")
    cash_runway_days_sd: NonNegative = Field(description="SD of the cash runway (log-normal).")
    recovery_half_life_days: NonNegative = Field(
        description="Days for demand of a reopened store to recover half of its shortfall."
    )
    reopening_demand_fraction: Fraction = Field(description="Demand on the day a store reopens, share of normal.")


class TestingCostConfig(_Model):
    """What testing costs in money and in people's time."""

    cny_per_person_pooled: NonNegative = Field(description="Price per person swabbed into a pooled tube (CNY).")
    cny_per_single_tube: NonNegative = Field(description="Price of a single-tube test (CNY).")
    swabs_per_staff_hour: NonNegative = Field(description="Swabs one sampler takes per hour.")
    queue_hours_per_swab: NonNegative = Field(description="Citizen hours per swab, queueing included.")


class CareConfig(_Model):
    """Non-COVID care that confinement blocks."""

    dialysis_patients_per_100k: NonNegative = Field(description="People on maintenance dialysis per 100,000.")
    dialysis_sessions_per_week: NonNegative = Field(description="Dialysis sessions per patient per week.")
    chemotherapy_patients_per_100k: NonNegative = Field(description="People in active chemotherapy per 100,000.")
    births_per_100k_per_year: NonNegative = Field(description="Births per 100,000 residents per year.")
    emergencies_per_100k_per_day: NonNegative = Field(
        description="Acute emergencies (heart attack, stroke, ...) per 100,000 per day."
    )
    access_when_confined_fraction: Fraction = Field(
        description="Share of needed care episodes that still get through when the patient is confined at home."
    )
    dialysis_access_when_confined_fraction: Fraction = Field(
        description="Share of dialysis sessions that still take place when the patient is confined (dialysis had "
        "its own passes and emergency units)."
    )
    excess_death_per_missed_emergency: Fraction = Field(
        description="Added probability of death for an emergency that does not reach care (ASSUMPTION stated in docs)."
    )
    excess_death_per_missed_dialysis_week: Fraction = Field(
        description="Added probability of death per patient-week of missed dialysis (ASSUMPTION stated in docs)."
    )


class FacilityConditionsConfig(_Model):
    """Conditions in centralized facilities."""

    people_per_toilet: NonNegative = Field(description="People per toilet in a fangcang hall (reported conditions).")


class LedgerConfig(_Model):
    """Every rate the ledger uses."""

    food: FoodConfig
    income: IncomeConfig
    shops: ShopsConfig
    testing: TestingCostConfig
    care: CareConfig
    facilities: FacilityConditionsConfig


class BehaviourConfig(_Model):
    """Compliance and fatigue: how people respond to the cost of containment."""

    enabled: bool = Field(False, description="Model compliance and fatigue (off: everyone always complies).")
    base_compliance: Fraction = Field(description="Share of confinement days a person complies at the start.")
    fatigue_per_confined_day: NonNegative = Field(
        description="Relative drop in compliance per day already confined (exponential decay rate)."
    )
    food_shortfall_penalty: Fraction = Field(
        description="Absolute drop in compliance while the household has no food."
    )
    local_case_response: NonNegative = Field(
        description="Rise in compliance per log10(1 + community cases per 100,000 in the district over 7 days)."
    )
    minimum_compliance: Fraction = Field(description="Compliance never falls below this.")
    test_skip_follows_compliance: bool = Field(
        True, description="Non-compliant people also skip mass-testing rounds."
    )
    pressure_confined_days: int = Field(
        14, ge=1, description="Resistance-pressure index: residents confined longer than this count."
    )


class _DefaultsFile(_Model):
    ledger: LedgerConfig
    behaviour: BehaviourConfig
    sources: dict[str, str] = Field(default_factory=dict)


@cache
def _defaults() -> _DefaultsFile:
    text = resources.files("zerosim.ledger").joinpath("defaults.yaml").read_text(encoding="utf-8")
    return _DefaultsFile.model_validate(yaml.safe_load(text))


def default_ledger() -> LedgerConfig:
    """The shipped ledger rates (sources in defaults.yaml and docs/ledger.md)."""
    return _defaults().ledger


def default_behaviour() -> BehaviourConfig:
    """The shipped behaviour parameters (off by default)."""
    return _defaults().behaviour


def default_sources() -> dict[str, str]:
    return _defaults().sources
