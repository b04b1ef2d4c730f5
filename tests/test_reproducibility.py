"""Same seed -> identical outputs; different seed -> different."""

from __future__ import annotations

import pandas as pd

import zerosim


def _run(tmp_path, seed, name):
    return zerosim.run(
        "demo", overrides={"population.size": 20_000, "duration_days": 40, "seed": seed}, out=tmp_path / name, figures=False
    )


def test_same_seed_identical_timeseries(tmp_path):
    a = _run(tmp_path, 7, "a")
    b = _run(tmp_path, 7, "b")
    ta = pd.read_parquet(tmp_path / "a" / "timeseries.parquet")
    tb = pd.read_parquet(tmp_path / "b" / "timeseries.parquet")
    pd.testing.assert_frame_equal(ta, tb)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "a" / "by_district.parquet"), pd.read_parquet(tmp_path / "b" / "by_district.parquet")
    )
    assert a.summary["infections"] == b.summary["infections"]
    assert a.summary["infections"] > 20  # the epidemic took off; otherwise the comparison is empty


def test_different_seed_differs(tmp_path):
    _run(tmp_path, 7, "a")
    _run(tmp_path, 8, "b")
    ta = pd.read_parquet(tmp_path / "a" / "timeseries.parquet")
    tb = pd.read_parquet(tmp_path / "b" / "timeseries.parquet")
    assert not ta["new_infections"].equals(tb["new_infections"])
