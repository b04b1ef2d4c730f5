"""Closures: which workplaces a sealed area keeps open."""

from __future__ import annotations

import numpy as np

from zerosim.engine.rng import component_rng
from zerosim.policy.closures import Closures
from zerosim.policy.config import ClosuresConfig
from zerosim.population.state import WORK_SECTOR_CODE, ZoneLevel


def test_a_fixed_share_of_essential_workplaces_runs_in_a_sealed_city(make_state):
    """In a sealed city the non-essential sectors close and essential workplace w keeps running exactly
    when (w x 0.618...) mod 1 falls below the open fraction (the same workplaces every day)."""
    state = make_state(20_000)
    config = ClosuresConfig(enabled=True, sector_close_level={"retail": "controlled", "office": "controlled"},
                            essential_sectors=["retail"], essential_open_fraction=0.4)
    closures = Closures(config=config)
    closures.setup(state, component_rng(1, "closures"))
    state.add_unit_array("district_level", np.full(state.district_count, ZoneLevel.SEALED, dtype=np.int8))
    state.add_unit_array("city_zone", np.zeros(5, dtype=np.int32))
    closures.step(state, 3, component_rng(1, "closures"))
    sector = state.groups.workplace_sector
    ids = np.arange(sector.size)
    runs = (ids * 0.6180339887498949) % 1.0 < 0.4
    expected = np.where(sector == WORK_SECTOR_CODE["retail"], runs, sector != WORK_SECTOR_CODE["office"])
    retail = sector == WORK_SECTOR_CODE["retail"]
    assert retail.sum() > 20 and 0 < expected[retail].mean() < 1
    assert np.array_equal(state.workplace_is_open.astype(bool), expected)
