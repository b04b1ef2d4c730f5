"""Ledger layer: the run totals the ledger adds to summary.json (its ``ledger`` object), described once.

Layer ``ledger`` -- imports only the engine's declaration types. ``compare``, the HTML report and the
dashboard take each total's label, unit and group from here (through the Ledger component's
``totals``), so a new ledger line is named in one place.
"""

from __future__ import annotations

from zerosim.engine.component import Measure, Total

#: The groups the totals are shown in, in order.
LEDGER_GROUPS: tuple[str, ...] = ("Confinement", "Food", "Income", "Small stores and restaurants", "Testing",
                                  "Care denied", "Facilities", "Resistance pressure", "Other")

#: Every total of summary.json's ``ledger`` object, in the order the report shows them.
LEDGER_TOTALS: tuple[Total, ...] = (
    Total("confined_person_days", "Person-days confined (home, compound or facility)", "person-days", "Confinement"),
    Total("confined_home_person_days", "Person-days confined at home", "person-days", "Confinement", part=True),
    Total("confined_compound_person_days", "Person-days confined to the compound (controlled zone)",
          "person-days", "Confinement", part=True),
    Total("facility_person_days", "Person-days in a centralized facility", "person-days", "Confinement", part=True),
    Total("people_ever_confined", "People ever confined", "people", "Confinement"),
    Total("longest_confinement_days_max", "Longest unbroken confinement of anyone", "days", "Confinement"),
    Total("longest_confinement_days_mean", "Longest unbroken confinement, mean over people confined",
          "days", "Confinement"),
    Total("people_confined_after_ten_negatives", "People still confined after ten negative tests in a row",
          "people", "Confinement"),
    Total("confined_after_ten_negatives_person_days", "Person-days confined after ten negative tests",
          "person-days", "Confinement", part=True),
    Total("food_shortfall_person_days", "Person-days without food in confined households", "person-days", "Food"),
    Total("households_ran_out", "Households that ran out of food", "households", "Food"),
    Total("elderly_alone_ran_out", "Households of people aged 65+ living alone that ran out",
          "households", "Food", part=True),
    Total("elderly_alone_households", "Households of people aged 65+ living alone", "households", "Food", part=True),
    Total("households_group_buying", "Households taking part in compound group buying", "households", "Food"),
    Total("income_lost_cny", "Income lost", "CNY", "Income"),
    Total("income_lost_cny_by_sector", "Income lost, by sector", "CNY", "Income"),
    Total("income_lost_cny_by_worker_type", "Income lost, by worker type", "CNY", "Income"),
    Total("worker_days_lost", "Worker-days kept from work", "person-days", "Income"),
    Total("stores", "Small stores and restaurants in the city", "stores", "Small stores and restaurants"),
    Total("store_days_closed", "Store-days closed", "store-days", "Small stores and restaurants"),
    Total("stores_failed", "Stores failed for good", "stores", "Small stores and restaurants"),
    Total("store_demand_lost_store_days", "Demand lost after reopening",
          "store-days", "Small stores and restaurants"),
    Total("testing_cny", "Testing cost", "CNY", "Testing"),
    Total("testing_staff_hours", "Sampler staff-hours", "hours", "Testing"),
    Total("testing_queue_hours", "Citizens' hours walking to and queueing for swabs", "hours", "Testing"),
    Total("dialysis_sessions_missed", "Dialysis sessions missed", "episodes", "Care denied"),
    Total("emergencies_without_care", "Emergencies (heart attack, stroke) without care", "episodes", "Care denied"),
    Total("births_without_care", "Births without care", "episodes", "Care denied"),
    Total("chemotherapy_patient_days_missed", "Chemotherapy patient-days missed", "person-days", "Care denied"),
    Total("excess_non_covid_deaths", "Excess non-COVID deaths (expected)", "deaths", "Care denied"),
    Total("infections_in_facilities", "Infections acquired inside facilities", "people", "Facilities"),
    Total("people_per_toilet", "People per toilet in facilities (a parameter, not a total of the run)",
          "people per toilet", "Facilities", parameter=True),
    Total("resistance_pressure_max", "Resistance-pressure index, highest subdistrict-day (not a prediction of protest)",
          "fraction", "Resistance pressure"),
)

#: The per-district daily accounts (rows of the ledger's ``ledger_daily``), in ledger.parquet's column
#: order, with their units.
LEDGER_ROWS: tuple[str, ...] = (
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
_ROW_UNITS = {"households_without_food": "households", "households_ran_out_new": "households",
              "elderly_alone_ran_out_new": "households", "workers_kept_from_work": "people", "stores": "stores",
              "stores_closed": "stores", "stores_failed": "stores", "store_demand_lost": "store-days",
              "residents_under_pressure": "people"}
_TOTALS = {total.key: total for total in LEDGER_TOTALS}
#: The ledger's daily measures by district: reported as ``ledger:<row>``, written to ledger.parquet's column <row>.
LEDGER_MEASURES: tuple[Measure, ...] = tuple(
    Measure(f"ledger:{row}", _TOTALS[row].label if row in _TOTALS else row.replace("_", " "),
            _ROW_UNITS.get(row) or (_TOTALS[row].unit if row in _TOTALS else "count"),
            aggregate=None, table="ledger", column=row)
    for row in LEDGER_ROWS)
