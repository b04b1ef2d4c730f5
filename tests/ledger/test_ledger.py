"""The ledger: accounting identities, zero costs without a policy, monotone costs of longer
sealing, fatigue leaking infections (its kernels against NumPy references: test_kernels.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pytest

import zerosim
from zerosim.engine.component import Phase
from zerosim.engine.simulation import Simulation
from zerosim.policy.config import LEVEL_CODE
from zerosim.population.state import Compartment, Mobility, Sector


@dataclass
class Auditor:
    """A test component that runs after the ledger each day and checks invariants."""

    close_level: dict
    name: str = "auditor"
    phase: ClassVar[Phase] = Phase.LEDGER
    reads: ClassVar[frozenset[str]] = frozenset()
    writes: ClassVar[frozenset[str]] = frozenset()
    confined_agent_days: int = 0
    reopened_in_closed_zone: int = 0
    min_stock: float = np.inf
    days: int = 0
    history: list = field(default_factory=list)

    def setup(self, state, rng):
        pass

    def step(self, state, day, rng):
        alive = state.compartment != Compartment.DEAD
        self.confined_agent_days += int((alive & (state.mobility >= Mobility.COMPOUND)).sum())
        self.min_stock = min(self.min_stock, float(state.food_stock_days.min()))
        if state.has_array("district_level"):
            g = state.groups
            area = np.maximum(state.district_level, state.city_zone[0])[g.workplace_district]
            for sector, level in self.close_level.items():
                code = {"retail": Sector.RETAIL, "catering": Sector.CATERING}.get(sector)
                if code is None:
                    continue
                closed_zone = (g.workplace_sector == code) & (area >= LEVEL_CODE[level])
                self.reopened_in_closed_zone += int((state.workplace_is_open[closed_zone] == 1).sum())
        self.days += 1

    def report(self, state, day):
        return {}


def run_audited(overrides):
    scenario = zerosim.load_scenario("demo", overrides)
    base = zerosim.build(scenario)
    close_level = dict(scenario.resolved_containment().closures.sector_close_level)
    auditor = Auditor(close_level)
    simulation = Simulation(base.state, [c for c, _ in base.plan] + [auditor], scenario.duration_days, scenario.seed)
    recorder = simulation.run()
    return simulation, recorder, auditor


def test_accounting_identities():
    simulation, recorder, auditor = run_audited(
        {"population.size": 60_000, "duration_days": 45, "policy": "dynamic-zero-2022", "seed": 5})
    s = recorder.scalars
    ledger_confined = (s["ledger_confined_compound_person_days"] + s["ledger_confined_home_person_days"]
                       + s["ledger_facility_person_days"]).sum()
    assert ledger_confined > 0
    assert ledger_confined == auditor.confined_agent_days          # = sum over agents and days
    assert ledger_confined == simulation.state.confined_days_total.sum()
    assert auditor.min_stock >= 0.0                                  # food stocks never negative
    assert auditor.reopened_in_closed_zone == 0                     # no store open in a closed zone
    by_district = recorder.ledger["income_lost_cny"].sum()
    assert np.isclose(by_district, s["ledger_income_lost_cny"].sum())


def test_no_policy_costs_nothing():
    results = zerosim.run("demo", overrides={"population.size": 30_000, "duration_days": 40, "policy": "none"})
    ledger = results.summary["ledger"]
    assert ledger["confined_person_days"] == 0
    assert ledger["food_shortfall_person_days"] == 0 and ledger["households_ran_out"] == 0
    assert ledger["store_days_closed"] == 0 and ledger["stores_failed"] == 0
    assert ledger["testing_cny"] == 0
    # illness is not a containment cost: the only income lost is none
    assert ledger["income_lost_cny"] == 0


def test_longer_sealing_costs_more():
    costs = []
    for days_sealed in (10, 25, 45):
        results = zerosim.run("demo", overrides={
            "population.size": 30_000, "duration_days": 60, "seeding": [], "policy": "dynamic-zero-2022",
            "containment": {"zoning.city_sealed_from_day": 2, "zoning.city_min_sealed_days": days_sealed},
        })
        ledger = results.summary["ledger"]
        assert results.summary["city_sealed_days"] == days_sealed
        costs.append((ledger["confined_person_days"], ledger["food_shortfall_person_days"], ledger["income_lost_cny"],
                      ledger["store_days_closed"]))
    for shorter, longer in zip(costs, costs[1:]):
        assert all(b > a for a, b in zip(shorter, longer)), costs


@pytest.mark.statistical
def test_fatigue_leaks_infections_in_a_long_lockdown():
    infections = {}
    for enabled in (False, True):
        results = zerosim.run("demo", overrides={
            "population.size": 60_000, "duration_days": 90, "seed": 3, "policy": "wuhan-2020",
            "behaviour": {"enabled": enabled, "fatigue_per_confined_day": 0.03},
            "containment": {"zoning.city_sealed_from_day": 0, "zoning.city_min_sealed_days": 90},
        })
        infections[enabled] = results.summary["infections"]
    assert infections[True] > infections[False], infections


def test_store_recovery_matches_shanghai_2022_catering():
    """Validation (docs/ledger.md 4.2): demand after reopening vs Shanghai's 2022 catering sales."""
    from zerosim.ledger.components import store_demand
    from zerosim.ledger.config import default_ledger

    shops = default_ledger().shops
    assert np.isclose(store_demand(0, shops), 0.6) and np.isclose(store_demand(14, shops), 0.8)
    july = store_demand(np.arange(2, 33), shops).mean()
    august = store_demand(np.arange(33, 64), shops).mean()
    assert abs(july - 0.793) < 0.03    # observed July 2022 catering, share of 2021
    assert abs(august - 1.008) < 0.06  # observed August 2022


def test_stores_fail_only_beyond_their_runway():
    results = zerosim.run("demo", overrides={
        "population.size": 30_000, "duration_days": 80, "seeding": [], "policy": "dynamic-zero-2022",
        "containment": {"zoning.city_sealed_from_day": 1, "zoning.city_min_sealed_days": 60}})
    ledger = results.summary["ledger"]
    assert 0 < ledger["stores_failed"] < ledger["stores"]
    failed_by_day = results.timeseries["ledger_stores_failed"].to_numpy()
    assert (np.diff(failed_by_day) >= 0).all()  # a failed store stays failed
