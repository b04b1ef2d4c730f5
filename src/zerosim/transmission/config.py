"""Transmission layer: validated parameters of the contact layers.

Layer ``transmission`` -- imports ``population`` and ``disease`` only. Sources: docs/parameters.md.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from zerosim.transmission.kernels import LAYER_NAMES

NonNegative = Annotated[float, Field(ge=0)]

#: Per-contact transmissibility relative to a community contact. Household 3x, school and work
#: 0.6x, community 0.3x (normalised here to community = 1 -> 10, 2, 2, 1): Covasim's layer betas
#: (Kerr et al., PLoS Comput Biol 2021;17:e1009149, doi:10.1371/journal.pcbi.1009149, Table 1).
#: Building and compound contacts (stairwells, lifts, compound gates) take the community value:
#: ASSUMPTION, no study measured them. Facility contacts: shared rooms and toilets are
#: household-like: ASSUMPTION (issue 3 makes crowding a scenario parameter).
DEFAULT_RELATIVE_TRANSMISSIBILITY: dict[str, float] = {
    "household": 10.0,
    "building": 1.0,
    "compound": 1.0,
    "workplace": 2.0,
    "school": 2.0,
    "community": 1.0,
    "citywide": 1.0,
    "facility": 10.0,
}
#: Daily contacts in a facility before the policy's crowding scale (isolation.facility_contacts_per_day,
#: tracing.facility_contacts_per_day) multiplies it: 1, so the policy field is the number of contacts.
DEFAULT_FACILITY_CONTACTS_PER_DAY = 1.0

#: Non-household contacts a day of a person confined at home: Shanghai in the February 2020 lockdown
#: had 2.3 contacts a day, 78-94 % of them in the household (Zhang J et al., Science 2020;368:1481,
#: doi:10.1126/science.abb8001) -> 2.3 x (1 - 0.86) = 0.32 (range 0.14-0.51) outside it. ASSUMPTION:
#: they happen in the building (neighbours, lifts, stairwells, test queues, volunteers), where
#: Hong Kong found 95.6 % of flats with cases vertically aligned (Cheng VCC et al., Build Environ
#: 2022;221:109323) and one disorderly sampling point infected 35 (Yangzhou, 2021-08).
SEALED_CONTACTS_PER_DAY = 0.32

#: Contacts in a test queue: the person ahead and the one behind, a metre apart (the "one-metre line"
#: of the sampling points), for the half hour a swab costs in queueing (ledger.testing.queue_hours_per_swab).
#: ASSUMPTION from that geometry. The route is documented (Yangzhou, 29 July 2021: one disorderly sampling
#: point, 35 infections over three generations; Beijing Daily 2021-08-10) but across 208 Shanghai
#: compounds rounds and infections were not causally linked (Jia Z et al., Sci Rep 2023;13:21334), so a
#: small number.
TEST_QUEUE_CONTACTS = 2.0

#: Relative susceptibility by 10-year age band (0-9 ... 80+): Zhang et al., Science 2020;368:1481
#: (doi:10.1126/science.abb8001): 0-14 y OR 0.34, 15-64 y 1, >=65 y OR 1.47. Bands straddling a
#: cut take the year-weighted mean: 10-19 -> (5*0.34 + 5*1)/10 = 0.67; 60-69 -> (5*1 + 5*1.47)/10 = 1.235.
DEFAULT_SUSCEPTIBILITY_BY_AGE_BAND: tuple[float, ...] = (0.34, 0.67, 1.0, 1.0, 1.0, 1.0, 1.235, 1.47, 1.47)


class LayerConfig(BaseModel):
    """One contact layer: mean daily contacts per person and per-contact transmissibility."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    contacts_per_day: NonNegative = Field(description="Mean contacts per person per day in this layer.")
    relative_transmissibility: NonNegative = Field(description="Per-contact transmissibility, community contact = 1.")


@cache
def default_contacts_per_day() -> dict[str, float]:
    """Mean daily contacts by layer from the shipped contact table (population/data/contact_layers.csv)."""
    text = resources.files("zerosim.population").joinpath("data/contact_layers.csv").read_text(encoding="utf-8")
    rows = {row["layer"]: float(row["contacts_per_day"]) for row in csv.DictReader(text.splitlines())}
    rows.setdefault("facility", DEFAULT_FACILITY_CONTACTS_PER_DAY)
    return rows


#: School and workplace contacts in the table are per attended day; the model has no weekdays, so
#: they are spread over the week: 5 school/work days out of 7.
ATTENDED_DAYS_FRACTION = {"school": 5 / 7, "workplace": 5 / 7}


def default_layers() -> dict[str, LayerConfig]:
    contacts = default_contacts_per_day()
    return {
        name: LayerConfig(
            contacts_per_day=round(contacts[name] * ATTENDED_DAYS_FRACTION.get(name, 1.0), 3),
            relative_transmissibility=DEFAULT_RELATIVE_TRANSMISSIBILITY[name],
        )
        for name in LAYER_NAMES
    }


LayerName = Literal["household", "building", "compound", "workplace", "school", "community", "citywide", "facility"]


class TransmissionConfig(BaseModel):
    """How infection spreads: layered (zone-aware) or one well-mixed layer."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    mode: Literal["layered", "well-mixed"] = Field(
        "layered", description="'layered': household ... citywide layers; 'well-mixed': one homogeneous layer."
    )
    r0: float | None = Field(
        None, gt=0, le=30, description="Basic reproduction number; default: the variant preset's r0."
    )
    layers: dict[LayerName, LayerConfig] = Field(
        default_factory=dict, description="Per-layer overrides; missing layers take the shipped defaults."
    )
    susceptibility_by_age_band: list[Annotated[float, Field(ge=0, le=5)]] | None = Field(
        None, min_length=9, max_length=9, description="Relative susceptibility by 10-year band (default Zhang 2020)."
    )
    hospitalised_transmit: bool = Field(
        False, description="Whether severe/critical (hospitalised) patients keep infecting in their layers."
    )
    test_queue_contacts: float | None = Field(
        TEST_QUEUE_CONTACTS, ge=0, le=50,
        description="Contacts in the compound of a resident confined at home on a day they queue for a swab "
                    "(a campaign round); null or 0: none.")
    sealed_contacts_per_day: float | None = Field(
        SEALED_CONTACTS_PER_DAY, ge=0, le=50,
        description="Contacts a day outside the household that a resident confined at home keeps in the building "
                    "(stairwells, lifts, test queues, volunteers); null or 0: a sealed flat meets nobody.")

    def resolved_layers(self) -> dict[str, LayerConfig]:
        """All eight layers: shipped defaults, then this config's overrides; well-mixed keeps one."""
        if self.mode == "well-mixed":
            base = {name: LayerConfig(contacts_per_day=0.0, relative_transmissibility=0.0) for name in LAYER_NAMES}
            base["citywide"] = LayerConfig(contacts_per_day=1.0, relative_transmissibility=1.0)
        else:
            base = default_layers()
        base.update(self.layers)
        return base

    def resolved_susceptibility(self) -> tuple[float, ...]:
        if self.susceptibility_by_age_band is not None:
            return tuple(self.susceptibility_by_age_band)
        if self.mode == "well-mixed":
            return (1.0,) * 9
        return DEFAULT_SUSCEPTIBILITY_BY_AGE_BAND


class SeedingConfig(BaseModel):
    """Infections placed into the population: how many, where and when."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    day: int = Field(0, ge=0, description="Simulation day of the seeding.")
    count: int = Field(10, ge=1, description="Number of people infected.")
    per_100k: float | None = Field(
        None, gt=0, le=100_000,
        description="Instead of count: infections per 100,000 residents, so the seeding scales with population.size "
        "(at least 1).",
    )
    district: str | None = Field(None, description="District name (English); default anywhere in the city.")
    until_established_day: int | None = Field(
        None, ge=0,
        description="Seed again, the same number, on any day after `day` up to this one when nobody in the city can "
        "still infect anyone: introductions go on until one takes. For an outbreak known to have happened, so that the one or "
        "two agents a reduced city seeds do not die out where the real city's tens did not (conditioning on "
        "establishment). None: seed once.",
    )

    @model_validator(mode="after")
    def _established_after_seeding(self) -> "SeedingConfig":
        if self.until_established_day is not None and self.until_established_day < self.day:
            raise ValueError(f"until_established_day ({self.until_established_day}) must be on or after day ({self.day})")
        return self

    def resolved_count(self, population: int) -> int:
        """People infected in a city of ``population`` agents."""
        if self.per_100k is None:
            return self.count
        return max(1, int(round(self.per_100k * population / 1e5)))
