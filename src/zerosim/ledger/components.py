"""Ledger layer: the social-cost ledger -- what containment costs people, day by day and district
by district: confinement, food, income, shops, testing, care denied, facility conditions, and a
resistance-pressure index per subdistrict.

Layer ``ledger`` -- imports population codes, its own config and kernels, the engine protocol and
the testing counters (``policy.testing``) only. It reads the state every other layer leaves and
writes only its own arrays. Definitions and sources: docs/ledger.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from zerosim.engine.component import Phase
from zerosim.ledger.config import SECTORS, WORKER_TYPES, LedgerConfig
from zerosim.ledger.kernels import account_confinement, account_income, count_pressure, household_confinement
from zerosim.population.draws import lognormal
from zerosim.population.state import Mobility, PopulationState, Sector
from zerosim.population.synthesis import WORK_SECTOR_CODE

#: Sector codes of the small stores and restaurants the ledger follows.
STORE_SECTORS = (int(Sector.RETAIL), int(Sector.CATERING))
SECTOR_CODES = np.array([WORK_SECTOR_CODE[name] for name in SECTORS])
ELDERLY_AGE = 65


def store_demand(days_since_reopening: np.ndarray, shops) -> np.ndarray:
    """Demand of a reopened store, share of normal: 1 - (1 - f0) * 2**(-t / half-life) (docs/ledger.md 4.2)."""
    t = np.asarray(days_since_reopening, dtype=np.float64)
    return 1.0 - (1.0 - shops.reopening_demand_fraction) * np.exp2(-t / max(shops.recovery_half_life_days, 1e-9))


@dataclass(frozen=True, slots=True)
class Ledger:
    """Keeps the daily accounts of containment's costs (it never changes anyone's behaviour)."""

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
         "food_stock_days", "food_stock_initial", "household_ran_out", "household_out_today", "store_closed_streak",
         "store_runway_days", "store_failed", "store_days_since_reopen", "ledger_daily", "ledger_store"}
    )

    # -- set-up -----------------------------------------------------------------------------------
    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        cfg = self.config
        g = state.groups
        workers = np.flatnonzero(state.workplace_id >= 0)
        shares = np.array([cfg.income.worker_type_share[t] for t in WORKER_TYPES], dtype=float)
        state.worker_type[workers] = rng.choice(len(WORKER_TYPES), size=workers.size, p=shares / shares.sum())
        households = g.household_count
        sizes = np.diff(g.household_start)
        first = g.household_start[:-1]
        elderly_alone = (sizes == 1) & (state.age[first] >= ELDERLY_AGE)
        stock = lognormal(rng, cfg.food.stock_days_mean, cfg.food.stock_days_sd, households)
        stock = np.where(elderly_alone, stock * cfg.food.elderly_alone_stock_factor, stock).astype(np.float32)
        runway = lognormal(rng, cfg.shops.cash_runway_days_mean, cfg.shops.cash_runway_days_sd, g.workplace_count)
        arrays = {
            "food_stock_days": stock.copy(),
            "food_stock_initial": stock,
            "household_ran_out": np.zeros(households, dtype=np.int8),
            "household_out_today": np.zeros(households, dtype=np.int8),
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
        state.stores["ledger_store"] = LedgerStore(
            household_subdistrict=state.subdistrict_id[first].astype(np.int64),
            household_district=state.district_id[first].astype(np.int64),
            household_elderly_alone=elderly_alone,
            is_store=np.isin(g.workplace_sector, STORE_SECTORS),
            logistics_workers=np.flatnonzero(state.sector == Sector.LOGISTICS),
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
            daily[row["stores"]] = np.bincount(g.workplace_district[store.is_store].astype(np.int64), minlength=districts)
            store.pressure.append(np.zeros(g.subdistrict_count, dtype=np.float32))
            return

        # 1. Confinement.
        person_days = np.zeros((districts, len(Mobility)), dtype=np.int64)
        after_ten = np.zeros(districts, dtype=np.int64)
        account_confinement(
            state.compartment, state.mobility, state.consecutive_negatives, state.district_id,
            state.confined_streak_days, state.longest_confinement_days, state.confined_days_total,
            state.ledger_flags, person_days, after_ten,
        )
        daily[row["confined_compound_person_days"]] = person_days[:, Mobility.COMPOUND]
        daily[row["confined_home_person_days"]] = person_days[:, Mobility.HOME]
        daily[row["facility_person_days"]] = person_days[:, Mobility.FACILITY]
        daily[row["confined_after_ten_negatives_person_days"]] = after_ten

        # 2. Food.
        confined = np.empty(g.household_count, dtype=np.int8)
        alive = np.empty(g.household_count, dtype=np.int32)
        household_confinement(g.household_start, state.compartment, state.mobility, cfg.food.confined_level,
                              confined, alive)
        stock = state.food_stock_days
        is_confined = confined == 1
        stock[~is_confined] = state.food_stock_initial[~is_confined]  # free to shop: restocked
        stock[is_confined] = np.maximum(stock[is_confined] - 1.0, 0.0)
        self._deliver(state, is_confined, stock, rng)
        out = is_confined & (stock <= 0.0)
        state.household_out_today[:] = out
        newly_out = out & (state.household_ran_out == 0)
        state.household_ran_out[out] = 1
        daily[row["food_shortfall_person_days"]] = np.bincount(store.household_district[out], weights=alive[out],
                                                              minlength=districts)
        daily[row["households_ran_out_new"]] = np.bincount(store.household_district[newly_out], minlength=districts)
        elderly_new = newly_out & store.household_elderly_alone
        daily[row["elderly_alone_ran_out_new"]] = np.bincount(store.household_district[elderly_new], minlength=districts)
        daily[row["households_without_food"]] = np.bincount(store.household_district[out], minlength=districts)

        # 3. Income.
        wage = np.zeros(max(WORK_SECTOR_CODE.values()) + 1)
        for name, code in WORK_SECTOR_CODE.items():
            wage[code] = cfg.income.daily_wage_cny_by_sector[name]
        loss = np.array([cfg.income.wage_loss_fraction_by_type[t] for t in WORKER_TYPES])
        lost_district = np.zeros(districts)
        lost_sector_code = np.zeros(wage.size)
        lost_type = np.zeros(len(WORKER_TYPES))
        idle = np.zeros(districts, dtype=np.int64)
        account_income(
            state.compartment, state.mobility, state.health_code, state.workplace_id, state.workplace_is_open,
            state.sector, state.worker_type, state.district_id, wage, loss, lost_district, lost_sector_code,
            lost_type, idle,
        )
        daily[row["income_lost_cny"]] = lost_district
        daily[row["workers_kept_from_work"]] = idle
        store.income_by_sector += lost_sector_code[SECTOR_CODES]
        store.income_by_type += lost_type

        # 4. Shops: small stores and restaurants.
        is_store = store.is_store
        closed = is_store & ((state.workplace_is_open == 0) | (state.store_failed == 1))
        streak = state.store_closed_streak
        reopened = is_store & ~closed & (streak > 0)
        streak[closed] = np.minimum(streak[closed].astype(np.int32) + 1, 32767)
        fails = closed & (state.store_failed == 0) & (streak > state.store_runway_days)
        state.store_failed[fails] = 1
        streak[~closed] = 0
        since = state.store_days_since_reopen
        since[reopened] = 0
        running = is_store & ~closed & (since >= 0)
        since[running & ~reopened] = np.minimum(since[running & ~reopened].astype(np.int32) + 1, 32767)
        demand = np.ones(g.workplace_count)
        demand[running] = store_demand(since[running], cfg.shops)
        demand[closed] = 0.0
        workplace_district = g.workplace_district.astype(np.int64)
        daily[row["stores_closed"]] = np.bincount(workplace_district[closed], minlength=districts)
        daily[row["stores_failed"]] = np.bincount(workplace_district[is_store & (state.store_failed == 1)],
                                                 minlength=districts)
        daily[row["store_demand_lost"]] = np.bincount(workplace_district[is_store], weights=1.0 - demand[is_store],
                                                     minlength=districts)
        daily[row["stores"]] = np.bincount(workplace_district[is_store], minlength=districts)

        # 5. Care denied (expected episodes among people confined at home or in a facility).
        care = cfg.care
        shut_in = person_days[:, Mobility.HOME] + person_days[:, Mobility.FACILITY]
        missed = 1.0 - care.access_when_confined_fraction
        dialysis_sessions = shut_in * care.dialysis_patients_per_100k / 1e5 * care.dialysis_sessions_per_week / 7 * missed
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
            from zerosim.policy.testing import TestingCounter

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
        #    who cannot work, per subdistrict.
        by_subdistrict = np.zeros(g.subdistrict_count, dtype=np.int64)
        by_district = np.zeros(districts, dtype=np.int64)
        count_pressure(state.compartment, state.confined_streak_days, self.pressure_confined_days, state.household_id,
                       state.household_out_today, state.workplace_id, state.mobility, state.subdistrict_id,
                       state.district_id, by_subdistrict, by_district)
        people = np.diff(g.subdistrict_start)
        store.pressure.append((by_subdistrict / np.maximum(people, 1)).astype(np.float32))
        daily[row["residents_under_pressure"]] = by_district

    def _deliver(self, state: PopulationState, is_confined: np.ndarray, stock: np.ndarray, rng) -> None:
        """Resupply confined households about to run out, up to each subdistrict's delivery capacity."""
        food = self.config.food
        store: LedgerStore = state.ledger_store
        g = state.groups
        couriers = store.logistics_workers
        working = float((state.mobility[couriers] == Mobility.FREE).sum()) / max(float(couriers.size), 1.0)
        factor = 1.0 - food.courier_dependence_fraction * (1.0 - working)
        people = np.diff(g.subdistrict_start)
        capacity = np.floor(food.deliveries_per_day_per_100k * people / 1e5 * factor).astype(np.int64)
        needy = np.flatnonzero(is_confined & (stock < 1.0))
        if needy.size == 0:
            return
        needy = needy[np.argsort(rng.random(needy.size), kind="stable")]  # first come, first served
        sub = store.household_subdistrict[needy]
        order = np.argsort(sub, kind="stable")
        needy, sub = needy[order], sub[order]
        rank = np.arange(needy.size) - np.searchsorted(sub, sub, side="left")
        served = needy[rank < capacity[sub]]
        stock[served] += food.delivery_days_of_food

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        daily = state.ledger_daily
        metrics: dict[str, float | np.ndarray] = {}
        for name, index in LEDGER_INDEX.items():
            metrics[f"ledger:{name}"] = daily[index].copy()
            metrics[f"ledger_{name}"] = float(daily[index].sum())
        pressure = state.ledger_store.pressure
        metrics["ledger_resistance_pressure_max"] = float(pressure[-1].max()) if pressure else 0.0
        return metrics


@dataclass
class LedgerStore:
    """Ledger data that is not per-day-per-district: lookups, per-sector totals, the pressure index."""

    household_subdistrict: np.ndarray
    household_district: np.ndarray
    household_elderly_alone: np.ndarray
    is_store: np.ndarray
    logistics_workers: np.ndarray
    income_by_sector: np.ndarray
    income_by_type: np.ndarray
    pressure: list


#: The per-district daily accounts (rows of ``ledger_daily``), in ledger.parquet's column order.
LEDGER_ROWS = (
    "confined_compound_person_days",
    "confined_home_person_days",
    "facility_person_days",
    "confined_after_ten_negatives_person_days",
    "food_shortfall_person_days",
    "households_without_food",
    "households_ran_out_new",
    "elderly_alone_ran_out_new",
    "income_lost_cny",
    "workers_kept_from_work",
    "stores",
    "stores_closed",
    "stores_failed",
    "store_demand_lost",
    "testing_cny",
    "testing_staff_hours",
    "testing_queue_hours",
    "dialysis_sessions_missed",
    "emergencies_without_care",
    "births_without_care",
    "chemotherapy_patient_days_missed",
    "excess_non_covid_deaths",
    "residents_under_pressure",
)
LEDGER_INDEX = {name: index for index, name in enumerate(LEDGER_ROWS)}
