"""Same seed -> identical results whatever the Numba thread count (1 vs 2)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to run two Numba threads")
@pytest.mark.parametrize("policy", ["none", "dynamic-zero-2022"])
def test_results_do_not_depend_on_thread_count(tmp_path, policy):
    frames = []
    for threads in ("1", "2"):
        out = tmp_path / f"threads{threads}"
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        done = subprocess.run(
            [sys.executable, "-m", "zerosim.cli.app", "run", "demo", "--population", "40000", "--days", "40",
             "--seed", "6", "--set", f"policy={policy}", "--set", "behaviour.enabled=true",
             "--set", "seeding.0.count=200", "--out", str(out),  # enough infections to exercise every path
             "--no-figures", "--quiet"],
            env=env, capture_output=True, text=True,
        )
        assert done.returncode == 0, done.stderr
        frames.append((pd.read_parquet(out / "timeseries.parquet"), pd.read_parquet(out / "ledger.parquet")))
    pd.testing.assert_frame_equal(frames[0][0], frames[1][0])
    pd.testing.assert_frame_equal(frames[0][1], frames[1][1])
    assert frames[0][0]["new_infections"].sum() > 250  # onward infections beyond the 200 seeds
