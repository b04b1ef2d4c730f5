"""Region layer: the validated ``kind: region`` scenario -- several cities, the lines between them,
the policies on those lines, and importation from outside the region.

Layer ``region`` -- sits above ``io`` and ``api`` (each city is an ordinary zerosim scenario); the
single-city engine never imports it. Field sources: ``docs/region.md`` and ``data/SOURCES.md``.
"""

from __future__ import annotations

import copy
import zlib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from zerosim.errors import ScenarioError
from zerosim.io.scenario import ScenarioDocument

Mode = Literal["rail", "air", "road"]
ALL_MODES: tuple[str, ...] = ("rail", "air", "road")
REGION_SCHEMA_VERSION = 1

#: Central (hotel) quarantine cost per person-day, CNY: Yuyao (Zhejiang) 2022 charged 140-230 CNY per
#: person-day including meals for domestic arrivals from risk areas (docs/region.md, source Q1); the
#: upper end is used because room and meals were subsidised elsewhere.
CENTRAL_QUARANTINE_CNY_PER_PERSON_DAY = 230.0
#: International-arrival quarantine, CNY per person-day: Huai'an 2022 charged 400 CNY including room,
#: meals, PCR, waste and disinfection (docs/region.md, source Q2).
INTERNATIONAL_QUARANTINE_CNY_PER_PERSON_DAY = 400.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CityConfig(_Model):
    """One city of the region: an ordinary zerosim scenario, at a stated scale."""

    name: str = Field(description="City name; matches the travel data (Beijing, Shanghai, Shijiazhuang, ...).")
    scenario: str | dict[str, Any] = Field(
        default_factory=lambda: {"extends": "demo", "seeding": []},
        description="Built-in scenario name, a YAML file, or an inline scenario mapping (may use extends); default: "
                    "the demo city without seeded infections (they come by travel or by the city's own seeding).")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted overrides of the city scenario.")
    population_city: str | None = Field(
        None, description="District table to use (population.city); default: the city's own if shipped, else the "
                          "scenario's (a stand-in, said so in the summary).")
    population_size: int | None = Field(None, ge=100, description="Simulated agents; default real_population x scale.")
    scale_fraction: float | None = Field(None, gt=0, le=1, description="Simulated share of the real population.")
    real_population: int | None = Field(None, ge=100, description="Real population (default: 2020 census, data/cities.csv).")
    visitor_slots: int | None = Field(None, ge=0, description="Rows reserved for visitors; default from inbound flows.")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="City seed; default derived from the region seed.")


class TravelLine(_Model):
    """Daily one-way trips between two cities by one mode (real people, both directions listed separately)."""

    origin: str
    destination: str
    mode: Mode
    trips_per_day: float = Field(ge=0, description="One-way passenger trips per day, origin -> destination.")
    source: str = Field("", description="Where the number comes from (ASSUMPTION if none).")


class TravelConfig(_Model):
    """The travel matrix and how trips become visits."""

    shipped_lines: bool = Field(True, description="Start from data/travel.csv between the region's cities.")
    lines: list[TravelLine] = Field(default_factory=list, description="Lines added to (or replacing) the shipped ones.")
    volume_multiplier: float = Field(1.0, ge=0, description="Multiplies every line's volume (e.g. 0 = no travel).")
    outbound_visit_fraction: float = Field(
        0.5, ge=0, le=1, description="Share of one-way trips that start a visit (the rest are the return legs).")
    stay_days_mean: float = Field(4.0, ge=1, le=365, description="Mean planned stay of a visit, days (ASSUMPTION).")
    stay_distribution: Literal["geometric", "fixed"] = Field("geometric", description="Planned stay distribution.")


class CaseTrigger(_Model):
    """A city counts as 'with cases' while it had at least ``cases`` in the last ``window_days`` days."""

    cases: int = Field(1, ge=1, description="Cases in the window that trigger.")
    window_days: int = Field(14, ge=1, description="Window, days.")
    measure: Literal["detected", "infections"] = Field(
        "detected", description="'detected': reported cases (needs testing in that city); 'infections': true ones.")


Origins = Literal["any", "with_cases"] | list[str]


class EntryBan(_Model):
    """``city`` refuses travellers from origins with cases (by the trigger)."""

    city: str
    origins: Origins = Field("with_cases", description="'with_cases' (by trigger), 'any', or a list of cities.")
    trigger: CaseTrigger = Field(default_factory=CaseTrigger)
    modes: list[Mode] = Field(default_factory=lambda: list(ALL_MODES))
    from_day: int = Field(0, ge=0)
    until_day: int | None = Field(None, ge=0)
    applies_to_returning_residents: bool = Field(False, description="Also refuse the city's own residents coming home.")


class ArrivalQuarantine(_Model):
    """Quarantine (central hotel days, then home days) of arrivals."""

    central_days: int = Field(7, ge=0, le=60)
    home_days: int = Field(3, ge=0, le=60)
    test_on_arrival: bool = Field(True, description="One PCR on arrival; positives become cases in that city.")


class Diversion(_Model):
    """Trains (or other modes) barred from ``barred_destination`` unload at ``diversion_city``."""

    barred_destination: str
    diversion_city: str
    modes: list[Mode] = Field(default_factory=lambda: ["rail"])
    quarantine: ArrivalQuarantine = Field(default_factory=ArrivalQuarantine)


class PreDepartureTest(_Model):
    """Travellers to ``destination`` must hold a negative PCR taken within ``hours`` hours."""

    destination: str = Field("any", description="City that demands it, or 'any'.")
    origins: Origins = Field("any")
    trigger: CaseTrigger = Field(default_factory=CaseTrigger)
    hours: int = Field(48, ge=12, le=168, description="Validity of the test, hours (48 or 72 in practice).")
    from_day: int = Field(0, ge=0)


class ArrivalRule(ArrivalQuarantine):
    """``city`` quarantines arrivals from the given origins."""

    city: str
    origins: Origins = Field("with_cases")
    trigger: CaseTrigger = Field(default_factory=CaseTrigger)
    from_day: int = Field(0, ge=0)
    applies_to_returning_residents: bool = True


class LinePolicies(_Model):
    """Policies on the lines between cities."""

    entry_bans: list[EntryBan] = Field(default_factory=list)
    diversions: list[Diversion] = Field(default_factory=list)
    pre_departure_tests: list[PreDepartureTest] = Field(default_factory=list)
    arrival_quarantine: list[ArrivalRule] = Field(default_factory=list)
    outbound_ban_when_sealed: bool = Field(True, description="Nobody leaves a city while it is sealed.")
    inbound_closed_when_sealed: bool = Field(True, description="Nobody travels into a sealed city.")


class Importation(_Model):
    """Arrivals from outside the region (international), quarantined on arrival."""

    city: str
    arrivals_per_day: float = Field(ge=0, description="Real arrivals per day.")
    prevalence_fraction: float = Field(ge=0, le=1, description="Share of arrivals infected (infected 0-5 days before).")
    central_days: int = Field(14, ge=0, le=60, description="Central quarantine days (14 in 2021-22; docs/region.md).")
    home_days: int = Field(7, ge=0, le=60)
    test_on_arrival: bool = True
    stay_days_after_quarantine: float = Field(0.0, ge=0, description="Days they stay in the city after quarantine.")
    source: str = Field("", description="Where the rate comes from.")


class RegionCosts(_Model):
    central_quarantine_cny_per_person_day: float = Field(CENTRAL_QUARANTINE_CNY_PER_PERSON_DAY, ge=0)
    international_quarantine_cny_per_person_day: float = Field(INTERNATIONAL_QUARANTINE_CNY_PER_PERSON_DAY, ge=0)
    test_cny: float | None = Field(
        None, ge=0, description="Per pre-departure or arrival PCR; default ledger.testing.cny_per_single_tube.")


class TravelTestConfig(_Model):
    """The PCR used for pre-departure and arrival tests (defaults: the containment TestingConfig's)."""

    limit_of_detection_log10: float | None = Field(None, ge=0, le=8)
    detection_slope_log10: float | None = Field(None, ge=0, le=3)
    swab_log10_sd: float | None = Field(None, ge=0, le=5)
    specificity: float | None = Field(None, ge=0, le=1)


class RegionOutputs(_Model):
    figures: bool = Field(True, description="Write region.png (and the cities' figures if city_figures).")
    city_figures: bool = Field(True, description="Write each city's own figures in cities/<name>/.")


class RegionScenario(_Model, ScenarioDocument):
    """A validated region scenario: several cities stepped in lockstep with travel between them."""

    kind: Literal["region"] = "region"
    schema_version: Literal[1] = REGION_SCHEMA_VERSION
    name: str = "region"
    description: str = ""
    seed: int = Field(1, ge=0, le=2**63 - 1)
    duration_days: int = Field(60, ge=1, le=3650)
    start_date: date | None = None
    scale_fraction: float = Field(0.01, gt=0, le=1, description="Default simulated share of each city's population.")
    population_total: int | None = Field(
        None, ge=100, description="If set: every city's size multiplied by one factor so that the residents add up "
                                  "to this (--population); relative scales are kept.")
    cities: list[CityConfig] = Field(min_length=1)
    travel: TravelConfig = Field(default_factory=TravelConfig)
    policies: LinePolicies = Field(default_factory=LinePolicies)
    importation: list[Importation] = Field(default_factory=list)
    test: TravelTestConfig = Field(default_factory=TravelTestConfig)
    costs: RegionCosts = Field(default_factory=RegionCosts)
    outputs: RegionOutputs = Field(default_factory=RegionOutputs)

    @field_validator("cities")
    @classmethod
    def _unique_names(cls, cities: list[CityConfig]) -> list[CityConfig]:
        names = [c.name for c in cities]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise ValueError(f"city {name!r} listed twice; give each city once")
        return cities

    @model_validator(mode="after")
    def _known_cities(self) -> RegionScenario:
        names = [c.name for c in self.cities]

        def check(value: str, field: str, allow_any: bool = False) -> None:
            if allow_any and value == "any":
                return
            if value not in names:
                raise ValueError(f"{field}: unknown city {value!r}; the region's cities are {', '.join(names)}")

        def check_origins(value, field: str) -> None:
            if isinstance(value, list):
                for k, item in enumerate(value):
                    check(item, f"{field}.{k}")

        for i, line in enumerate(self.travel.lines):
            check(line.origin, f"travel.lines.{i}.origin")
            check(line.destination, f"travel.lines.{i}.destination")
            if line.origin == line.destination:
                raise ValueError(f"travel.lines.{i}: origin and destination are both {line.origin!r}; give two cities")
        p = self.policies
        for i, ban in enumerate(p.entry_bans):
            check(ban.city, f"policies.entry_bans.{i}.city")
            check_origins(ban.origins, f"policies.entry_bans.{i}.origins")
        for i, diversion in enumerate(p.diversions):
            check(diversion.barred_destination, f"policies.diversions.{i}.barred_destination")
            check(diversion.diversion_city, f"policies.diversions.{i}.diversion_city")
            if diversion.diversion_city == diversion.barred_destination:
                raise ValueError(f"policies.diversions.{i}.diversion_city: must differ from the barred destination")
        for i, test in enumerate(p.pre_departure_tests):
            check(test.destination, f"policies.pre_departure_tests.{i}.destination", allow_any=True)
            check_origins(test.origins, f"policies.pre_departure_tests.{i}.origins")
        for i, rule in enumerate(p.arrival_quarantine):
            check(rule.city, f"policies.arrival_quarantine.{i}.city")
            check_origins(rule.origins, f"policies.arrival_quarantine.{i}.origins")
        for i, item in enumerate(self.importation):
            check(item.city, f"importation.{i}.city")
        return self

    # -- derived values ---------------------------------------------------------------------------
    def city_seed(self, city: CityConfig) -> int:
        """The city's seed: its own, or one derived from the region seed and the city name (CRC-32)."""
        if city.seed is not None:
            return city.seed
        sequence = np.random.SeedSequence(self.seed, spawn_key=(zlib.crc32(city.name.encode("utf-8")),))
        return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))



# -- loading ----------------------------------------------------------------------------------------
def region_builtin_names() -> list[str]:
    """Names of the region scenarios shipped in ``zerosim/region/scenarios``."""
    folder = resources.files("zerosim.region").joinpath("scenarios")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _raw(source: str | Path, seen: tuple[str, ...] = ()) -> dict:
    """Raw mapping of a region built-in or file, with ``extends:`` (another region) resolved; a cycle of
    ``extends`` is found by real path (``seen``: the identities of the files extending this one)."""
    import os

    from zerosim.io.paths import check_path
    from zerosim.io.safe_yaml import MAX_YAML_BYTES
    from zerosim.io.scenario import merge_mapping, parse_mapping

    def identity(text: str) -> str:
        return f"region:{text}" if text in region_builtin_names() and not Path(text).suffix else os.path.realpath(text)

    text_source = str(source)
    if text_source in region_builtin_names() and not Path(text_source).suffix:
        origin = f"built-in '{text_source}'"
        text = resources.files("zerosim.region").joinpath(f"scenarios/{text_source}.yaml").read_text(encoding="utf-8")
        base_dir = None
    else:
        path = check_path(text_source, "scenario", ScenarioError)
        if not path.is_file():
            raise ScenarioError(f"scenario: '{text_source}' is neither a file nor a built-in region; give a YAML file "
                                f"or one of {', '.join(region_builtin_names())}")
        try:
            if path.stat().st_size > MAX_YAML_BYTES:
                raise ScenarioError(f"scenario: '{text_source}' is larger than {MAX_YAML_BYTES:,} bytes; check the file")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ScenarioError(f"scenario: cannot read '{text_source}' ({error.__class__.__name__}); check the file") from None
        origin, base_dir = str(path), path.parent
    data = parse_mapping(text, origin)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError(f"{origin}: extends: must be a built-in region or a file path, got {str(parent)[:40]!r}")
    if base_dir is not None and parent not in region_builtin_names():
        parent = str(base_dir / parent)
    chain = seen + (identity(text_source),)
    if identity(parent) in chain:
        loop = " -> ".join(Path(step.removeprefix("region:")).name for step in chain + (identity(parent),))
        raise ScenarioError(f"extends: '{parent}' extends itself ({loop[:200]}); break the cycle")
    return merge_mapping(_raw(parent, chain), data)


def is_region_source(source: str | Path) -> bool:
    """True if ``source`` names a built-in region or a YAML file whose top level says ``kind: region``
    (directly or through ``extends``)."""
    text_source = str(source)
    if text_source in region_builtin_names() and not Path(text_source).suffix:
        return True
    try:
        if not Path(text_source).is_file():
            return False
        data = _raw(text_source)
    except (ScenarioError, OSError, ValueError):
        return False  # not a readable region file: the ordinary loader says what is wrong with it
    return data.get("kind") == "region"


def load_region(source: str | Path, overrides: dict[str, Any] | None = None) -> RegionScenario:
    """Load a built-in region name or YAML file, apply dotted ``overrides``, validate.

    Raises
    ------
    ScenarioError
        One line naming the field and the fix.
    """
    from zerosim.io.scenario import apply_dotted

    data = _raw(source)
    if "name" not in data:
        data["name"] = Path(str(source)).stem
    return validate_region(apply_dotted(data, overrides))


def region_problems(source: str | Path, overrides: dict[str, Any] | None = None) -> list[str]:
    """Every problem of a ``kind: region`` scenario, one line each (as
    :func:`zerosim.io.problems.scenario_problems`; for ``zerosim validate``)."""
    from zerosim.io.problems import collect_problems

    return collect_problems(_raw, RegionScenario, source, overrides)


def validate_region(data: dict) -> RegionScenario:
    """Validate a raw mapping into a RegionScenario; errors become one-line ScenarioErrors."""
    from zerosim.io.scenario import describe_validation_error

    try:
        return RegionScenario.model_validate(copy.deepcopy(data))
    except ValidationError as error:
        raise ScenarioError(describe_validation_error(error)) from None
