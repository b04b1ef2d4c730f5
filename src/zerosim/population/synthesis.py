"""Population layer: vectorised generation of a synthetic city from the shipped, sourced tables.

Layer ``population`` -- imports numpy and this layer only. No per-agent Python loop: loops run over
districts, school types and sectors (tens of iterations), never over people.

Agents come out sorted by residence (district > subdistrict > compound > building > household),
so every residential unit is a contiguous index range (see ``state.py``).

Cities: ``PopulationConfig.city`` picks a shipped district table (``available_cities()``); the
age pyramid and household sizes are Shanghai's, adjusted to the city's census in ``city_tables``
(data/SOURCES.md section 9).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from zerosim.errors import ScenarioError
from zerosim.memory import release_freed_memory
from zerosim.population.config import PopulationConfig, available_cities, unknown_city_message
from zerosim.population.draws import lognormal
from zerosim.population.kernels import stable_order_by_key
from zerosim.population.state import (
    NO_GROUP,
    GroupIndex,
    PopulationState,
    WORK_SECTOR_CODE,
    Sector,
    bytes_per_agent,
)

#: School types in the order of ``schools.csv`` rows, mapped to sector codes.
SCHOOL_TYPE_SECTOR = {
    "kindergarten": Sector.KINDERGARTEN,
    "primary": Sector.PRIMARY_SCHOOL,
    "junior_secondary": Sector.JUNIOR_SECONDARY,
    "senior_secondary": Sector.SENIOR_SECONDARY,
}
#: The city the shipped age_pyramid.csv and household_size.csv describe (data/SOURCES.md sections 2-3).
#: Its tables are used as they are; other cities get them adjusted to their own census (see city_tables).
BASE_CITY = "shanghai"
#: Mean size of the open top class "8 or more" of household_size.csv: Beijing 2010 classes 8, 9 and 10+
#: (9,817 / 3,000 / 2,822 households) with 10+ at 10.5 persons (ASSUMPTION), data/SOURCES.md section 3.
OPEN_TOP_HOUSEHOLD_SIZE = (8 * 9817 + 9 * 3000 + 10.5 * 2822) / (9817 + 3000 + 2822)
#: Bytes per agent a run needs beyond the state's schema arrays (docs/performance.md, "Memory"):
#: 36 measured at 25M agents with dynamic-zero-2022 (group indexes 7, the policies' and the ledger's
#: per-unit arrays, the day's swab batches), and 104 in the worst case measured, an uncontained
#: epidemic of 10M (the disease layer's list of the infected with its spare copy and room to grow,
#: at a peak prevalence near 40 %, and the day's contact buffers); rounded up from the worst case.
RUN_OVERHEAD_BYTES_PER_AGENT = 110
#: Bytes of the interpreter, NumPy, Numba and the compiled kernels before any agent exists (~0.26 GiB
#: measured after a warm-up run), rounded up.
RUNTIME_BASE_BYTES = 400 * 2**20


# -- shipped tables ------------------------------------------------------------------------------
def _read_table(name: str) -> list[dict[str, str]]:
    text = resources.files("zerosim.population").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@dataclass(frozen=True)
class CityTables:
    """The sourced tables a synthetic city is drawn from (see data/SOURCES.md)."""

    district_names: tuple[str, ...]
    district_population: np.ndarray  # real resident population per district
    district_subdistricts: np.ndarray  # real number of subdistricts / towns per district
    age_low: np.ndarray
    age_high: np.ndarray
    age_share: np.ndarray
    household_size: np.ndarray
    household_share: np.ndarray
    sector_names: tuple[str, ...]
    sector_share: np.ndarray
    sector_size_mean: np.ndarray
    sector_size_sd: np.ndarray
    employment_low: np.ndarray
    employment_high: np.ndarray
    employment_rate: np.ndarray
    school_types: tuple[str, ...]
    school_age_low: np.ndarray
    school_age_high: np.ndarray
    school_enrollment: np.ndarray
    school_size: np.ndarray
    vaccine_low: np.ndarray
    vaccine_high: np.ndarray
    vaccine_shares: np.ndarray  # (bands, 4): share with 0..3 doses

    def age_probabilities(self) -> np.ndarray:
        """P(age = a) for a = 0..100, spreading each band's share evenly over its years."""
        probabilities = np.zeros(101)
        for low, high, share in zip(self.age_low, self.age_high, self.age_share):
            high = min(int(high), 100)
            probabilities[int(low) : high + 1] += share / (high - int(low) + 1)
        return probabilities / probabilities.sum()


@dataclass(frozen=True)
class CityProfile:
    """One row of ``cities.csv``: a city's 2020 census totals (None where the census value was not found)."""

    city: str
    population_2020: int
    share_age_0_14: float | None
    share_age_60_plus: float | None
    share_age_65_plus: float | None
    family_household_mean_size: float | None


#: Shipped vaccination coverage tables by age and doses (``population.vaccination``); sources in SOURCES.md.
VACCINATION_TABLES = {
    "shanghai-2022-04": "vaccination_by_age.csv",            # Shanghai 60+ of April 2022, national under 60
    "china-2022-11": "vaccination_by_age_china_2022-11.csv",  # national 60+ and 80+ of 28 Nov 2022
}
DEFAULT_VACCINATION = "shanghai-2022-04"


@cache
def vaccination_table(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(age_low, age_high, shares (bands, 4) of 0..3 doses) of a shipped coverage table."""
    rows = _read_table(VACCINATION_TABLES[name])
    shares = np.array([[float(row[k]) for k in ("share_0_doses", "share_1_dose", "share_2_doses", "share_3_doses")]
                       for row in rows])
    shares /= shares.sum(axis=1, keepdims=True)
    return (np.array([int(row["age_low"]) for row in rows]), np.array([int(row["age_high"]) for row in rows]), shares)


@cache
def city_profile(city: str) -> CityProfile:
    """The ``cities.csv`` row of ``city`` (2020 census population, broad age shares, family-household size)."""
    rows = {row["city"]: row for row in _read_table("cities.csv")}
    if city not in rows:
        raise ScenarioError(f"population.city: {city!r} has a district table but no row in cities.csv; add one")
    row = rows[city]

    def optional(key: str) -> float | None:
        return float(row[key]) if row[key].strip() else None

    return CityProfile(
        city=city,
        population_2020=int(row["population_2020"]),
        share_age_0_14=optional("share_age_0_14"),
        share_age_60_plus=optional("share_age_60_plus"),
        share_age_65_plus=optional("share_age_65_plus"),
        family_household_mean_size=optional("family_household_mean_size"),
    )


def rake_age_shares(age_low: np.ndarray, age_high: np.ndarray, shares: np.ndarray, profile: CityProfile) -> np.ndarray:
    """Scale the base 5-year age shape to a city's census shares of 0-14, 15-59, 60-64 and 65+.

    Raking (iterative proportional fitting) to margins that partition the bands converges in one
    step: every band is multiplied by (census share of its broad group) / (base share of that group),
    so the shape inside each broad group is the base city's and the group totals are the city's.
    Without a 65+ share the 60+ bands are scaled together (the base 60-64 : 65+ ratio is kept);
    without a 0-14 or a 60+ share the base shape is returned unchanged (see data/SOURCES.md).

    Parameters
    ----------
    age_low, age_high : np.ndarray, shape (bands,), int
        Inclusive band limits of age_pyramid.csv; every band must lie inside one broad group.
    shares : np.ndarray, shape (bands,), float64
        Base shares, summing to 1.
    profile : CityProfile

    Returns
    -------
    np.ndarray, shape (bands,), float64
        Raked shares summing to 1.
    """
    young, old, oldest = profile.share_age_0_14, profile.share_age_60_plus, profile.share_age_65_plus
    if young is None or old is None:
        return shares.copy()
    edges = (15, 60, 65) if oldest is not None else (15, 60)
    group = np.searchsorted(np.asarray(edges), age_low, side="right")
    if not np.array_equal(group, np.searchsorted(np.asarray(edges), age_high, side="right")):
        raise ScenarioError(f"age_pyramid.csv: a band crosses one of the ages {edges}; the bands cannot be raked")
    targets = [young, 1.0 - young - old] + ([old - oldest, oldest] if oldest is not None else [old])
    if min(targets) <= 0:
        raise ScenarioError(f"cities.csv: {profile.city}: age shares {targets} are not all positive; fix the row")
    base = np.bincount(group, weights=shares, minlength=len(targets))
    raked = shares * (np.asarray(targets) / base)[group]
    return raked / raked.sum()


def household_size_values(sizes: np.ndarray) -> np.ndarray:
    """Persons per household class: the class value, except the open top class at its mean size."""
    values = sizes.astype(float)
    values[sizes == sizes.max()] = OPEN_TOP_HOUSEHOLD_SIZE
    return values


def tilt_household_shares(sizes: np.ndarray, shares: np.ndarray, mean_size: float) -> np.ndarray:
    """Exponentially tilt a household-size distribution to a new mean: p_k proportional to q_k exp(theta k).

    The same minimum-information adjustment that made the Shanghai table from the Beijing 2010 shape
    (data/SOURCES.md section 3). Tilts compose (theta adds), so tilting the shipped Shanghai table is
    the same as tilting the Beijing shape directly. theta is found by bisection (the mean rises with theta).

    Parameters
    ----------
    sizes : np.ndarray, shape (classes,), int
        Household sizes 1..8 (8 = 8 or more, valued at OPEN_TOP_HOUSEHOLD_SIZE).
    shares : np.ndarray, shape (classes,), float64
        Base shares, summing to 1.
    mean_size : float
        Target mean family-household size, persons.

    Returns
    -------
    np.ndarray, shape (classes,), float64
        Tilted shares summing to 1, whose mean (top class at its mean size) equals ``mean_size``.
    """
    values = household_size_values(sizes)
    if not values.min() < mean_size < values.max():
        raise ScenarioError(f"cities.csv: family_household_mean_size {mean_size} is outside {values.min()}-{values.max()}")

    def tilted(theta: float) -> np.ndarray:
        weights = shares * np.exp(theta * (values - values.min()))
        return weights / weights.sum()

    low, high = -20.0, 20.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if float((tilted(middle) * values).sum()) < mean_size:
            low = middle
        else:
            high = middle
    return tilted(0.5 * (low + high))


@cache
def city_tables(city: str = "shanghai") -> CityTables:
    """Load and normalise the shipped tables of ``city``.

    The district table is the city's own. The age pyramid and household-size table are Shanghai's
    (BASE_CITY); for any other city they are raked to its census age shares and tilted to its mean
    family-household size from cities.csv (rake_age_shares, tilt_household_shares). The sector,
    employment, school, vaccination and contact tables are used as shipped for every city.
    """
    if city not in available_cities():
        raise ScenarioError(f"population.city: {unknown_city_message(city)}")
    districts = _read_table(f"{city}_districts.csv")
    ages = _read_table("age_pyramid.csv")
    households = _read_table("household_size.csv")
    sectors = _read_table("sectors.csv")
    employment = _read_table("employment.csv")
    schools = _read_table("schools.csv")
    vaccination = _read_table(VACCINATION_TABLES[DEFAULT_VACCINATION])

    def column(rows, key, dtype=float):
        return np.array([dtype(row[key]) for row in rows])

    def normalised(values):
        return values / values.sum()

    age_low, age_high = column(ages, "age_low", int), column(ages, "age_high", int)
    age_share = normalised(column(ages, "share"))
    household_size = column(households, "size", int)
    household_share = normalised(column(households, "share"))
    if city != BASE_CITY:
        profile = city_profile(city)
        age_share = rake_age_shares(age_low, age_high, age_share, profile)
        if profile.family_household_mean_size is not None:
            household_share = tilt_household_shares(household_size, household_share, profile.family_household_mean_size)

    sector_order = [row["sector"] for row in sectors]
    unknown = set(sector_order) - set(WORK_SECTOR_CODE)
    if unknown:
        raise ScenarioError(f"sectors.csv: unknown sector {sorted(unknown)[0]!r}; use {sorted(WORK_SECTOR_CODE)}")
    return CityTables(
        district_names=tuple(row["district_en"] for row in districts),
        district_population=column(districts, "population"),
        district_subdistricts=column(districts, "subdistrict_count", int),
        age_low=age_low,
        age_high=age_high,
        age_share=age_share,
        household_size=household_size,
        household_share=household_share,
        sector_names=tuple(sector_order),
        sector_share=normalised(column(sectors, "employment_share")),
        sector_size_mean=column(sectors, "workplace_size_mean"),
        sector_size_sd=column(sectors, "workplace_size_sd"),
        employment_low=column(employment, "age_low", int),
        employment_high=column(employment, "age_high", int),
        employment_rate=column(employment, "employment_rate"),
        school_types=tuple(row["school_type"] for row in schools),
        school_age_low=column(schools, "age_low", int),
        school_age_high=column(schools, "age_high", int),
        school_enrollment=column(schools, "enrollment_rate"),
        school_size=column(schools, "mean_size"),
        vaccine_low=column(vaccination, "age_low", int),
        vaccine_high=column(vaccination, "age_high", int),
        vaccine_shares=np.array(
            [
                normalised(np.array([float(row[k]) for k in ("share_0_doses", "share_1_dose", "share_2_doses", "share_3_doses")]))
                for row in vaccination
            ]
        ),
    )


# -- memory -------------------------------------------------------------------------------------
def estimate_build_bytes(size: int) -> int:
    """Peak bytes to build and run a city of ``size`` agents (runtime + state + what a run adds)."""
    return size * (bytes_per_agent() + RUN_OVERHEAD_BYTES_PER_AGENT) + RUNTIME_BASE_BYTES


def available_memory_bytes() -> int:
    """Physical memory currently available (Linux ``MemAvailable``; sysconf elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_fits_in_memory(size: int, available: int | None = None) -> None:
    """Raise ScenarioError naming the largest population that fits if ``size`` does not."""
    available = available_memory_bytes() if available is None else available
    needed = estimate_build_bytes(size)
    if needed > available:
        largest = int(max(available - RUNTIME_BASE_BYTES, 0) // (bytes_per_agent() + RUN_OVERHEAD_BYTES_PER_AGENT))
        raise ScenarioError(
            f"population.size: {size:,} people need about {needed / 2**30:.1f} GiB but {available / 2**30:.1f} GiB "
            f"is available; use --population {largest:,} or less"
        )


# -- helpers -------------------------------------------------------------------------------------
def unit_sizes(city: str, size: int) -> dict[str, tuple[float, float]]:
    """Mean residents of a district and of a subdistrict: (in a city of ``size`` people, in the real
    city), by the rules the build follows (districts keep their count, subdistricts their real mean
    size, at least one per district). No random draw: for notes and checks before or after a build."""
    tables = city_tables(city)
    people = _apportion(size, tables.district_population)
    real_mean = tables.district_population / np.maximum(tables.district_subdistricts, 1)
    subdistricts = np.maximum(1, np.rint(people / real_mean)).sum()
    real = float(tables.district_population.sum())
    return {"district": (size / people.size, real / people.size),
            "subdistrict": (size / float(subdistricts), real / float(np.maximum(tables.district_subdistricts, 1).sum()))}


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total`` (largest remainder)."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = total - counts.sum()
    if remainder > 0:
        counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return counts


def _cut_points(unit_sizes: np.ndarray, target_sizes: np.ndarray) -> np.ndarray:
    """Group consecutive units into blocks of about ``target_sizes``: start index of each block.

    ``unit_sizes`` (n,) are e.g. residents per household; returns sorted start indices into
    0..n-1 beginning with 0 (each block holds at least one unit).
    """
    cumulative = np.cumsum(unit_sizes)
    boundaries = np.searchsorted(cumulative, np.cumsum(target_sizes), side="left") + 1
    boundaries = boundaries[boundaries < unit_sizes.size]
    return np.unique(np.concatenate(([0], boundaries)))


def _starts_from_labels(labels: np.ndarray, count: int) -> np.ndarray:
    """Offsets (count + 1,) of contiguous runs of sorted integer ``labels`` 0..count-1."""
    starts = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(labels, minlength=count), out=starts[1:])
    return starts


def _group_starts(unit_label: np.ndarray, unit_start: np.ndarray, count: int) -> np.ndarray:
    """Agent offsets (count + 1,) int64 of groups made of consecutive units (e.g. buildings of households).

    ``unit_label`` (units,) is sorted and takes every value 0..count-1; ``unit_start`` (units + 1,)
    int64 are the units' own agent offsets. Same result as ``_starts_from_labels`` on the per-agent
    labels, without an agent-sized array.
    """
    return unit_start[np.searchsorted(unit_label, np.arange(count + 1))]


def _csr(labels: np.ndarray, members: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(labels, kind="stable")
    return _starts_from_labels(labels, count), members[order].astype(np.int32)


#: Agents per slice when a per-agent step runs in slices: bounds the float64 / intp temporaries to
#: a few MiB. Random draws are taken slice after slice from the same Generator, which gives the same
#: numbers as one call for all agents (the draws are sequential), so the slice size never changes a city.
CHUNK_AGENTS = 1 << 20


def _chunks(size: int):
    """``(start, stop)`` of consecutive slices of ``range(size)``, CHUNK_AGENTS long."""
    for start in range(0, size, CHUNK_AGENTS):
        yield start, min(size, start + CHUNK_AGENTS)


# -- the generator -------------------------------------------------------------------------------
def build_population(config: PopulationConfig, seed: int, check_memory: bool = True) -> PopulationState:
    """Generate a synthetic city of ``config.size`` people.

    Memory: every per-agent array is written once, in its schema dtype, and adopted by the state
    (no copy); the arrays the run fills later (disease, policy, ledger) are allocated last, when the
    build's temporaries are gone, so the peak is about the finished state.

    Parameters
    ----------
    config : PopulationConfig
    seed : int
        The population gets its own random stream derived from the scenario seed.
    check_memory : bool
        Refuse (ScenarioError) before allocating if the city will not fit in available memory.

    Returns
    -------
    PopulationState
        Every schema array allocated; residential, school and work assignments filled in.
    """
    if check_memory:
        check_fits_in_memory(config.size)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x504F50,)))  # "POP"
    tables = city_tables(config.city)
    n = config.size

    # 1. People per district, scaled from the real district populations.
    district_people = _apportion(n, tables.district_population)

    # 2. Households per district (sizes from the census table), truncated to fill each exactly.
    hh_size, hh_district = _draw_households(rng, tables, district_people)
    households = hh_size.size

    # 3. Buildings, compounds and subdistricts: consecutive households cut into blocks, per district.
    hh_building, hh_compound, compound_subdistrict, subdistrict_district = _cut_residences(
        rng, config, tables, district_people, hh_size, hh_district
    )
    del hh_district
    buildings, compounds = int(hh_building[-1]) + 1, int(hh_compound[-1]) + 1
    subdistricts = int(compound_subdistrict[-1]) + 1

    # Per-agent residence ids in their schema dtypes: each unit is a run of consecutive agents.
    household_start = np.zeros(households + 1, dtype=np.int64)
    np.cumsum(hh_size, out=household_start[1:])
    household_id = np.repeat(np.arange(households, dtype=np.int32), hh_size)
    building_id = np.repeat(hh_building, hh_size)
    compound_id = np.repeat(hh_compound, hh_size)
    compound_start = _group_starts(hh_compound, household_start, compounds)
    district_start = np.zeros(district_people.size + 1, dtype=np.int64)
    np.cumsum(district_people, out=district_start[1:])
    groups = GroupIndex(
        household_start=household_start,
        building_start=_group_starts(hh_building, household_start, buildings),
        compound_start=compound_start,
        subdistrict_start=_group_starts(compound_subdistrict, compound_start, subdistricts),
        district_start=district_start,
        workplace_offsets=np.zeros(1, dtype=np.int64),
        workplace_members=np.zeros(0, dtype=np.int32),
        workplace_sector=np.zeros(0, dtype=np.int8),
        workplace_district=np.zeros(0, dtype=np.int8),
        school_offsets=np.zeros(1, dtype=np.int64),
        school_members=np.zeros(0, dtype=np.int32),
        school_sector=np.zeros(0, dtype=np.int8),
        compound_subdistrict=compound_subdistrict.astype(np.int16),
        subdistrict_district=subdistrict_district,
    )
    del hh_building, hh_compound, hh_size
    subdistrict_id = np.repeat(groups.compound_subdistrict, np.diff(compound_start))
    district_id = np.repeat(np.arange(district_people.size, dtype=np.int8), district_people)
    position = _household_slots(household_start, household_id)

    # 4. Ages: sampled from the pyramid (exact marginal), then matched to household roles by rank.
    age = _match_ages(rng, tables, households, household_id, position)

    # 5. Sex: the partner of a household head has the other sex.
    sex = _draw_sex(rng, config.male_fraction, position)
    del position

    # 6. School and work.
    sector = np.zeros(n, dtype=np.int8)
    school_id = np.full(n, NO_GROUP, dtype=np.int32)
    workplace_id = np.full(n, NO_GROUP, dtype=np.int32)
    _assign_schools(rng, tables, age, subdistrict_id, sector, school_id, groups)
    _assign_work(rng, tables, config, age, district_id, district_people, sector, school_id, workplace_id, groups)

    # 7. Vaccination by age band.
    doses, day_last_dose = _vaccinate(rng, tables, config, age)

    # The build's temporaries are gone: give their memory back before the run's own arrays are allocated.
    release_freed_memory()
    filled = {
        "age": age,
        "sex": sex,
        "household_id": household_id,
        "building_id": building_id,
        "compound_id": compound_id,
        "subdistrict_id": subdistrict_id,
        "district_id": district_id,
        "workplace_id": workplace_id,
        "school_id": school_id,
        "sector": sector,
        "vaccine_doses": doses,
        "day_last_dose": day_last_dose,
    }
    state = PopulationState(n, groups, tables.district_names, filled=filled)
    sizes = unit_sizes(config.city, n)
    state.real_residents = {unit: real for unit, (_, real) in sizes.items()}  # the real city's mean unit sizes
    return state


def _draw_households(rng, tables: CityTables, district_people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Household sizes (households,) int64 and their districts (households,) int8, district after district."""
    mean_household = float((tables.household_size * tables.household_share).sum())
    household_sizes: list[np.ndarray] = []
    household_district: list[np.ndarray] = []
    for d, people in enumerate(district_people):
        if people == 0:
            continue
        draws = rng.choice(tables.household_size, size=int(people / mean_household * 1.1) + 10, p=tables.household_share)
        while draws.sum() < people:  # rare (small districts): 10 % more households than the mean needs fell short
            more = rng.choice(tables.household_size, size=int(people / mean_household * 0.1) + 10, p=tables.household_share)
            draws = np.concatenate([draws, more])
        cumulative = np.cumsum(draws)
        last = int(np.searchsorted(cumulative, people))
        sizes = draws[: last + 1].copy()
        sizes[-1] -= cumulative[last] - people
        household_sizes.append(sizes)
        household_district.append(np.full(sizes.size, d, dtype=np.int8))
    return np.concatenate(household_sizes).astype(np.int64), np.concatenate(household_district)


def _cut_residences(
    rng,
    config: PopulationConfig,
    tables: CityTables,
    district_people: np.ndarray,
    hh_size: np.ndarray,
    hh_district: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut each district's consecutive households into compounds and buildings, and its compounds into subdistricts.

    Returns
    -------
    hh_building, hh_compound : np.ndarray, shape (households,), int32
        Building and compound of each household, numbered from 0 along the households.
    compound_subdistrict : np.ndarray, shape (compounds,), int64
        Subdistrict of each compound, numbered from 0 along the compounds.
    subdistrict_district : np.ndarray, shape (subdistricts,), int8
    """
    real_mean_subdistrict = tables.district_population / np.maximum(tables.district_subdistricts, 1)
    households = hh_size.size
    hh_building = np.empty(households, dtype=np.int32)
    hh_compound = np.empty(households, dtype=np.int32)
    compound_subdistrict_parts: list[np.ndarray] = []
    subdistrict_district_parts: list[int] = []
    hh_offset = 0
    buildings = compounds = subdistricts = 0
    for d, people in enumerate(district_people):
        count = int((hh_district == d).sum()) if people else 0
        if count == 0:
            continue
        sizes = hh_size[hh_offset : hh_offset + count]
        # Compounds: resident totals uniform between the configured bounds.
        targets = rng.integers(config.compound_residents_min, config.compound_residents_max + 1, size=count)
        compound_starts = _cut_points(sizes, targets)
        compound_label = np.zeros(count, dtype=np.int64)
        compound_label[compound_starts[1:]] = 1
        compound_label = np.cumsum(compound_label)
        # Buildings: household counts log-normal, never crossing a compound boundary.
        building_targets = np.maximum(
            1, np.rint(lognormal(rng, config.building_households_mean, config.building_households_sd, count))
        )
        building_starts = _cut_points(np.ones(count), building_targets)
        building_break = np.zeros(count, dtype=np.int64)
        building_break[building_starts[1:]] = 1
        building_break[compound_starts[1:]] = 1
        building_label = np.cumsum(building_break)
        # Subdistricts: about the real mean size (the real count at full scale).
        n_compounds = int(compound_label[-1]) + 1
        n_sub = max(1, int(round(people / real_mean_subdistrict[d])))
        n_sub = min(n_sub, n_compounds)
        compound_people = np.bincount(compound_label, weights=sizes, minlength=n_compounds)
        sub_starts = _cut_points(compound_people, np.full(n_sub, people / n_sub))
        sub_label = np.zeros(n_compounds, dtype=np.int64)
        sub_label[sub_starts[1:]] = 1
        sub_label = np.cumsum(sub_label)
        hh_building[hh_offset : hh_offset + count] = buildings + building_label
        hh_compound[hh_offset : hh_offset + count] = compounds + compound_label
        compound_subdistrict_parts.append(subdistricts + sub_label)
        subdistrict_district_parts.extend([d] * (int(sub_label[-1]) + 1))
        buildings += int(building_label[-1]) + 1
        compounds += n_compounds
        subdistricts += int(sub_label[-1]) + 1
        hh_offset += count
    subdistrict_district = np.asarray(subdistrict_district_parts, dtype=np.int8)
    return hh_building, hh_compound, np.concatenate(compound_subdistrict_parts), subdistrict_district


def _household_slots(household_start: np.ndarray, household_id: np.ndarray) -> np.ndarray:
    """Slot of each agent in its household, 0 = reference person: (n,) int16."""
    position = np.empty(household_id.size, dtype=np.int16)
    for lo, hi in _chunks(household_id.size):
        position[lo:hi] = np.arange(lo, hi) - household_start[household_id[lo:hi]]
    return position


def _match_ages(
    rng, tables: CityTables, household_count: int, household_id: np.ndarray, position: np.ndarray
) -> np.ndarray:
    """Ages (n,) uint8: sampled from the pyramid, the slot of rank k by desired age gets the k-th smallest."""
    n = position.size
    age_count = np.zeros(101, dtype=np.int64)
    age_probabilities = tables.age_probabilities()
    for lo, hi in _chunks(n):
        age_count += np.bincount(rng.choice(101, size=hi - lo, p=age_probabilities), minlength=101)
    desired = _desired_ages(rng, household_count, household_id, position)
    order_slots = np.argsort(desired, kind="stable")
    del desired
    rank_start = np.concatenate(([0], np.cumsum(age_count)))
    age = np.empty(n, dtype=np.uint8)
    for years in range(101):
        age[order_slots[rank_start[years] : rank_start[years + 1]]] = years
    return age


def _draw_sex(rng, male_fraction: float, position: np.ndarray) -> np.ndarray:
    """Sex codes (n,) int8: male with ``male_fraction``, except that a partner (slot 1) is the head's opposite."""
    sex = np.empty(position.size, dtype=np.int8)
    for lo, hi in _chunks(position.size):
        sex[lo:hi] = rng.random(hi - lo) < male_fraction
        partner = lo + np.flatnonzero(position[lo:hi] == 1)
        sex[partner] = 1 - sex[partner - 1]  # the head (slot 0) precedes its partner, in this slice or the last
    return sex


def _vaccinate(rng, tables: CityTables, config: PopulationConfig, age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vaccine doses (n,) int8 by age band, and the day of the last dose (n,) int16 (-32768 if none)."""
    n = age.size
    doses = np.zeros(n, dtype=np.int8)
    day_last_dose = np.full(n, -32768, dtype=np.int16)
    if not config.vaccinate:
        return doses, day_last_dose
    for low, high, shares in zip(*vaccination_table(config.vaccination)):
        for lo, hi in _chunks(n):
            members = lo + np.flatnonzero((age[lo:hi] >= low) & (age[lo:hi] <= high))
            doses[members] = rng.choice(4, size=members.size, p=shares)
    for lo, hi in _chunks(n):
        vaccinated = lo + np.flatnonzero(doses[lo:hi] > 0)
        day_last_dose[vaccinated] = -rng.integers(
            config.last_dose_days_before_start_min, config.last_dose_days_before_start_max + 1, size=vaccinated.size
        )
    return doses, day_last_dose


def _desired_ages(
    rng: np.random.Generator, household_count: int, household_id: np.ndarray, position: np.ndarray
) -> np.ndarray:
    """A rough target age for each household slot, used only to rank slots against sampled ages.

    Slot 0 is the reference person, slot 1 a partner of similar age, slots 2-3 children a
    generation younger, slots 4+ a generation older (three-generation households). The targets are
    an ASSUMPTION shaping household composition; the age marginal comes from the census table.

    Parameters
    ----------
    rng : numpy Generator
    household_count : int
    household_id : np.ndarray, shape (n,), int32
    position : np.ndarray, shape (n,), int16
        Slot of each agent in its household.

    Returns
    -------
    np.ndarray, shape (n,), float64
        Household head's age (uniform 26-90) shifted by role, plus normal noise (sd 2 for slots 0-1, 4 after).
    """
    head = rng.uniform(26, 90, size=household_count)
    desired = np.empty(position.size)
    # Draw order: the noise of every slot, then the generation gap of every slot.
    for lo, hi in _chunks(position.size):
        desired[lo:hi] = rng.normal(0, np.where(position[lo:hi] <= 1, 2.0, 4.0))
    for lo, hi in _chunks(position.size):
        slot = position[lo:hi]
        head_age = head[household_id[lo:hi]]
        generation = rng.uniform(24, 34, size=hi - lo)
        target = np.where(slot == 0, head_age, 0.0)
        target = np.where(slot == 1, head_age - 1.5, target)
        target = np.where((slot == 2) | (slot == 3), head_age - generation, target)
        target = np.where(slot >= 4, head_age + generation, target)
        desired[lo:hi] += target  # noise + target
    return desired


def _assign_schools(rng, tables, age, subdistrict_id, sector, school_id, groups: GroupIndex) -> None:
    """Enrol children by age and rate into schools of their own subdistrict, of about mean size."""
    labels: list[np.ndarray] = []
    members: list[np.ndarray] = []
    school_sectors: list[np.ndarray] = []
    next_id = 0
    for kind, low, high, rate, size in zip(
        tables.school_types, tables.school_age_low, tables.school_age_high, tables.school_enrollment, tables.school_size
    ):
        code = SCHOOL_TYPE_SECTOR[kind]
        pupils = np.flatnonzero((age >= low) & (age <= high))
        pupils = pupils[rng.random(pupils.size) < rate]
        if pupils.size == 0:
            continue
        sub = subdistrict_id[pupils].astype(np.int64)  # pupils are sorted by residence
        first = np.searchsorted(sub, sub, side="left")
        rank = np.arange(pupils.size) - first
        per_sub = np.bincount(sub, minlength=groups.subdistrict_count)
        schools_per_sub = np.maximum(1, np.rint(per_sub / size)).astype(np.int64)
        local = (rank * schools_per_sub[sub]) // np.maximum(per_sub[sub], 1)
        offsets = np.zeros(groups.subdistrict_count + 1, dtype=np.int64)
        np.cumsum(np.where(per_sub > 0, schools_per_sub, 0), out=offsets[1:])
        ids = next_id + offsets[sub] + local
        school_id[pupils] = ids
        sector[pupils] = code
        count = int(offsets[-1])
        school_sectors.append(np.full(count, code, dtype=np.int8))
        labels.append(ids)
        members.append(pupils)
        next_id += count
    if next_id:
        groups.school_offsets, groups.school_members = _csr(np.concatenate(labels), np.concatenate(members), next_id)
        groups.school_sector = np.concatenate(school_sectors)


def _assign_work(
    rng, tables, config, age, district_id, district_people, sector, school_id, workplace_id, groups: GroupIndex
) -> None:
    """Employ adults by age-specific rates, give each a sector, and group them into workplaces.

    A worker works in the home district with probability ``local_work_fraction``, otherwise in a
    district drawn in proportion to population; workers of one sector and district are cut into
    workplaces whose sizes follow the sector's log-normal size distribution.
    """
    n = age.size
    employed = np.zeros(n, dtype=bool)
    for low, high, rate in zip(tables.employment_low, tables.employment_high, tables.employment_rate):
        for lo, hi in _chunks(n):
            band = lo + np.flatnonzero((age[lo:hi] >= low) & (age[lo:hi] <= high) & (school_id[lo:hi] < 0))
            employed[band] = rng.random(band.size) < rate
    workers = np.flatnonzero(employed)
    del employed
    if workers.size == 0:
        return
    codes = np.array([WORK_SECTOR_CODE[name] for name in tables.sector_names], dtype=np.int8)
    districts = district_people.size
    # Draw order: every worker's sector, then whether each works locally, then a district for each.
    choice = np.empty(workers.size, dtype=np.int8)  # index into codes
    for lo, hi in _chunks(workers.size):
        choice[lo:hi] = rng.choice(codes.size, size=hi - lo, p=tables.sector_share)
        sector[workers[lo:hi]] = codes[choice[lo:hi]]
    is_local = np.empty(workers.size, dtype=bool)
    for lo, hi in _chunks(workers.size):
        is_local[lo:hi] = rng.random(hi - lo) < config.local_work_fraction
    district_share = district_people / district_people.sum()
    key_count = codes.size * districts
    key = np.empty(workers.size, dtype=np.int32)  # sector choice * districts + work district
    key_counts = np.zeros(key_count, dtype=np.int64)
    for lo, hi in _chunks(workers.size):
        anywhere = rng.choice(districts, size=hi - lo, p=district_share)
        work_district = np.where(is_local[lo:hi], district_id[workers[lo:hi]], anywhere)
        key[lo:hi] = choice[lo:hi].astype(np.int64) * districts + work_district
        key_counts += np.bincount(key[lo:hi], minlength=key_count)
    del choice, is_local
    # Workers grouped by key, in agent order within a key (a stable sort, by counting).
    sorted_workers = workers[stable_order_by_key(key, key_count)]
    del workers, key
    bounds = np.concatenate(([0], np.cumsum(key_counts)))
    # Each key's workers are cut into workplaces: ids rise along sorted_workers, so sorted_workers is
    # already the CSR member list and each workplace starts where its cut starts.
    labels = np.empty(sorted_workers.size, dtype=np.int32)
    workplace_starts: list[np.ndarray] = []
    workplace_sector: list[np.ndarray] = []
    workplace_district: list[np.ndarray] = []
    next_id = 0
    for k in range(key_count):
        lo, hi = bounds[k], bounds[k + 1]
        if hi == lo:
            continue
        s = k // districts
        mean, sd = tables.sector_size_mean[s], tables.sector_size_sd[s]
        sizes = np.maximum(1, np.rint(lognormal(rng, mean, sd, int((hi - lo) / mean) + 10)))
        starts = _cut_points(np.ones(hi - lo), sizes)
        local = np.zeros(hi - lo, dtype=np.int64)
        local[starts[1:]] = 1
        local = np.cumsum(local)
        count = int(local[-1]) + 1
        labels[lo:hi] = next_id + local
        workplace_starts.append(lo + starts)
        workplace_sector.append(np.full(count, codes[s], dtype=np.int8))
        workplace_district.append(np.full(count, k % districts, dtype=np.int8))
        next_id += count
    workplace_id[sorted_workers] = labels
    del labels
    workplace_starts.append(np.array([sorted_workers.size]))
    groups.workplace_offsets = np.concatenate(workplace_starts).astype(np.int64)
    groups.workplace_members = sorted_workers.astype(np.int32)
    groups.workplace_sector = np.concatenate(workplace_sector)
    groups.workplace_district = np.concatenate(workplace_district)
