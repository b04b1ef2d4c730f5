"""Ensembles on a Dask LocalCluster with 2 workers: results gathered, bands computed, failures reported."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from zerosim.cli.app import app


def test_ensemble_with_a_sweep_and_a_failing_replicate(tmp_path):
    out = tmp_path / "ens"
    result = CliRunner().invoke(app, [
        "ensemble", "demo", "--runs", "2", "--population", "5000", "--days", "15", "--out", str(out),
        "--sweep", "population.size=5000,1900000000", "--workers", "2",
    ])
    # the 1.9-billion-person sweep point cannot fit in memory: its replicates fail and are reported
    assert result.exit_code == 1, result.output
    assert "failed: sweep" in result.stderr and "population.size" in result.stderr
    failures = json.loads((out / "failures.json").read_text())
    assert len(failures) == 2 and all("ScenarioError" in f["error"] for f in failures)
    summaries = pd.read_parquet(out / "summaries.parquet")
    assert sorted(summaries["replicate"]) == [0, 1]
    assert summaries["seed"].nunique() == 2  # replicates have their own seeds
    series = pd.read_parquet(out / "replicates")
    assert len(series) == 2 * 15
    quantiles = pd.read_parquet(out / "quantiles.parquet")
    assert set(quantiles["quantile"]) == {0.05, 0.25, 0.5, 0.75, 0.95}
    median = quantiles[quantiles["quantile"] == 0.5].set_index("day")["new_infections"]
    assert (median >= 0).all() and median.sum() > 0
    assert (out / "ensemble_bands.png").stat().st_size > 10_000
    meta = json.loads((out / "ensemble.json").read_text())
    assert meta["succeeded"] == 2 and meta["failed"] == 2
    # a closing summary per sweep point: what the replicates found
    assert "population.size=5000: 2 replicates; infections median" in result.stdout
    assert "population.size=1900000000: no replicate succeeded (2 failed)" in result.stdout

    # an ensemble already in --out is refused in one line (exit 2), and replaced with --force
    again = CliRunner().invoke(app, ["ensemble", "demo", "--runs", "1", "--population", "3000", "--days", "5",
                                     "--out", str(out)])
    assert again.exit_code == 2 and again.stderr.startswith("error: --out") and "--force" in again.stderr
    (out / "mine.txt").write_text("not the ensemble's")
    forced = CliRunner().invoke(app, ["ensemble", "demo", "--runs", "1", "--population", "3000", "--days", "5",
                                      "--out", str(out), "--force", "--workers", "1"])
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "ensemble.json").read_text())["runs"] == 1
    assert not json.loads((out / "failures.json").read_text())
    assert len(pd.read_parquet(out / "replicates")) == 5  # the old replicates are gone
    assert (out / "mine.txt").exists()  # only the ensemble's own files were removed
    assert "demo: 1 replicate; infections median" in forced.stdout
