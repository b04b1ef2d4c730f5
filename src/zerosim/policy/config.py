"""Policy layer: validated parameters of the containment machinery.

Layer ``policy`` -- imports ``population`` (state codes) only. Every default is the value of the
``none`` preset (nothing happens); the presets in ``presets/*.yaml`` set the real rules, each
number cited in docs/policies.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from zerosim.population.state import AGE_BAND_COUNT, LEVEL_CODE, WORK_SECTOR_NAMES

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]

#: Names a scenario may use, derived from the codes' single definitions in population/state.py
#: (``Sector``, ``ZoneLevel``); LEVEL_CODE (name -> ZoneLevel value) is re-exported from there.
SectorName = Literal[WORK_SECTOR_NAMES]
LevelName = Literal[tuple(LEVEL_CODE)]
ZoneName = Literal[("city", "district", "subdistrict", "compound", *reversed(tuple(LEVEL_CODE)[1:]), "restricted")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: Swabs that miss: the lowest false-negative rate of RT-PCR over the course, 20 % (12-30 %) on day 8
#: after exposure (3 days after onset), when loads are far above the limit of detection (Kucirka LM et
#: al., Ann Intern Med 2020;173:262, pooled 7 studies, 1,330 upper-respiratory samples); bench/validation.py
#: checks the whole false-negative curve by day (days 4, 5, 8, 9, 21) against the same study.
SWAB_FAILURE_FRACTION = 0.20


# -- testing ---------------------------------------------------------------------------------------
class CampaignConfig(_Model):
    """Mass testing rounds over a zone on a schedule."""

    zone: ZoneName = Field(
        "city",
        description="Who is tested: the whole city, one district/subdistrict/compound (by `target`), or everyone "
        "living in sealed / controlled / precaution zones ('restricted' = sealed + controlled).",
    )
    target: str | None = Field(None, description="District name (zone 'district') or index (subdistrict/compound).")
    start_day: NonNegativeInt = Field(0, description="First day a round may start.")
    start_after_cases: NonNegativeInt | None = Field(
        None, description="Start only once this many cases have been detected (cumulative); None: from start_day."
    )
    interval_days: PositiveInt = Field(1, description="Days between the starts of two rounds.")
    rounds: PositiveInt | None = Field(None, description="Number of rounds; None: no limit (for zones: while any exist).")
    coverage_fraction: Fraction = Field(0.95, description="Share of targeted residents who are swabbed in a round.")
    coverage_by_age_band: list[Fraction] | None = Field(
        None, min_length=AGE_BAND_COUNT, max_length=AGE_BAND_COUNT,
        description="Share swabbed by 10-year age band (0-9 ... 80+), replacing coverage_fraction; the bed-bound "
        "elderly are swabbed at home, so it need not fall with age.",
    )
    pool_size: Literal[1, 5, 10, 20] = Field(10, description="Samples per tube (k-in-1 pooling).")
    zone_levels: Literal["effective", "around_cases"] = Field(
        "effective",
        description="For the zone campaigns (sealed, controlled, precaution, restricted), which level puts a compound "
        "in the zone: 'effective', the strictest of its own, its subdistrict's, its district's and the city's; "
        "'around_cases', only the zones drawn around cases, so a city sealed as a whole still tests its sealed, "
        "controlled and precaution compounds at their own cadences (Shanghai, April-May 2022).",
    )

    @model_validator(mode="after")
    def _zone_levels_need_a_zone(self) -> "CampaignConfig":
        if self.zone_levels != "effective" and self.zone not in ("sealed", "controlled", "precaution", "restricted"):
            raise ValueError(f"zone_levels {self.zone_levels!r} applies to zone sealed, controlled, precaution or "
                             f"restricted, not {self.zone!r}; remove zone_levels or change the zone")
        return self

    def coverage_by_band(self) -> np.ndarray:
        """Coverage per 10-year age band (float64, 9 values)."""
        values = self.coverage_by_age_band or [self.coverage_fraction] * 9
        return np.asarray(values, dtype=np.float64)


class SectorScreeningConfig(_Model):
    """Routine screening of workers of some sectors (e.g. every 48 h for couriers)."""

    sectors: list[SectorName] = Field(description="Sectors whose workers are screened.")
    interval_days: PositiveInt = Field(2, description="Days between two tests of the same worker.")
    pool_size: Literal[1, 5, 10, 20] = 1
    start_day: NonNegativeInt = 0


class TestingConfig(_Model):
    """Mass testing, pooling, swab and lab capacity, assay performance, symptomatic testing."""

    campaigns: list[CampaignConfig] = Field(default_factory=list)
    sector_screening: list[SectorScreeningConfig] = Field(default_factory=list)
    household_pools_in_sealed: bool = Field(
        False, description="In sealed compounds, one tube per household instead of k-in-1 pools."
    )
    symptomatic_test_probability_per_day: Fraction = Field(
        0.0, description="Daily probability a symptomatic person not yet detected is tested at a fever clinic."
    )
    swabs_per_day_per_100k: float | None = Field(
        None, gt=0, description="Swab-station throughput per subdistrict, people per day per 100,000 residents; None: unlimited."
    )
    lab_tubes_per_day_per_100k: float | None = Field(
        None, gt=0, description="Citywide lab capacity, tubes per day per 100,000 residents; None: unlimited."
    )
    result_delay_days: NonNegativeInt = Field(0, description="Days from processing to the result being reported.")
    limit_of_detection_log10: float = Field(
        3.0, ge=0, le=8, description="Assay limit of detection, log10 copies/mL in the tube (after dilution)."
    )
    detection_slope_log10: float = Field(
        0.25, ge=0, le=3, description="Width of the detection curve around the limit (logistic scale, log10 units); 0 = sharp."
    )
    swab_log10_sd: float = Field(
        0.5, ge=0, le=5, description="Sampling variation of the load captured by a swab (log10 SD); 0 = perfect swab."
    )
    swab_failure_fraction: Fraction = Field(
        SWAB_FAILURE_FRACTION, description="Share of swabs that take up too little material to detect any load "
        "(poor sampling); such a sample adds nothing to its tube.")
    specificity: Fraction = Field(0.99999, description="P(tube negative | no infected sample in it).")
    retest_pool_members: bool = Field(True, description="Positive pools trigger individual re-tests (Dorfman).")
    confirm_single_positives: bool = Field(
        False, description="A positive single tube is re-tested before the person counts as a case (复核)."
    )
    pool_positive_members_stay_home: bool = Field(
        True, description="Members of a positive pool stay home until their individual result."
    )
    antigen_self_test_probability_per_day: Fraction = Field(
        0.0, description="Daily probability a free resident takes an antigen self-test (0: none)."
    )
    antigen_limit_of_detection_log10: float = Field(
        5.0, ge=0, le=12, description="Antigen test 50% detection point, log10 copies/mL."
    )


# -- isolation -------------------------------------------------------------------------------------
class IsolationConfig(_Model):
    """Transfer of detected cases to centralized isolation (fangcang) and their discharge."""

    enabled: bool = False
    transfer_delay_days: NonNegativeInt = Field(1, description="Days from detection to transfer when a bed is free.")
    beds_per_100k: float | None = Field(
        None, gt=0, description="Fangcang / isolation beds per 100,000 residents; None: unlimited."
    )
    discharge_min_days: NonNegativeInt = Field(7, description="Minimum days in isolation before discharge.")
    discharge_negative_days: PositiveInt = Field(
        2, description="Consecutive daily tests below the discharge threshold needed to leave."
    )
    discharge_threshold_log10: float = Field(
        4.0, ge=0, le=12, description="Viral load (log10 copies/mL) below which a discharge test reads negative (Ct >= 35)."
    )
    home_monitoring_days: NonNegativeInt = Field(3, description="Days of home health monitoring after discharge.")
    facility_contacts_per_day: float = Field(
        5.0, ge=0, description="Contacts per day inside an isolation facility (crowding; the 'appalling conditions')."
    )


# -- tracing and quarantine ------------------------------------------------------------------------
class TracingConfig(_Model):
    """Close and secondary contacts, centralized and home quarantine."""

    enabled: bool = False
    delay_days: NonNegativeInt = Field(1, description="Days from a case's detection to its contacts' pick-up.")
    coverage_fraction: Fraction = Field(0.9, description="Share of a case's actual infectees (outside home) found.")
    household: bool = Field(True, description="Household members are close contacts.")
    building_fraction: Fraction = Field(0.0, description="Share of the case's building neighbours taken as close contacts.")
    workplace_contacts: NonNegativeInt = Field(10, description="Colleagues / classmates per case taken as close contacts.")
    secondary_contacts: bool = Field(True, description="Household members of close contacts go to home quarantine.")
    central_days: NonNegativeInt = Field(7, description="Days of centralized quarantine for close contacts.")
    home_days: NonNegativeInt = Field(3, description="Days of home quarantine after central quarantine.")
    secondary_home_days: NonNegativeInt = Field(7, description="Days of home quarantine for secondary contacts.")
    rooms_per_100k: float | None = Field(None, gt=0, description="Quarantine hotel rooms per 100,000; None: unlimited.")
    test_days: list[NonNegativeInt] = Field(
        default_factory=lambda: [1, 2, 3, 5, 7], description="Days of quarantine (1 = first) with a PCR test."
    )
    facility_contacts_per_day: float = Field(
        0.5, ge=0, description="Contacts per day between people in one quarantine hotel (shared spaces)."
    )


# -- zoning ----------------------------------------------------------------------------------------
#: Workers who kept moving through sealed areas. Logistics 0.2: Shanghai's platform riders at work fell
#: from ~80,000 to ~11,000 (6 April 2022) and ~20,000 (18 April), i.e. 14-25 % (Shanghai Commerce
#: Commission press conferences, see ledger/defaults.yaml, courier_dependence_fraction). Health 0.2 and
#: retail 0.05: ASSUMPTION (hospital staff in closed loops or with passes; supermarket "supply" staff);
#: no count found. Named by Shanghai as higher-risk groups: volunteers, community workers and couriers
#: (Zhao Dandan, press conference 2022-05-07).
ESSENTIAL_EXEMPT_FRACTION: dict[str, float] = {"logistics": 0.2, "health": 0.2, "retail": 0.05}


class ZoningConfig(_Model):
    """Sealed / controlled / precaution zones: triggers at compound, subdistrict, district and city level."""

    enabled: bool = False
    count_quarantined_cases: bool = Field(
        False, description="Cases found in quarantine also trigger zones (default: only community cases)."
    )
    cases_at_home_restart_clock: bool = Field(
        False,
        description="A case found at home in a sealed or controlled compound (not in central quarantine) restarts "
        "that compound's days without a case and seals a controlled one, as the release rules say (docs/policies.md "
        "4.1-4.2). Off by default: the built-ins were fitted without it, and with it the model finds 99.9 % of "
        "Shanghai's early-May cases under control against the record's 90.6 % (docs/policies.md 4.2, 'In the model').",
    )
    compound_level_on_case: LevelName = Field("sealed", description="Level of a compound where a resident case is found.")
    neighbours_level: LevelName = Field(
        "precaution", description="Level of the other compounds of a subdistrict with a sealed compound."
    )
    subdistrict_controlled_after_compounds: PositiveInt | None = Field(
        None, description="A subdistrict with >= this many sealed compounds becomes controlled as a whole."
    )
    district_sealed_after_cases: PositiveInt | None = Field(
        None, description="A district with >= this many community cases in `window_days` is sealed as a whole."
    )
    city_sealed_after_cases: PositiveInt | None = Field(
        None, description="The whole city is sealed at this many community cases in `window_days` (1 = one case shuts the city)."
    )
    district_sealed_after_cases_per_100k: float | None = Field(
        None, gt=0, description="As district_sealed_after_cases, per 100,000 residents of the district."
    )
    city_sealed_after_cases_per_100k: float | None = Field(
        None, gt=0, description="As city_sealed_after_cases, per 100,000 residents of the city."
    )
    city_sealed_from_day: NonNegativeInt | None = Field(None, description="Seal the whole city on this day regardless.")
    city_ordered_level: LevelName = Field(
        "none",
        description="The whole city is held at least at this level while this policy period lasts (an order: "
        "'sealed' for Shanghai from 1 April 2022, 'precaution' for Wuhan's closure of 23 January 2020); once a "
        "later period drops the order, the city is released by the usual rules.",
    )
    districts_sealed: list[str] = Field(
        default_factory=list,
        description="Districts sealed as a whole by order while this policy period lasts (e.g. Pudong from 28 March "
        "2022); released by the usual rules once a later period drops them.",
    )
    window_days: PositiveInt = Field(7, description="Window over which district / city case counts are taken.")
    sealed_release_days: PositiveInt = Field(14, description="Days without a new case before sealed steps down to controlled.")
    controlled_release_days: PositiveInt = Field(7, description="Further days before controlled steps down to precaution.")
    precaution_release_days: PositiveInt = Field(7, description="Further days before precaution is lifted.")
    city_release_social_zero_days: PositiveInt = Field(
        3, description="A sealed city / district is released after this many days of social-level zero (no community case)."
    )
    city_min_sealed_days: NonNegativeInt = Field(0, description="A sealed city / district stays sealed at least this long.")
    individual_release_after_negatives: PositiveInt | None = Field(
        None, description="A resident with this many consecutive negatives may leave a sealed zone; None: never (the practice)."
    )
    essential_exempt_fraction: dict[SectorName, Fraction] = Field(
        default_factory=lambda: dict(ESSENTIAL_EXEMPT_FRACTION),
        description="Share of each sector's workers who keep working through a sealed or controlled compound "
        "(couriers, medical staff, supply staff: passes and closed loops); the same workers every day.",
    )

    @model_validator(mode="after")
    def _ordered_levels(self) -> "ZoningConfig":
        if LEVEL_CODE[self.neighbours_level] > LEVEL_CODE[self.compound_level_on_case]:
            raise ValueError("neighbours_level must not be stricter than compound_level_on_case")
        return self


# -- closures --------------------------------------------------------------------------------------
class ClosuresConfig(_Model):
    """Which workplaces and schools close, by the zone level of their district (or the city)."""

    enabled: bool = False
    sector_close_level: dict[SectorName, LevelName] = Field(
        default_factory=dict, description="A sector closes when its workplace's district is at this level or stricter."
    )
    schools_close_level: LevelName = Field("controlled", description="Schools close at this district level or stricter.")
    schools_closed: bool = Field(False, description="Schools closed citywide whatever the zone level (e.g. Shanghai from 12 March 2022).")
    sectors_closed: list[SectorName] = Field(
        default_factory=list,
        description="Sectors closed citywide by order whatever the zone level (essential sectors keep "
        "essential_open_fraction running), e.g. Wuhan's extended Spring Festival closure of 2020.",
    )
    transport_closed: bool = Field(False, description="Public transport stopped citywide by order (Wuhan, 23 January 2020).")
    transport_close_level: LevelName = Field(
        "none", description="Public transport stops in a district at this level or stricter ('none': never)."
    )
    transport_closed_citywide_factor: Fraction = Field(
        0.2, description="Share of citywide (transit) contacts left where transport has stopped (ASSUMPTION)."
    )
    essential_sectors: list[SectorName] = Field(
        default_factory=lambda: ["health", "logistics", "public_service"],
        description="Sectors that stay open (closed-loop work) whatever the level.",
    )
    essential_open_fraction: Fraction = Field(
        0.5, description="Share of essential workplaces kept running (closed loop) when their sector would close."
    )


# -- health code -----------------------------------------------------------------------------------
class HealthCodeConfig(_Model):
    """Green / yellow / red codes; green needed for work, school and community contacts."""

    enabled: bool = False
    test_validity_days: PositiveInt | None = Field(
        None, description="Green also needs a negative test within this many days (2 = 48 h, 3 = 72 h); None: no test needed."
    )
    test_requirement_from_day: NonNegativeInt = Field(0, description="Day the negative-test requirement starts.")


class ContainmentConfig(_Model):
    """The whole containment machinery of a scenario."""

    label: str = Field("no containment", description="Plain-words name of the policy.")
    testing: TestingConfig = Field(default_factory=TestingConfig)
    isolation: IsolationConfig = Field(default_factory=IsolationConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    zoning: ZoningConfig = Field(default_factory=ZoningConfig)
    closures: ClosuresConfig = Field(default_factory=ClosuresConfig)
    health_code: HealthCodeConfig = Field(default_factory=HealthCodeConfig)
