"""Ledger layer: the social-cost ledger -- what containment costs people, day by day and district
by district: confinement, food, income, shops, testing, care denied, facility conditions, and a
resistance-pressure index per subdistrict.

Layer ``ledger`` -- imports population codes, its own config and kernels, the engine protocol, the
error tree and the testing counters (``policy.testing``) only. It reads the state every other layer
leaves and writes only its own arrays. Definitions and sources: docs/ledger.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from zerosim.engine.component import Measure, Phase, Total
from zerosim.errors import StateError
from zerosim.ledger.config import SECTORS, WORKER_TYPES, LedgerConfig
from zerosim.ledger.totals import LEDGER_MEASURES, LEDGER_ROWS, LEDGER_TOTALS
from zerosim.ledger.kernels import (
    MAX_HOUSEHOLD_MEMBERS,
    MOBILITY_LEVELS,
    SCAN_CHUNKS,
    SUPPLY_FIELDS,
    GROUP_BUY_FOOD,
    GROUP_BUY_INTERVAL,
    GROUP_BUY_WAIT,
    PACKAGE_FOOD,
    PACKAGE_INTERVAL,
    PACKAGE_WAIT,
    ConfinementRecord,
    DayAccounts,
    LedgerPeople,
    WorkRules,
    account_agents,
    account_food,
    account_households,
    account_stores,
    choose_deliveries,
    household_chunks,
    households_nest,
    needy_subdistricts,
)
from zerosim.population.draws import lognormal
from zerosim.population.state import Mobility, PopulationState, Sector
from zerosim.population.synthesis import CHUNK_AGENTS, WORK_SECTOR_CODE

#: Sector codes of the small stores and restaurants the ledger follows.
STORE_SECTORS = (int(Sector.RETAIL), int(Sector.CATERING))
SECTOR_CODES = np.array([WORK_SECTOR_CODE[name] for name in SECTORS])
ELDERLY_AGE = 65


def draw_worker_types(rng: np.random.Generator, shares: np.ndarray, workplace_id: np.ndarray,
                      worker_type: np.ndarray) -> None:
    """Give every worker (``workplace_id`` >= 0) a worker-type code drawn with probabilities ``shares``.

    The same numbers as ``rng.choice(len(shares), size=workers, p=shares)`` over all workers at once
    (one uniform per worker, in agent order, looked up in the cumulative shares), taken slice by
    slice so that no worker-sized float64 or int64 temporary is made (20 bytes per agent at 25M).
    """
    cdf = shares.cumsum()
    cdf /= cdf[-1]
    for lo in range(0, workplace_id.size, CHUNK_AGENTS):
        workers = lo + np.flatnonzero(workplace_id[lo : lo + CHUNK_AGENTS] >= 0)
        worker_type[workers] = cdf.searchsorted(rng.random(workers.size), side="right")


def draw_food_stocks(rng: np.random.Generator, food, household_start: np.ndarray,
                     age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each household's food stock in days (float32; log-normal, smaller for an elderly person living
    alone) and whether it is an elderly person alone; drawn in slices of households (the same numbers
    as one draw for all)."""
    households = household_start.size - 1
    stock = np.empty(households, dtype=np.float32)
    elderly_alone = np.empty(households, dtype=bool)
    for lo in range(0, households, CHUNK_AGENTS):
        hi = min(households, lo + CHUNK_AGENTS)
        first = household_start[lo:hi]
        alone = (household_start[lo + 1 : hi + 1] - first == 1) & (age[first] >= ELDERLY_AGE)
        draws = lognormal(rng, food.stock_days_mean, food.stock_days_sd, hi - lo)
        stock[lo:hi] = np.where(alone, draws * food.elderly_alone_stock_factor, draws)
        elderly_alone[lo:hi] = alone
    return stock, elderly_alone


def draw_group_buying(rng: np.random.Generator, reach_fraction: float, household_start: np.ndarray,
                      age: np.ndarray) -> np.ndarray:
    """Which households take part in compound group buying (int8, 1 = yes): those with a member under 65,
    each with probability ``reach_fraction`` (docs/ledger.md 2.1); one uniform per household, drawn in slices
    of households (the same numbers as one draw for all)."""
    households = household_start.size - 1
    taking_part = np.zeros(households, dtype=np.int8)
    for lo in range(0, households, CHUNK_AGENTS):
        hi = min(households, lo + CHUNK_AGENTS)
        first = household_start[lo:hi]
        members = household_start[lo + 1 : hi + 1] - first
        young = age[first[0] : household_start[hi]] < ELDERLY_AGE
        has_young = np.add.reduceat(young, first - first[0]) > 0 if members.size else np.zeros(0, dtype=bool)
        taking_part[lo:hi] = has_young & (rng.random(hi - lo) < reach_fraction)
    return taking_part


def food_supply_schedule(food) -> np.ndarray:
    """The ``supply`` array of kernels.account_households: (SUPPLY_FIELDS,) float64."""
    supply = np.zeros(SUPPLY_FIELDS)
    supply[PACKAGE_WAIT] = food.package_wait_days
    supply[PACKAGE_INTERVAL] = food.package_interval_days
    supply[PACKAGE_FOOD] = food.package_days_of_food
    supply[GROUP_BUY_WAIT] = food.group_buy_wait_days
    supply[GROUP_BUY_INTERVAL] = food.group_buy_interval_days
    supply[GROUP_BUY_FOOD] = food.group_buy_days_of_food
    return supply


def store_demand(days_since_reopening: np.ndarray, shops) -> np.ndarray:
    """Demand of a reopened store, share of normal: 1 - (1 - f0) * 2**(-t / half-life) (docs/ledger.md 4.2)."""
    t = np.asarray(days_since_reopening, dtype=np.float64)
    return 1.0 - (1.0 - shops.reopening_demand_fraction) * np.exp2(-t / max(shops.recovery_half_life_days, 1e-9))


@dataclass(frozen=True, slots=True)
class Ledger:
    """Keeps the daily accounts of containment's costs (it never changes anyone's behaviour)."""

    kind: ClassVar[str] = "ledger"
    #: The totals of summary.json's ``ledger`` object (labels, units and groups for compare and the report).
    totals: ClassVar[tuple[Total, ...]] = LEDGER_TOTALS
    #: The daily accounts by district (``ledger.parquet``), one per :data:`LEDGER_ROWS` entry.
    measures: ClassVar[tuple[Measure, ...]] = LEDGER_MEASURES

    config: LedgerConfig
    pressure_confined_days: int = 14
    #: False when no containment component runs: nobody can be confined, closed or tested, so every
    #: account is zero and the daily passes are skipped (the outputs keep their shape).
    has_containment: bool = True
    name: str = "ledger"
    phase: ClassVar[Phase] = Phase.LEDGER
    reads: ClassVar[frozenset[str]] = frozenset(
        {"compartment", "mobility", "health_code", "consecutive_negatives", "district_id", "subdistrict_id",
         "household_id", "age", "workplace_id", "sector", "workplace_is_open"}
    )
    writes: ClassVar[frozenset[str]] = frozenset(
        {"worker_type", "confined_streak_days", "longest_confinement_days", "confined_days_total", "ledger_flags",
         "food_stock_days", "food_stock_initial", "household_ran_out", "household_out_today", "household_cut_off_days",
         "household_group_buy", "store_closed_streak",
         "store_runway_days", "store_failed", "store_days_since_reopen", "ledger_daily", "ledger_store"}
    )

    # -- set-up -----------------------------------------------------------------------------------
    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        cfg = self.config
        g = state.groups
        shares = np.array([cfg.income.worker_type_share[t] for t in WORKER_TYPES], dtype=float)
        draw_worker_types(rng, shares / shares.sum(), state.workplace_id, state.worker_type)
        households = g.household_count
        first = g.household_start[:-1]
        stock, elderly_alone = draw_food_stocks(rng, cfg.food, g.household_start, state.age)
        runway = lognormal(rng, cfg.shops.cash_runway_days_mean, cfg.shops.cash_runway_days_sd, g.workplace_count)
        group_buy = draw_group_buying(rng, cfg.food.group_buy_reach_fraction, g.household_start, state.age)
        arrays = {
            "food_stock_days": stock.copy(),
            "food_stock_initial": stock,
            "household_ran_out": np.zeros(households, dtype=np.int8),
            "household_out_today": np.zeros(households, dtype=np.int8),
            "household_cut_off_days": np.zeros(households, dtype=np.int16),
            "household_group_buy": group_buy,
            "store_closed_streak": np.zeros(g.workplace_count, dtype=np.int16),
            "store_runway_days": runway.astype(np.float32),
            "store_failed": np.zeros(g.workplace_count, dtype=np.int8),
            "store_days_since_reopen": np.full(g.workplace_count, -1, dtype=np.int16),
            # today's per-district accounts, one row per LEDGER_ROWS entry
            "ledger_daily": np.zeros((len(LEDGER_ROWS), g.district_count), dtype=np.float64),
        }
        for name, array in arrays.items():
            if state.has_array(name):
                state.unit_arrays[name] = array
            else:
                state.add_unit_array(name, array)
        if not households_nest(g.household_start, state.subdistrict_id, state.district_id):
            raise StateError(f"household_start: the ledger needs 1 to {MAX_HOUSEHOLD_MEMBERS:,} members per household, "
                             "all in one subdistrict; build agents ordered by residence (population.synthesis)")
        is_store = np.isin(g.workplace_sector, STORE_SECTORS)
        store_ids = np.flatnonzero(is_store)
        wage = np.zeros(max(WORK_SECTOR_CODE.values()) + 1)
        for name, code in WORK_SECTOR_CODE.items():
            wage[code] = cfg.income.daily_wage_cny_by_sector[name]
        state.stores["ledger_store"] = LedgerStore(
            household_subdistrict=state.subdistrict_id[first],
            household_district=state.district_id[first],
            household_elderly_alone=elderly_alone,
            food_supply=food_supply_schedule(cfg.food),
            is_store=is_store,
            store_ids=store_ids,
            stores_by_district=np.bincount(g.workplace_district[store_ids].astype(np.int64),
                                           minlength=g.district_count).astype(np.float64),
            demand_by_days_since_reopen=store_demand(np.arange(32768), cfg.shops),
            logistics_worker_count=int(np.count_nonzero(state.sector == Sector.LOGISTICS)),
            daily_wage_by_sector_code=wage,
            wage_loss_fraction_by_type=np.array([cfg.income.wage_loss_fraction_by_type[t] for t in WORKER_TYPES]),
            household_chunk_start=household_chunks(g.household_start, state.size),
            household_counts=np.zeros(households, dtype=np.int64),
            workplace_codes=np.zeros(g.workplace_count + 1, dtype=np.int8),
            income_by_sector=np.zeros(len(SECTORS)),
            income_by_type=np.zeros(len(WORKER_TYPES)),
            pressure=[],
        )

    # -- daily accounts ---------------------------------------------------------------------------
    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        cfg = self.config
        g = state.groups
        store: LedgerStore = state.ledger_store
        daily = state.ledger_daily
        daily[:] = 0.0
        row = LEDGER_INDEX
        districts = g.district_count
        if not self.has_containment:
            daily[row["stores"]] = store.stores_by_district
            store.pressure.append(np.zeros(g.subdistrict_count, dtype=np.float32))
            return

        # 1. One pass over the agents: confinement, income, pressure of workers kept home, and the
        #    members of each household who can still shop.
        person_days = np.zeros((districts, MOBILITY_LEVELS), dtype=np.int64)
        after_ten = np.zeros(districts, dtype=np.int64)
        lost_district = np.zeros(districts)
        lost_sector_code = np.zeros(store.daily_wage_by_sector_code.size)
        lost_type = np.zeros(len(WORKER_TYPES))
        idle = np.zeros(districts, dtype=np.int64)
        pressure_subdistrict = np.zeros(g.subdistrict_count, dtype=np.int64)
        pressure_district = np.zeros(districts, dtype=np.int64)
        couriers_not_free = np.zeros(1, dtype=np.int64)
        account_agents(
            g.household_start, store.household_chunk_start,
            LedgerPeople(state.household_id, state.compartment, state.mobility, state.health_code,
                         state.consecutive_negatives, state.district_id, state.subdistrict_id, state.workplace_id,
                         state.sector, state.worker_type),
            WorkRules(state.workplace_is_open, store.daily_wage_by_sector_code, store.wage_loss_fraction_by_type,
                      int(cfg.food.confined_level), int(Sector.LOGISTICS), int(self.pressure_confined_days),
                      store.workplace_codes),
            ConfinementRecord(state.confined_streak_days, state.longest_confinement_days, state.confined_days_total,
                              state.ledger_flags),
            DayAccounts(store.household_counts, person_days, after_ten, lost_district, lost_sector_code, lost_type, idle,
                        pressure_subdistrict, pressure_district, couriers_not_free),
        )
        daily[row["confined_compound_person_days"]] = person_days[:, Mobility.COMPOUND]
        daily[row["confined_home_person_days"]] = person_days[:, Mobility.HOME]
        daily[row["facility_person_days"]] = person_days[:, Mobility.FACILITY]
        daily[row["confined_after_ten_negatives_person_days"]] = after_ten

        # 2. Food: stocks, deliveries to the confined about to run out, who ran out.
        needy_count = np.zeros(SCAN_CHUNKS, dtype=np.int64)
        account_households(g.household_start, store.household_chunk_start, store.household_counts,
                           self.pressure_confined_days < 0, state.food_stock_days, state.food_stock_initial,
                           state.household_out_today, needy_count, store.household_district,
                           self._food_shops_open(state), state.household_cut_off_days, state.household_group_buy,
                           store.food_supply)
        needy_start = np.concatenate(([0], np.cumsum(needy_count)))
        needy_subdistrict = needy_subdistricts(store.household_chunk_start, store.household_counts, needy_start,
                                               store.household_subdistrict)
        served = self._deliveries(state, needy_subdistrict, store.logistics_worker_count - int(couriers_not_free[0]),
                                  rng)
        shortfall, without_food = daily[row["food_shortfall_person_days"]], daily[row["households_without_food"]]
        ran_out_new, elderly_new = daily[row["households_ran_out_new"]], daily[row["elderly_alone_ran_out_new"]]
        account_food(store.household_chunk_start, store.household_counts, needy_start, served,
                     cfg.food.delivery_days_of_food, store.household_district, store.household_subdistrict,
                     store.household_elderly_alone, state.food_stock_days, state.household_out_today,
                     state.household_ran_out, shortfall, without_food, ran_out_new, elderly_new,
                     pressure_subdistrict, pressure_district)

        # 3. Income.
        daily[row["income_lost_cny"]] = lost_district
        daily[row["workers_kept_from_work"]] = idle
        store.income_by_sector += lost_sector_code[SECTOR_CODES]
        store.income_by_type += lost_type

        # 4. Shops: small stores and restaurants.
        account_stores(store.store_ids, g.workplace_district, state.workplace_is_open, state.store_failed,
                       state.store_closed_streak, state.store_runway_days, state.store_days_since_reopen,
                       store.demand_by_days_since_reopen, daily[row["stores_closed"]], daily[row["stores_failed"]],
                       daily[row["store_demand_lost"]])
        daily[row["stores"]] = store.stores_by_district

        # 5. Care denied (expected episodes among people confined at home or in a facility).
        care = cfg.care
        shut_in = person_days[:, Mobility.HOME] + person_days[:, Mobility.FACILITY]
        missed = 1.0 - care.access_when_confined_fraction
        dialysis_missed = 1.0 - care.dialysis_access_when_confined_fraction  # dialysis had its own routes
        dialysis_sessions = (shut_in * care.dialysis_patients_per_100k / 1e5 * care.dialysis_sessions_per_week / 7
                             * dialysis_missed)
        emergencies = shut_in * care.emergencies_per_100k_per_day / 1e5 * missed
        births = shut_in * care.births_per_100k_per_year / 1e5 / 365 * missed
        chemo_days = shut_in * care.chemotherapy_patients_per_100k / 1e5 * missed
        daily[row["dialysis_sessions_missed"]] = dialysis_sessions
        daily[row["emergencies_without_care"]] = emergencies
        daily[row["births_without_care"]] = births
        daily[row["chemotherapy_patient_days_missed"]] = chemo_days
        daily[row["excess_non_covid_deaths"]] = (
            emergencies * care.excess_death_per_missed_emergency
            + dialysis_sessions / max(care.dialysis_sessions_per_week, 1e-9) * care.excess_death_per_missed_dialysis_week
        )

        # 6. Testing costs (from the testing component's counters, when it runs).
        if state.has_array("testing_counts"):
            from zerosim.population.testing_counts import TestingCounter

            counts = state.testing_counts
            swabbed = float(counts[TestingCounter.SWABBED_TODAY])
            singles = float(counts[TestingCounter.RETESTS_TODAY])
            testing = cfg.testing
            share = np.diff(g.district_start) / state.size  # attributed by population
            daily[row["testing_cny"]] = share * ((swabbed - singles) * testing.cny_per_person_pooled
                                                 + singles * testing.cny_per_single_tube)
            daily[row["testing_staff_hours"]] = share * swabbed / max(testing.swabs_per_staff_hour, 1e-9)
            daily[row["testing_queue_hours"]] = share * swabbed * testing.queue_hours_per_swab

        # 7. Resistance pressure: share of residents confined > n days whose household has no food or
        #    who cannot work, per subdistrict (counted in the agent pass and among the households out).
        people = np.diff(g.subdistrict_start)
        store.pressure.append((pressure_subdistrict / np.maximum(people, 1)).astype(np.float32))
        daily[row["residents_under_pressure"]] = pressure_district

    @staticmethod
    def _food_shops_open(state: PopulationState) -> np.ndarray:
        """Share of each district's retail workplaces (food and daily goods) open today, float32 (D,);
        1 where a district has none. Closures decide it; households buy food only where shops are open."""
        g = state.groups
        retail = g.workplace_sector == Sector.RETAIL
        districts = state.district_count
        total = np.bincount(g.workplace_district[retail], minlength=districts)
        open_ = np.bincount(g.workplace_district[retail], weights=state.workplace_is_open[retail], minlength=districts)
        return np.where(total > 0, open_ / np.maximum(total, 1), 1.0).astype(np.float32)

    def _deliveries(self, state: PopulationState, needy_subdistrict: np.ndarray, couriers_free: int,
                    rng) -> np.ndarray:
        """Which needy households (confined, < 1 day of food; given by their subdistricts, households
        in increasing order) get a delivery today: first come first served, up to each
        subdistrict's capacity. Returns (m,) bool."""
        food = self.config.food
        store: LedgerStore = state.ledger_store
        g = state.groups
        working = float(couriers_free) / max(float(store.logistics_worker_count), 1.0)
        factor = 1.0 - food.courier_dependence_fraction * (1.0 - working)
        people = np.diff(g.subdistrict_start)
        capacity = np.floor(food.deliveries_per_day_per_100k * people / 1e5 * factor).astype(np.int64)
        served = np.ones(needy_subdistrict.size, dtype=np.bool_)
        if needy_subdistrict.size:
            keys = rng.random(needy_subdistrict.size)  # arrival order
            choose_deliveries(needy_subdistrict, keys, capacity, served)
        return served

    @staticmethod
    def fed_from_elsewhere(state: PopulationState, households: np.ndarray) -> None:
        """Households the ledger does not feed (a visitor's hotel room, zerosim.region): a stock that never
        runs out, so they never need food, deliveries or packages. Call after set-up."""
        state.food_stock_initial[households] = np.float32(1e6)
        state.food_stock_days[households] = np.float32(1e6)

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        daily = state.ledger_daily.copy()  # one copy; its rows are today's per-district accounts
        totals = daily.sum(axis=1).tolist()
        metrics: dict[str, float | np.ndarray] = {}
        for name, index in LEDGER_INDEX.items():
            metrics[f"ledger:{name}"] = daily[index]
            metrics[f"ledger_{name}"] = totals[index]
        pressure = state.ledger_store.pressure
        metrics["ledger_resistance_pressure_max"] = float(pressure[-1].max()) if pressure else 0.0
        return metrics


@dataclass
class LedgerStore:
    """Ledger data that is not per-day-per-district: lookups, per-sector totals, the pressure index,
    and the kernels' scratch arrays (allocated once)."""

    household_subdistrict: np.ndarray  # (H,) int16, as subdistrict_id
    household_district: np.ndarray  # (H,) int8, as district_id
    household_elderly_alone: np.ndarray  # (H,) bool
    food_supply: np.ndarray  # (SUPPLY_FIELDS,) float64: government packages and group buying (kernels)
    is_store: np.ndarray  # (W,) bool: small store or restaurant
    store_ids: np.ndarray  # (stores,) intp, increasing: np.flatnonzero(is_store)
    stores_by_district: np.ndarray  # (D,) float64
    demand_by_days_since_reopen: np.ndarray  # (32768,) float64: store_demand(t) for every int16 t >= 0
    logistics_worker_count: int  # agents of the logistics sector (couriers)
    daily_wage_by_sector_code: np.ndarray  # (sector codes,) float64, CNY
    wage_loss_fraction_by_type: np.ndarray  # (worker types,) float64
    household_chunk_start: np.ndarray  # (SCAN_CHUNKS + 1,) int64: see kernels.household_chunks
    household_counts: np.ndarray  # (H,) int64 scratch, 0 between days: member counts, then the needy (kernels)
    workplace_codes: np.ndarray  # (W + 1,) int8 scratch of kernels.account_agents
    income_by_sector: np.ndarray
    income_by_type: np.ndarray
    pressure: list


LEDGER_INDEX = {name: index for index, name in enumerate(LEDGER_ROWS)}
