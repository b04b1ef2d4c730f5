"""Leaks of the containment, as mechanisms: what a sealed city still lets through."""

from __future__ import annotations

import zerosim

SEALED_CITY = {"population.size": 30_000, "duration_days": 25, "policy": "dynamic-zero-2022",
               "containment": {"zoning.city_ordered_level": "sealed"}, "seeding.0.count": 300}


def _by_layer(**overrides):
    results = zerosim.run("demo", overrides={**SEALED_CITY, **overrides}, figures=False)
    table = results.timeseries
    return {layer: int(table[f"new_infections_{layer}"].sum()) for layer in
            ("household", "building", "compound", "workplace", "community", "citywide")}


def test_sealed_flats_share_their_building_and_their_test_queue_and_nothing_else():
    closed = _by_layer(**{"transmission.sealed_contacts_per_day": None, "transmission.test_queue_contacts": None,
                          "containment.zoning.essential_exempt_fraction": {}})
    assert closed["household"] > 0
    assert sum(v for k, v in closed.items() if k != "household") == 0, closed
    building = _by_layer(**{"transmission.sealed_contacts_per_day": 0.32, "transmission.test_queue_contacts": None,
                            "containment.zoning.essential_exempt_fraction": {}})
    assert building["building"] > 0, building
    assert building["compound"] == building["workplace"] == building["community"] == 0, building
    queue = _by_layer(**{"transmission.sealed_contacts_per_day": None, "transmission.test_queue_contacts": 2.0,
                         "containment.zoning.essential_exempt_fraction": {}})
    assert queue["compound"] > 0, queue
    assert queue["building"] == queue["workplace"] == queue["community"] == 0, queue


def test_essential_workers_carry_infection_out_of_sealed_compounds():
    """A sealed city with no testing and no health codes: only the exempt workers meet anyone outside."""
    untested = {"zoning.city_ordered_level": "sealed", "testing.campaigns": [], "testing.sector_screening": [],
                "testing.symptomatic_test_probability_per_day": 0.0, "tracing.enabled": False,
                "health_code.enabled": False}
    outside = ("compound", "workplace", "community", "citywide")
    sealed = _by_layer(**{"containment": untested, "transmission.sealed_contacts_per_day": None,
                          "transmission.test_queue_contacts": None,
                          "containment.zoning.essential_exempt_fraction": {}})
    assert sum(sealed[layer] for layer in outside) == 0, sealed
    kept = _by_layer(**{"containment": untested, "transmission.sealed_contacts_per_day": None,
                        "transmission.test_queue_contacts": None,
                        "containment.zoning.essential_exempt_fraction": {"logistics": 1.0, "health": 1.0}})
    assert kept["workplace"] > 0, kept
