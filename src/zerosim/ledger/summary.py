"""Ledger layer: end-of-run tables and totals of the ledger (for summary.json and Parquet).

Layer ``ledger`` -- imports numpy/pandas, population codes and this layer only.
"""

from __future__ import annotations

import numpy as np
from zerosim.lazy import lazy_module

pd = lazy_module("pandas")  # imported when results are assembled, not during the daily loop

from zerosim.ledger.components import LEDGER_ROWS, LedgerStore
from zerosim.ledger.config import SECTORS, WORKER_TYPES, LedgerConfig
from zerosim.ledger.kernels import count_flagged
from zerosim.population.kernels import where_nonzero
from zerosim.population.state import PopulationState


def ledger_totals(state: PopulationState, timeseries: pd.DataFrame, config: LedgerConfig) -> dict:
    """The ``ledger`` object of summary.json: totals over the run, and per-person statistics."""
    if not state.has_array("ledger_store"):
        return {}
    store: LedgerStore = state.ledger_store
    total = {name: float(timeseries[f"ledger_{name}"].sum()) for name in LEDGER_ROWS}
    ever = where_nonzero(state.longest_confinement_days)  # int32 ids: no agent-sized temporaries at 25M
    longest = state.longest_confinement_days[ever]
    result = {
        "confined_person_days": total["confined_compound_person_days"] + total["confined_home_person_days"]
        + total["facility_person_days"],
        "confined_home_person_days": total["confined_home_person_days"],
        "confined_compound_person_days": total["confined_compound_person_days"],
        "facility_person_days": total["facility_person_days"],
        "people_ever_confined": int(ever.size),
        "longest_confinement_days_max": int(longest.max(initial=0)),
        "longest_confinement_days_mean": float(longest.mean()) if ever.size else 0.0,
        "people_confined_after_ten_negatives": int(count_flagged(state.ledger_flags, 1)),
        "confined_after_ten_negatives_person_days": total["confined_after_ten_negatives_person_days"],
        "food_shortfall_person_days": total["food_shortfall_person_days"],
        "households_ran_out": int((state.household_ran_out == 1).sum()),
        "elderly_alone_ran_out": int(((state.household_ran_out == 1) & store.household_elderly_alone).sum()),
        "elderly_alone_households": int(store.household_elderly_alone.sum()),
        "households_group_buying": int((state.household_group_buy == 1).sum()),
        "income_lost_cny": total["income_lost_cny"],
        "income_lost_cny_by_sector": {name: float(v) for name, v in zip(SECTORS, store.income_by_sector)},
        "income_lost_cny_by_worker_type": {name: float(v) for name, v in zip(WORKER_TYPES, store.income_by_type)},
        "worker_days_lost": total["workers_kept_from_work"],
        "store_days_closed": total["stores_closed"],
        "stores_failed": int((state.store_failed[store.is_store] == 1).sum()),
        "stores": int(store.is_store.sum()),
        "store_demand_lost_store_days": total["store_demand_lost"],
        "testing_cny": total["testing_cny"],
        "testing_staff_hours": total["testing_staff_hours"],
        "testing_queue_hours": total["testing_queue_hours"],
        "dialysis_sessions_missed": total["dialysis_sessions_missed"],
        "emergencies_without_care": total["emergencies_without_care"],
        "births_without_care": total["births_without_care"],
        "chemotherapy_patient_days_missed": total["chemotherapy_patient_days_missed"],
        "excess_non_covid_deaths": total["excess_non_covid_deaths"],
        "infections_in_facilities": int(timeseries["new_infections_facility"].sum())
        if "new_infections_facility" in timeseries else 0,
        "people_per_toilet": config.facilities.people_per_toilet,
        "resistance_pressure_max": float(timeseries["ledger_resistance_pressure_max"].max())
        if "ledger_resistance_pressure_max" in timeseries else 0.0,
    }
    return result


def pressure_table(state: PopulationState) -> pd.DataFrame:
    """day x subdistrict resistance-pressure index (share of residents), long format."""
    columns = {"day": [], "subdistrict": [], "district": [], "resistance_pressure": []}
    if not state.has_array("ledger_store") or not state.ledger_store.pressure:
        return pd.DataFrame(columns).astype({"day": "int32", "subdistrict": "int32", "resistance_pressure": "float32"})
    pressure = np.vstack(state.ledger_store.pressure)
    days, subdistricts = pressure.shape
    names = np.array(state.district_names, dtype=object)[state.groups.subdistrict_district]
    return pd.DataFrame({
        "day": np.repeat(np.arange(days, dtype=np.int32), subdistricts),
        "subdistrict": np.tile(np.arange(subdistricts, dtype=np.int32), days),
        "district": np.tile(names, days),
        "resistance_pressure": pressure.reshape(-1),
    })


def confinement_days_table(state: PopulationState) -> pd.DataFrame:
    """One row per person ever confined: longest unbroken and total confinement (days)."""
    ever = where_nonzero(state.longest_confinement_days)
    return pd.DataFrame({
        "district": pd.Categorical.from_codes(state.district_id[ever], categories=list(state.district_names)),
        "age": state.age[ever],
        "longest_confinement_days": state.longest_confinement_days[ever],
        "confined_days_total": state.confined_days_total[ever],
    })
