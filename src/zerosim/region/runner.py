"""Region layer: several cities stepped in lockstep, with travellers moving between them.

Layer ``region`` -- imports ``api`` (to build each city as an ordinary zerosim run), ``io``, the
population state and policy helpers. The single-city engine knows nothing of regions: each city is
a plain :class:`~zerosim.engine.simulation.Simulation`, and everything about travel happens here,
between two days.

A day of the region: every city runs its own day (behaviour -> policy -> transmission -> disease
-> ledger, recorded as usual); then the **exchange** moves people for the next day:

1. **Returns.** Visitors whose stay is over go home if they can: alive, not in hospital, not
   isolated or quarantined, free to go out (no sealed zone), green code, no test pending, the city
   they are in not sealed (``outbound_ban_when_sealed``), their home open to them (not sealed,
   not refusing returning residents) and a negative pre-departure test if home demands one. Those
   who cannot stay: *stranded* (counted every day beyond the planned stay). Their state row is
   copied back home; the slot is parked and freed (FIFO, so a slot is reused as late as possible).
2. **Departures.** On each line (origin, destination, mode) Poisson(visits a day x origin scale)
   residents leave, drawn uniformly among those eligible (the same conditions). A sealed origin
   sends nobody; a sealed destination receives nobody; a destination banning the origin turns the
   trip away, or -- if a diversion is set for that destination and mode -- the passengers are
   unloaded at the diversion city, tested and quarantined there (``diverted``). A pre-departure
   test (48/72 h) that comes back positive cancels the trip and makes the traveller a case at home.
3. **Arrivals.** Each traveller's row is copied into a free visitor slot of the destination
   (``slots.move_in``) and the home row is parked; its infectiousness is multiplied by the ratio of
   the two cities' scales (a traveller stands for 1/scale people at home). Arrival rules apply: a
   PCR on arrival (a positive becomes a case of that city the next day) and central then home
   quarantine.
4. **Importation** from outside the region: Poisson(arrivals a day x city scale) people arrive into
   visitor slots, infected with the given prevalence (0-5 days before), tested and quarantined.
5. **Quarantine.** Each city's travel screening sets tomorrow's arrival-quarantine statuses.

The runner writes no per-agent array itself. Moving people between rows is the exchange's
(``slots.py``: what travels, what a newcomer starts afresh, parked rows, counts); tests and
quarantines are the city's travel screening component's (``screening.py``), which asks the owners
(testing, tracing, confinement) or stands in for those the city does not run; infections from
outside are recorded by the city's transmission and disease components. ``tests/test_region_writes.py``
checks it.

Counts are de facto: a city's compartment counts, infections and deaths include its visitors and
exclude its residents away; its summary population is its residents.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zerosim.disease.components import scale_infectiousness
from zerosim.engine.rng import component_rng
from zerosim.errors import ScenarioError
from zerosim.io.scenario import Scenario
from zerosim.population.state import (
    NEVER,
    Compartment,
    HealthCode,
    IsolationStatus,
    Mobility,
    PopulationState,
    QuarantineStatus,
    TestResult,
    ZoneLevel,
    bytes_per_agent,
)
from zerosim.region.config import CaseTrigger, CityConfig, RegionScenario
from zerosim.region.screening import TravelScreening, TravelScreeningConfig
from zerosim.region.slots import (
    arrive_from_outside,
    exclude_empty_slots,
    move_home,
    move_in,
    slot_unit_bytes,
    vacate,
    with_visitor_slots,
)

# slot flags
OCCUPIED, DIVERTED, IMPORTED, DIED, INTERNATIONAL_QUARANTINE = 1, 2, 4, 8, 16
#: Bytes of the runner's own bookkeeping per visitor slot (home city, home row, origin, intended
#: destination, arrival and leave days, flags, weight, quarantine end days, free-list entry).
SLOT_METADATA_BYTES = 1 + 4 + 1 + 1 + 2 + 2 + 1 + 4 + 2 + 2 + 4
#: State bytes per resident beyond the schema (group indexes, per-unit arrays, event buffer):
#: 107 - 96 measured at 25 M with containment (docs/performance.md).
RESIDENT_OVERHEAD_BYTES = 11


# -- resolving the cities ---------------------------------------------------------------------------
def _available_population_tables() -> tuple[str, ...]:
    from zerosim.population import config as population_config

    finder = getattr(population_config, "available_cities", None)
    return tuple(finder()) if finder is not None else ("shanghai",)


def city_key(name: str) -> str:
    """'Xi'an' / 'Xian' -> 'xian': the key of a city's district table."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def census_population(name: str) -> int | None:
    from zerosim.region.travel import city_table

    table = city_table()
    match = table[table["city"].map(city_key) == city_key(name)]
    return int(match["population_2020"].iloc[0]) if len(match) else None


@dataclass(frozen=True)
class ResolvedCity:
    """A city of the region with its resolved single-city scenario."""

    index: int
    config: CityConfig
    scenario: Scenario
    real_population: int
    scale: float
    population_table: str
    population_table_is_stand_in: bool


def _load_city_scenario(config: CityConfig, overrides: dict[str, Any]) -> Scenario:
    from zerosim.io.scenario import apply_overrides, load_raw, load_scenario, merge_mapping

    if isinstance(config.scenario, str):
        return load_scenario(config.scenario, overrides)
    data = copy.deepcopy(config.scenario)
    parent = data.pop("extends", None)
    if parent is not None:
        data = merge_mapping(load_raw(str(parent)), data)
    data.setdefault("name", config.name)
    return apply_overrides(data, overrides)


def resolve_cities(region: RegionScenario) -> list[ResolvedCity]:
    """Each city's single-city scenario: its scenario with the region's days, start date, its seed,
    size (real population x scale) and district table. Running one of these alone gives exactly the
    city's run in the region when there is no travel."""
    tables = _available_population_tables()
    reals = []
    for index, city in enumerate(region.cities):
        real = city.real_population or census_population(city.name) or city.population_size  # else: full scale
        if real is None:
            raise ScenarioError(f"cities.{index}.real_population: no census figure is shipped for {city.name!r}; "
                                f"give real_population (or population_size)")
        reals.append(int(real))
    sizes = []
    for city, real in zip(region.cities, reals):
        if city.population_size is not None:
            sizes.append(float(city.population_size))
        else:
            scale = city.scale_fraction if city.scale_fraction is not None else region.scale_fraction
            sizes.append(real * scale)
    if region.population_total is not None:
        if region.population_total > sum(reals):
            raise ScenarioError(f"population_total: {region.population_total:,} people asked (--population) but the "
                                f"region's cities have {sum(reals):,} people in all and none runs beyond its real "
                                f"population; give --population {sum(reals):,} or less")
        # every city rescaled by one factor (relative scales kept), never beyond its real population
        factor = region.population_total / sum(sizes)
        sizes = [min(float(real), size * factor) for size, real in zip(sizes, reals)]
    resolved = []
    for index, (city, real, exact) in enumerate(zip(region.cities, reals, sizes)):
        size = max(100, round(exact))
        overrides: dict[str, Any] = dict(city.overrides)
        key = city.population_city or (city_key(city.name) if city_key(city.name) in tables else None)
        if key is not None and "population.city" not in city.overrides:
            overrides["population.city"] = key
        overrides.update({"population.size": size, "duration_days": region.duration_days,
                          "seed": region.city_seed(city)})
        overrides.setdefault("name", city.name)
        if region.start_date is not None:
            overrides["start_date"] = region.start_date.isoformat()
        try:
            scenario = _load_city_scenario(city, overrides)
        except ScenarioError as error:
            raise ScenarioError(f"cities.{index}.scenario ({city.name}): {error}") from None
        table = scenario.population.city
        resolved.append(ResolvedCity(index, city, scenario, int(real), size / real, table,
                                     city_key(table) != city_key(city.name)))
    return resolved


def city_scenarios(region: RegionScenario) -> dict[str, Scenario]:
    """name -> resolved single-city scenario (what :func:`zerosim.run` would run for that city alone)."""
    return {city.config.name: city.scenario for city in resolve_cities(region)}


# -- lines --------------------------------------------------------------------------------------------
@dataclass
class Line:
    origin: int
    destination: int
    mode: str
    trips_per_day: float  # real one-way trips a day
    source: str
    rng: np.random.Generator = field(repr=False, default=None)

    @property
    def key(self) -> str:
        return f"{self.origin}>{self.destination}:{self.mode}"


def build_lines(region: RegionScenario, names: list[str]) -> list[Line]:
    """The region's lines: the shipped matrix between its cities (if asked), then the scenario's own
    lines replacing or adding (origin, destination, mode)."""
    from zerosim.region.travel import shipped_travel_table

    index = {city_key(name): k for k, name in enumerate(names)}
    volumes: dict[tuple[int, int, str], tuple[float, str]] = {}
    if region.travel.shipped_lines:
        table = shipped_travel_table()
        for row in table.itertuples(index=False):
            o, d = index.get(city_key(row.origin)), index.get(city_key(row.destination))
            if o is not None and d is not None:
                volumes[(o, d, row.mode)] = (float(row.trips_per_day), f"data/travel.csv: {row.source}")
    for line in region.travel.lines:
        volumes[(names.index(line.origin), names.index(line.destination), line.mode)] = (
            line.trips_per_day, line.source or "scenario")
    lines = []
    for (o, d, mode), (trips, source) in sorted(volumes.items()):
        line = Line(o, d, mode, trips * region.travel.volume_multiplier, source)
        line.rng = component_rng(region.seed, f"region-line:{names[o]}>{names[d]}:{mode}")
        lines.append(line)
    return lines


# -- per-city run ---------------------------------------------------------------------------------------
class FreeSlots:
    """FIFO of free slot indices (a ring buffer), so a freed slot is reused as late as possible."""

    def __init__(self, count: int):
        self.buffer = np.arange(count, dtype=np.int32)
        self.head = 0
        self.count = count

    def take(self, k: int) -> np.ndarray:
        k = min(k, self.count)
        size = self.buffer.size
        idx = (self.head + np.arange(k)) % max(size, 1)
        out = self.buffer[idx].astype(np.int64)
        self.head = (self.head + k) % max(size, 1)
        self.count -= k
        return out

    def give(self, slots: np.ndarray) -> None:
        size = self.buffer.size
        idx = (self.head + self.count + np.arange(slots.size)) % max(size, 1)
        self.buffer[idx] = slots
        self.count += slots.size


@dataclass(eq=False)
class CityRun:
    """One city of a running region: its simulation and its visitor slots."""

    resolved: ResolvedCity
    simulation: Any
    residents: int
    slots: int
    timing: dict
    free: FreeSlots = None
    home_city: np.ndarray = None
    home_row: np.ndarray = None
    origin: np.ndarray = None
    intended: np.ndarray = None
    arrival: np.ndarray = None
    leave: np.ndarray = None
    flags: np.ndarray = None
    weight: np.ndarray = None

    def __post_init__(self) -> None:
        v = self.slots
        self.free = FreeSlots(v)
        self.home_city = np.full(v, -1, dtype=np.int8)
        self.home_row = np.full(v, -1, dtype=np.int32)
        self.origin = np.full(v, -1, dtype=np.int8)
        self.intended = np.full(v, -1, dtype=np.int8)
        self.arrival = np.full(v, NEVER, dtype=np.int16)
        self.leave = np.full(v, NEVER, dtype=np.int16)
        self.flags = np.zeros(v, dtype=np.int8)
        self.weight = np.ones(v, dtype=np.float32)

    @property
    def name(self) -> str:
        return self.resolved.config.name

    @property
    def state(self) -> PopulationState:
        return self.simulation.state

    @property
    def scale(self) -> float:
        return self.resolved.scale

    @property
    def screening(self) -> TravelScreening:
        """The city's travel screening component (tests and arrival quarantine)."""
        return self.simulation.find(TravelScreening.kind)

    def metadata_bytes(self) -> int:
        return self.slots * SLOT_METADATA_BYTES


# -- the region ---------------------------------------------------------------------------------------------
class Region:
    """Builds one Simulation per city (with visitor slots) and steps them in lockstep with travel.

    Parameters
    ----------
    scenario : RegionScenario
    on_phase : callable, optional
        Progress callback ("building Beijing", ...).
    """

    def __init__(self, scenario: RegionScenario, on_phase: Callable[[str], None] | None = None):
        from zerosim.api import build
        from zerosim.population.synthesis import build_population, check_fits_in_memory

        self.scenario = scenario
        self.resolved = resolve_cities(scenario)
        self.names = [city.config.name for city in self.resolved]
        self.lines = build_lines(scenario, self.names)
        slots = self.visitor_slots()
        check_fits_in_memory(sum(c.scenario.population.size + s for c, s in zip(self.resolved, slots)))
        self.cities: list[CityRun] = []
        for city, v in zip(self.resolved, slots):
            if on_phase:
                on_phase(f"building {city.config.name}")
            started = time.perf_counter()
            residents = build_population(city.scenario.population, city.scenario.seed)
            rates = None
            if v:
                from zerosim.transmission.components import layer_rates

                rates = layer_rates(city.scenario.transmission, city.scenario.disease.resolve(), residents)
            state = with_visitor_slots(residents, v, component_rng(scenario.seed, f"region-slots:{city.config.name}"))
            n = residents.size
            del residents
            screening = self.screening_config(city.scenario)
            simulation = build(city.scenario, population=state,
                               extra=lambda kinds, config=screening: [TravelScreening.for_city(config, kinds)])
            simulation.setup()
            if v:
                self._after_setup(simulation, n, v, rates)
            timing = {"build_seconds": time.perf_counter() - started, "simulation_seconds": 0.0}
            self.cities.append(CityRun(city, simulation, n, v, timing))
        if scenario.costs.test_cny is not None:
            self.test_cny = scenario.costs.test_cny
        else:
            from zerosim.ledger.config import default_ledger

            self.test_cny = default_ledger().testing.cny_per_single_tube
        self.test_rng = component_rng(scenario.seed, "region-tests")
        self.import_rngs = [component_rng(scenario.seed, f"region-import:{k}:{item.city}")
                            for k, item in enumerate(scenario.importation)]
        self.records: list[dict] = []
        self.flows: list[dict] = []
        self.events: list[dict] = []
        self.days_done = 0
        self._today: dict[int, dict] = {}
        self.totals = {key: 0.0 for key in TOTAL_KEYS}

    # -- set-up ---------------------------------------------------------------------------------------
    def visitor_slots(self) -> list[int]:
        """Visitor rows per city: the scenario's, or 1.3 x the expected number of visitors present
        (inbound agents a day x (mean stay + the longest quarantine that applies)) + 6 sd + 20."""
        scenario = self.scenario
        names = self.names
        scale = [city.scale for city in self.resolved]
        stay = scenario.travel.stay_days_mean
        fraction = scenario.travel.outbound_visit_fraction
        inbound = np.zeros(len(names))
        longest = np.zeros(len(names))
        for rule in scenario.policies.arrival_quarantine:
            k = names.index(rule.city)
            longest[k] = max(longest[k], rule.central_days + rule.home_days)
        for line in self.lines:
            inbound[line.destination] += line.trips_per_day * fraction * scale[line.origin]
        for diversion in scenario.policies.diversions:
            k = names.index(diversion.diversion_city)
            barred = names.index(diversion.barred_destination)
            extra = sum(line.trips_per_day * fraction * scale[line.origin] for line in self.lines
                        if line.destination == barred and line.mode in diversion.modes)
            inbound[k] += extra
            longest[k] = max(longest[k], diversion.quarantine.central_days + diversion.quarantine.home_days)
        expected = inbound * (stay + longest)
        for item in scenario.importation:
            k = names.index(item.city)
            expected[k] += item.arrivals_per_day * scale[k] * (item.central_days + item.home_days
                                                              + item.stay_days_after_quarantine + 1)
        result = []
        for k, city in enumerate(self.resolved):
            if city.config.visitor_slots is not None:
                result.append(city.config.visitor_slots)
            elif expected[k] <= 0:
                result.append(0)
            else:
                result.append(math.ceil(1.3 * expected[k] + 6 * math.sqrt(expected[k]) + 20))
        return result

    def screening_config(self, city: Scenario) -> TravelScreeningConfig:
        """The travel PCR of a city: the region's ``test:`` over the containment assay's defaults, on
        the city's viral-load course."""
        from zerosim.policy.config import TestingConfig

        defaults, test = TestingConfig(), self.scenario.test
        return TravelScreeningConfig(
            limit_of_detection_log10=test.limit_of_detection_log10 if test.limit_of_detection_log10 is not None
            else defaults.limit_of_detection_log10,
            detection_slope_log10=test.detection_slope_log10 if test.detection_slope_log10 is not None
            else defaults.detection_slope_log10,
            swab_log10_sd=test.swab_log10_sd if test.swab_log10_sd is not None else defaults.swab_log10_sd,
            specificity=test.specificity if test.specificity is not None else defaults.specificity,
            viral_load_floor_log10=city.disease.resolve().viral_load.detection_limit_log10,
        )

    @staticmethod
    def _after_setup(simulation, residents: int, slots: int, rates) -> None:
        """Keep the city as it would be alone: contact rates calibrated on residents only, empty slots
        out of the age-band counts, and visitors fed by their hotel (no food accounting)."""
        state = simulation.state
        if simulation.checker is not None:
            simulation.checker.waive("quarantine_rooms", "the region quarantines arrivals and returning residents "
                                     "itself, beyond Tracing's rooms (issue 17, item 3)")
        rows = np.arange(residents, residents + slots)
        exclude_empty_slots(state, residents)
        if rates is not None:
            for transmission in simulation.components("transmission"):
                transmission.use_contact_rates(rates)
        ledger = simulation.find("ledger")
        if ledger is not None:  # the ledger (the owner) marks the visitors' rooms as fed by their hotel
            ledger.fed_from_elsewhere(state, state.household_id[rows])

    # -- the daily loop -------------------------------------------------------------------------------------
    def step(self, day: int) -> None:
        """One region day: every city's day, then the exchange for the next day."""
        for city in self.cities:
            clock = time.perf_counter()
            city.simulation.step(day)
            city.timing["simulation_seconds"] += time.perf_counter() - clock
        self._exchange(day)
        self.days_done = day + 1

    def run(self, on_day: Callable[[int], None] | None = None) -> None:
        for day in range(self.days_done, self.scenario.duration_days):
            self.step(day)
            if on_day is not None:
                on_day(day)

    # -- city status ----------------------------------------------------------------------------------------
    def _sealed(self, k: int) -> bool:
        state = self.cities[k].state
        return bool(state.has_array("city_zone") and state.city_zone[0] == ZoneLevel.SEALED)

    def _cases(self, k: int, day: int, trigger: CaseTrigger) -> float:
        scalars = self.cities[k].simulation.recorder.scalars
        series = scalars.get("cases_detected" if trigger.measure == "detected" else "new_infections")
        if series is None:
            return 0.0
        return float(series[max(0, day - trigger.window_days + 1): day + 1].sum())

    def _origin_matches(self, origins, trigger: CaseTrigger, origin: int, day: int) -> bool:
        if origins == "any":
            return True
        if origins == "with_cases":
            return self._cases(origin, day, trigger) >= trigger.cases
        return self.names[origin] in origins

    def _banned(self, destination: int, origin: int, mode: str | None, day: int, resident: bool) -> bool:
        """Does ``destination`` refuse travellers from ``origin`` today (``mode`` None: any mode)?"""
        for ban in self.scenario.policies.entry_bans:
            if ban.city != self.names[destination] or (mode is not None and mode not in ban.modes) \
                    or day < ban.from_day:
                continue
            if ban.until_day is not None and day > ban.until_day:
                continue
            if resident and not ban.applies_to_returning_residents:
                continue
            if self._origin_matches(ban.origins, ban.trigger, origin, day):
                return True
        return False

    def _pre_departure_hours(self, destination: int, origin: int, day: int) -> int | None:
        hours = None
        for rule in self.scenario.policies.pre_departure_tests:
            if day < rule.from_day or rule.destination not in ("any", self.names[destination]):
                continue
            if self._origin_matches(rule.origins, rule.trigger, origin, day):
                hours = rule.hours if hours is None else min(hours, rule.hours)
        return hours

    def _arrival_rule(self, destination: int, origin: int, day: int, resident: bool):
        for rule in self.scenario.policies.arrival_quarantine:
            if rule.city != self.names[destination] or day < rule.from_day:
                continue
            if resident and not rule.applies_to_returning_residents:
                continue
            if self._origin_matches(rule.origins, rule.trigger, origin, day):
                return rule
        return None

    def _diversion(self, destination: int, mode: str):
        for diversion in self.scenario.policies.diversions:
            if diversion.barred_destination == self.names[destination] and mode in diversion.modes:
                return diversion
        return None

    # -- who may travel ----------------------------------------------------------------------------------------
    @staticmethod
    def _eligible(state: PopulationState, rows: np.ndarray, day: int) -> np.ndarray:
        compartment = state.compartment[rows]
        isolation = state.isolation_status[rows]
        return (
            (state.mobility[rows] == Mobility.FREE)
            & (compartment != Compartment.DEAD) & (compartment != Compartment.SEVERE)
            & (compartment != Compartment.CRITICAL)
            & (state.health_code[rows] == HealthCode.GREEN)
            & ((isolation == IsolationStatus.NONE) | (isolation == IsolationStatus.RELEASED))
            & (state.quarantine_status[rows] == QuarantineStatus.NONE)
            & (state.day_swab_requested[rows] < 0)
            & (state.test_result[rows] != TestResult.PENDING_RETEST)
            & (state.day_last_swab[rows] <= state.day_last_result[rows])
            & (state.day_detected[rows] <= day)
        )

    def _draw_travellers(self, city: CityRun, count: int, rng: np.random.Generator, day: int) -> np.ndarray:
        """Up to ``count`` distinct eligible residents, uniformly (rejection sampling: O(count), not O(N))."""
        if count <= 0:
            return np.zeros(0, dtype=np.int64)
        chosen: list[np.ndarray] = []
        found = 0
        for _ in range(6):
            candidates = rng.integers(0, city.residents, size=2 * (count - found) + 16)
            candidates = candidates[self._eligible(city.state, candidates, day)]
            _, first = np.unique(candidates, return_index=True)
            candidates = candidates[np.sort(first)]
            if chosen:
                candidates = candidates[~np.isin(candidates, np.concatenate(chosen))]
            candidates = candidates[: count - found]
            chosen.append(candidates)
            found += candidates.size
            if found >= count:
                break
        return np.concatenate(chosen).astype(np.int64)

    # -- tests ---------------------------------------------------------------------------------------------------
    def _test(self, city: CityRun, rows: np.ndarray, day: int, community: bool | np.ndarray,
              requests_taken: bool = False) -> np.ndarray:
        """A single PCR of each of ``rows`` in ``city`` on ``day``, by its travel screening, from the
        region's test stream (shared by the cities, in exchange order)."""
        return city.screening.test(city.simulation, rows, day, self.test_rng, community=community,
                                   requests_taken=requests_taken)

    # -- moving people -----------------------------------------------------------------------------------------
    def _arrive(self, home: CityRun | None, home_rows: np.ndarray | None, dest: CityRun, day: int, *,
                origin: int, intended: int, weight: float, stay: np.ndarray, flags: int,
                quarantine=None, international: bool = False) -> np.ndarray:
        """Copy travellers into free slots of ``dest`` and park their home rows (``home`` None: people
        from outside the region, whose rows the caller fills). Returns the slots used. Quarantine and
        tests are the caller's (the slots' ``leave`` day accounts for ``quarantine``)."""
        count = stay.size
        slots = dest.free.take(count)
        if slots.size < count:
            self._count(dest, "arrivals_refused_no_slot", count - slots.size)
            if home_rows is not None:
                home_rows = home_rows[: slots.size]
            stay = stay[: slots.size]
        if slots.size == 0:
            return slots
        rows = dest.residents + slots
        if home is not None:
            move_in(home.state, home_rows, dest.state, rows, weight)
        dest.home_city[slots] = -1 if home is None else self.cities.index(home)
        dest.home_row[slots] = -1 if home_rows is None else home_rows
        dest.origin[slots] = origin
        dest.intended[slots] = intended
        dest.arrival[slots] = day
        leave = day + stay
        if quarantine is not None:
            leave = np.maximum(leave, day + quarantine.central_days + quarantine.home_days)
        dest.leave[slots] = np.minimum(leave, np.iinfo(np.int16).max)
        dest.flags[slots] = OCCUPIED | flags | (INTERNATIONAL_QUARANTINE if international else 0)
        dest.weight[slots] = weight
        return slots

    def _stays(self, rng: np.random.Generator, count: int) -> np.ndarray:
        travel = self.scenario.travel
        if travel.stay_distribution == "fixed":
            return np.full(count, max(1, round(travel.stay_days_mean)), dtype=np.int64)
        return rng.geometric(1.0 / travel.stay_days_mean, size=count).astype(np.int64)

    def _count(self, city: CityRun, key: str, value: float) -> None:
        record = self._today.setdefault(self.cities.index(city), {})
        record[key] = record.get(key, 0.0) + float(value)

    # -- the exchange ---------------------------------------------------------------------------------------------
    def _exchange(self, day: int) -> None:
        self._today = {}
        for city in self.cities:
            # visitors infected today: their infectiousness stands for 1/scale people of their home city
            if city.slots:
                occupied = np.flatnonzero((city.flags & OCCUPIED) != 0)
                new = occupied[city.state.day_infected[city.residents + occupied] == day]
                new = new[city.weight[new] != 1]
                scale_infectiousness(city.state, city.residents + new, city.weight[new])
        sealed = [self._sealed(k) for k in range(len(self.cities))]
        self._visitor_swabs(day)
        self._returns(day, sealed)
        self._departures(day, sealed)
        self._importation(day, sealed)
        self._quarantine(day)
        self._record(day, sealed)

    def _visitor_swabs(self, day: int) -> None:
        """Campaign swabs requested today of visitors: the city's swab stations serve its residential
        subdistricts (agent ranges), so the region takes these swabs itself, as single tubes."""
        for city in self.cities:
            if city.slots == 0:
                continue
            occupied = np.flatnonzero((city.flags & OCCUPIED) != 0)
            rows = city.residents + occupied
            rows = rows[(city.state.day_swab_requested[rows] >= 0) & (city.state.compartment[rows] != Compartment.DEAD)]
            if rows.size == 0:
                continue
            quarantined = city.state.quarantine_status[rows] != QuarantineStatus.NONE
            positive = self._test(city, rows, day, community=~quarantined, requests_taken=True)
            self._count(city, "visitor_campaign_swabs", rows.size)
            self._count(city, "visitor_campaign_positives", int(positive.sum()))

    def _returns(self, day: int, sealed: list[bool]) -> None:
        policies = self.scenario.policies
        for k, city in enumerate(self.cities):
            if city.slots == 0:
                continue
            occupied = np.flatnonzero((city.flags & OCCUPIED) != 0)
            if occupied.size == 0:
                continue
            rows = city.residents + occupied
            dead = occupied[(city.state.compartment[rows] == Compartment.DEAD) & ((city.flags[occupied] & DIED) == 0)]
            if dead.size:
                city.flags[dead] |= DIED
                self._count(city, "visitors_died", dead.size)
            due = occupied[(city.leave[occupied] <= day) & ((city.flags[occupied] & DIED) == 0)]
            if due.size == 0:
                continue
            due_rows = city.residents + due
            can = self._eligible(city.state, due_rows, day)
            if sealed[k] and policies.outbound_ban_when_sealed:
                can[:] = False
            for h in np.unique(city.home_city[due]):
                members = city.home_city[due] == h
                if h < 0:
                    continue
                if (sealed[int(h)] and policies.inbound_closed_when_sealed) or self._banned(int(h), k, None, day, True):
                    can[members] = False
                    continue
                hours = self._pre_departure_hours(int(h), k, day)
                if hours is not None:
                    rows_h = due_rows[members & can]
                    need = rows_h[~self._valid_test(city.state, rows_h, day, hours)]
                    if need.size:
                        positive = self._test(city, need, day, community=True)
                        self._count(city, "predeparture_tests", need.size)
                        self._count(city, "predeparture_positives", int(positive.sum()))
                        stuck = np.isin(due_rows, need[positive])
                        can[stuck] = False
            leaving = due[can]
            if leaving.size == 0:
                continue
            # international arrivals leave the region; residents of other cities go home
            gone = leaving[city.home_city[leaving] < 0]
            self._free(city, gone)
            for h in np.unique(city.home_city[leaving]):
                if h < 0:
                    continue
                slots = leaving[city.home_city[leaving] == h]
                self._go_home(city, slots, self.cities[int(h)], day)

    @staticmethod
    def _valid_test(state: PopulationState, rows: np.ndarray, day: int, hours: int) -> np.ndarray:
        """A negative PCR swabbed within ``hours`` hours (days counted whole: within hours / 24 days)."""
        days = max(1, hours // 24)
        return (state.test_result[rows] == TestResult.NEGATIVE) & (state.day_last_swab[rows] >= 0) \
            & (day - state.day_last_swab[rows] < days)

    def _free(self, city: CityRun, slots: np.ndarray) -> None:
        if slots.size == 0:
            return
        rows = city.residents + slots
        vacate(city.state, rows)
        city.screening.forget(city.state, rows)
        city.flags[slots] = 0
        city.home_city[slots] = -1
        city.home_row[slots] = -1
        city.free.give(slots.astype(np.int32))
        self._count(city, "visitors_left", slots.size)

    def _go_home(self, city: CityRun, slots: np.ndarray, home: CityRun, day: int) -> None:
        rows = city.residents + slots
        home_rows = city.home_row[slots].astype(np.int64)
        infected_here = city.state.day_infected[rows] >= city.arrival[slots]
        # the slot's infectiousness carries the scale ratio; the home row gets it back without
        move_home(city.state, rows, home.state, home_rows, city.weight[slots])
        k_home = self.cities.index(home)
        origin = self.cities.index(city)
        rule = self._arrival_rule(k_home, origin, day, resident=True)
        if rule is not None:
            if rule.test_on_arrival:
                positive = self._test(home, home_rows, day, community=False)
                self._count(home, "arrival_tests", home_rows.size)
                self._count(home, "arrival_positives", int(positive.sum()))
            home.screening.quarantine(home.simulation, home_rows, day, rule.central_days, rule.home_days)
        self._count(home, "returns_home", slots.size)
        self._count(home, "returned_infected_away", int(infected_here.sum()))
        self._free(city, slots)

    def _departures(self, day: int, sealed: list[bool]) -> None:
        policies = self.scenario.policies
        fraction = self.scenario.travel.outbound_visit_fraction
        for line in self.lines:
            home = self.cities[line.origin]
            rng = line.rng
            planned = int(rng.poisson(line.trips_per_day * fraction * home.scale)) if line.trips_per_day > 0 else 0
            flow = {"day": day, "origin": self.names[line.origin], "destination": self.names[line.destination],
                    "mode": line.mode, "planned": planned, "departed": 0, "infected": 0, "arrived_at": "", "diverted_to": "",
                    "diverted": 0, "turned_away": 0, "blocked": 0, "predeparture_positives": 0,
                    "origin_prevalence": self._prevalence(home)}
            self.flows.append(flow)
            if planned == 0:
                continue
            if sealed[line.origin] and policies.outbound_ban_when_sealed:
                flow["blocked"] = planned
                self._count(home, "blocked_outbound", planned)
                continue
            destination = line.destination
            diverted = False
            if self._banned(destination, line.origin, line.mode, day, resident=False):
                diversion = self._diversion(destination, line.mode)
                if diversion is None:
                    flow["turned_away"] = planned
                    self._count(home, "turned_away", planned)
                    continue
                destination = self.names.index(diversion.diversion_city)
                diverted = True
                if self._banned(destination, line.origin, line.mode, day, resident=False) or destination == line.origin:
                    flow["turned_away"] = planned
                    self._count(home, "turned_away", planned)
                    continue
            if sealed[destination] and policies.inbound_closed_when_sealed:
                flow["blocked"] = planned
                self._count(home, "blocked_inbound", planned)
                continue
            travellers = self._draw_travellers(home, planned, rng, day)
            hours = self._pre_departure_hours(line.destination, line.origin, day)
            if hours is not None and travellers.size:
                need = travellers[~self._valid_test(home.state, travellers, day, hours)]
                if need.size:
                    positive = self._test(home, need, day, community=True)
                    self._count(home, "predeparture_tests", need.size)
                    self._count(home, "predeparture_positives", int(positive.sum()))
                    flow["predeparture_positives"] = int(positive.sum())
                    travellers = travellers[~np.isin(travellers, need[positive])]
            if travellers.size == 0:
                continue
            dest = self.cities[destination]
            compartment = home.state.compartment[travellers]
            infected = int(((compartment >= Compartment.EXPOSED) & (compartment <= Compartment.CRITICAL)).sum())
            if diverted:
                rule = self._diversion(line.destination, line.mode).quarantine
                test_on_arrival = rule.test_on_arrival
            else:
                rule = self._arrival_rule(destination, line.origin, day, resident=False)
                test_on_arrival = rule is not None and rule.test_on_arrival
            stay = self._stays(rng, travellers.size)
            if diverted:
                stay = np.ones(travellers.size, dtype=np.int64)  # home as soon as the quarantine is over
            slots = self._arrive(home, travellers, dest, day, origin=line.origin, intended=line.destination,
                                 weight=dest.scale / home.scale, stay=stay, flags=DIVERTED if diverted else 0,
                                 quarantine=rule)
            if rule is not None and slots.size:
                dest.screening.quarantine(dest.simulation, dest.residents + slots, day, rule.central_days,
                                          rule.home_days)
            if slots.size < travellers.size:
                infected = int(((compartment[: slots.size] >= Compartment.EXPOSED)
                                & (compartment[: slots.size] <= Compartment.CRITICAL)).sum())
            flow["departed"] = int(slots.size)
            flow["infected"] = infected
            flow["arrived_at"] = self.names[destination] if slots.size else ""
            self._count(home, "departures", slots.size)
            self._count(dest, "arrivals", slots.size)
            self._count(dest, "arrivals_infected", infected)
            if diverted:
                flow["diverted"] = int(slots.size)
                flow["diverted_to"] = self.names[destination]
                self._count(dest, "diverted_in", slots.size)
                self._count(dest, "diverted_in_infected", infected)
                self._count(home, "diverted_out", slots.size)
            if test_on_arrival and slots.size:
                rows = dest.residents + slots
                positive = self._test(dest, rows, day, community=False)
                self._count(dest, "arrival_tests", rows.size)
                self._count(dest, "arrival_positives", int(positive.sum()))

    @staticmethod
    def _prevalence(city: CityRun) -> float:
        """Share infected (exposed to mild: not in hospital) among the living present out of hospital."""
        totals = city.state.count_by_district.sum(axis=0)
        infected = totals[Compartment.EXPOSED: Compartment.MILD + 1].sum()
        living = totals.sum() - totals[Compartment.DEAD] - totals[Compartment.SEVERE] - totals[Compartment.CRITICAL]
        return float(infected / living) if living > 0 else 0.0

    def _importation(self, day: int, sealed: list[bool]) -> None:
        for item, rng in zip(self.scenario.importation, self.import_rngs):
            k = self.names.index(item.city)
            city = self.cities[k]
            count = int(rng.poisson(item.arrivals_per_day * city.scale))
            if count == 0:
                continue
            if sealed[k] and self.scenario.policies.inbound_closed_when_sealed:
                self._count(city, "imported_blocked", count)
                continue
            stay = np.full(count, max(1, round(item.stay_days_after_quarantine)), dtype=np.int64)
            slots = self._arrive(None, None, city, day, origin=-1, intended=k, weight=1.0, stay=stay,
                                 flags=IMPORTED, quarantine=item, international=True)
            if slots.size == 0:
                continue
            rows = city.residents + slots
            state = city.state
            template = rng.integers(0, city.residents, size=slots.size)
            # arrive susceptible (counted as such), then some are infected 0-5 days before arrival
            arrive_from_outside(state, rows, template)
            city.screening.quarantine(city.simulation, rows, day, item.central_days, item.home_days)
            infected = rows[rng.random(rows.size) < item.prevalence_fraction]
            if infected.size:
                disease = city.simulation.find("disease")
                transmission = city.simulation.find("transmission")
                lag = rng.integers(0, min(day, 5) + 1, size=infected.size)
                for back in np.unique(lag):
                    group = infected[lag == back]
                    disease.infect(state, group.astype(np.intp), day - int(back), rng)
                    transmission.record_outside_infections(state, group, day - int(back))
            self._count(city, "imported", slots.size)
            self._count(city, "imported_infected", infected.size)
            self._count(city, "arrivals", slots.size)
            self._count(city, "arrivals_infected", infected.size)
            if item.test_on_arrival:
                positive = self._test(city, rows, day, community=False)
                self._count(city, "arrival_tests", rows.size)
                self._count(city, "arrival_positives", int(positive.sum()))

    def _quarantine(self, day: int) -> None:
        """Statuses of everyone in arrival quarantine for tomorrow (day + 1), city by city."""
        for city in self.cities:
            city.screening.set_tomorrow(city.simulation, day)

    # -- recording ------------------------------------------------------------------------------------------------
    def _record(self, day: int, sealed: list[bool]) -> None:
        away = np.zeros(len(self.cities), dtype=np.int64)
        stranded_home = np.zeros(len(self.cities), dtype=np.int64)
        for city in self.cities:
            if city.slots == 0:
                continue
            live = ((city.flags & OCCUPIED) != 0) & ((city.flags & DIED) == 0) & (city.home_city >= 0)
            away += np.bincount(city.home_city[live].astype(np.int64), minlength=len(self.cities))
            late = live & ((city.leave <= day) | ((city.flags & DIVERTED) != 0))
            stranded_home += np.bincount(city.home_city[late].astype(np.int64), minlength=len(self.cities))
        costs = self.scenario.costs
        for k, city in enumerate(self.cities):
            scalars = city.simulation.recorder.scalars
            record = {"day": day, "city": city.name}
            for name in ("new_infections", "infectious", "new_deaths", "cases_detected"):
                series = scalars.get(name)
                record[name] = float(series[day]) if series is not None else 0.0
            record["city_sealed"] = float(sealed[k])
            for key in DAILY_KEYS:
                record[key] = self._today.get(k, {}).get(key, 0.0)
            visitors = central = home = international = stranded = 0
            if city.slots:
                occupied = ((city.flags & OCCUPIED) != 0) & ((city.flags & DIED) == 0)
                visitors = int(occupied.sum())
                rows = city.residents + np.flatnonzero(occupied)
                status = city.state.quarantine_status[rows]
                held = np.isin(rows, city.screening.held(city.state))
                is_central = held & (status == QuarantineStatus.CENTRAL)
                is_home = held & (status == QuarantineStatus.HOME)
                central, home = int(is_central.sum()), int(is_home.sum())
                international = int((is_central & ((city.flags[occupied] & INTERNATIONAL_QUARANTINE) != 0)).sum())
                stranded = int((occupied & (city.home_city >= 0)
                                & ((city.leave <= day) | ((city.flags & DIVERTED) != 0))).sum())
            held_residents = city.screening.held(city.state)
            held_residents = held_residents[held_residents < city.residents]
            if held_residents.size:
                status = city.state.quarantine_status[held_residents]
                central += int((status == QuarantineStatus.CENTRAL).sum())
                home += int((status == QuarantineStatus.HOME).sum())
            record.update({
                "visitors_present": visitors, "residents_away": int(away[k]),
                "stranded_visitors": stranded, "stranded_residents": int(stranded_home[k]),
                "arrival_quarantine_central": central, "arrival_quarantine_home": home,
                "arrival_quarantine_cny": (central - international) * costs.central_quarantine_cny_per_person_day
                + international * costs.international_quarantine_cny_per_person_day,
                "travel_tests_cny": (record["predeparture_tests"] + record["arrival_tests"]
                                     + record["visitor_campaign_swabs"]) * self.test_cny,
            })
            self.records.append(record)


DAILY_KEYS = (
    "departures", "arrivals", "arrivals_infected", "returns_home", "returned_infected_away", "visitors_left",
    "visitors_died", "diverted_in", "diverted_in_infected", "diverted_out", "turned_away", "blocked_outbound",
    "blocked_inbound", "arrivals_refused_no_slot", "predeparture_tests", "predeparture_positives", "arrival_tests",
    "arrival_positives", "imported", "imported_infected", "imported_blocked", "visitor_campaign_swabs",
    "visitor_campaign_positives",
)
TOTAL_KEYS = DAILY_KEYS


def memory_estimate(residents: list[int], slots: list[int]) -> dict:
    """Bytes per resident of a region: each resident's state (schema + group indexes, as measured for a
    city) plus each visitor slot's schema row, its own units and the runner's bookkeeping."""
    schema = bytes_per_agent()
    resident_bytes = sum(residents) * (schema + RESIDENT_OVERHEAD_BYTES)
    slot_bytes = sum(slots) * (schema + slot_unit_bytes() + SLOT_METADATA_BYTES)
    total_residents = max(sum(residents), 1)
    return {
        "residents": int(sum(residents)),
        "visitor_slots": int(sum(slots)),
        "slot_fraction": sum(slots) / total_residents,
        "bytes_per_resident_state": schema + RESIDENT_OVERHEAD_BYTES,
        "bytes_per_slot": schema + slot_unit_bytes() + SLOT_METADATA_BYTES,
        "bytes_per_agent": (resident_bytes + slot_bytes) / total_residents,
        "total_gib": (resident_bytes + slot_bytes) / 2**30,
    }


def plan_memory(scenario: RegionScenario) -> dict:
    """:func:`memory_estimate` of a region without building it (slot counts from the travel data)."""
    planner = object.__new__(Region)
    planner.scenario = scenario
    planner.resolved = resolve_cities(scenario)
    planner.names = [city.config.name for city in planner.resolved]
    planner.lines = build_lines(scenario, planner.names)
    slots = planner.visitor_slots()
    estimate = memory_estimate([c.scenario.population.size for c in planner.resolved], slots)
    estimate["cities"] = {c.config.name: {"residents": c.scenario.population.size, "visitor_slots": s,
                                          "scale": c.scale} for c, s in zip(planner.resolved, slots)}
    return estimate
