"""Ensembles on a Dask LocalCluster with 2 workers: results gathered, bands computed, failures reported."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from zerosim.cli.app import app


def test_ensemble_with_a_sweep(tmp_path):
    out = tmp_path / "ens"
    result = CliRunner().invoke(app, [
        "ensemble", "demo", "--runs", "2", "--population", "5000", "--days", "15", "--out", str(out),
        "--sweep", "transmission.r0=8,9", "--workers", "2",
    ])
    assert result.exit_code == 0, result.output
    failures = json.loads((out / "failures.json").read_text())
    assert failures == []
    summaries = pd.read_parquet(out / "summaries.parquet")
    assert sorted(summaries["replicate"]) == [0, 0, 1, 1]
    assert summaries["seed"].nunique() == 2  # replicates have their own seeds
    series = pd.read_parquet(out / "replicates")
    assert len(series) == 4 * 15
    quantiles = pd.read_parquet(out / "quantiles.parquet")
    assert set(quantiles["quantile"]) == {0.05, 0.25, 0.5, 0.75, 0.95}
    median = quantiles[quantiles["quantile"] == 0.5].set_index("day")["new_infections"]
    assert (median >= 0).all() and median.sum() > 0
    assert (out / "ensemble_bands.png").stat().st_size > 10_000
    meta = json.loads((out / "ensemble.json").read_text())
    assert meta["succeeded"] == 4 and meta["failed"] == 0


def test_an_ensemble_too_big_for_memory_is_refused_before_any_worker_starts(tmp_path):
    out = tmp_path / "ens"
    result = CliRunner().invoke(app, [
        "ensemble", "demo", "--runs", "2", "--population", "5000", "--days", "15", "--out", str(out),
        "--sweep", "population.size=5000,1900000000", "--workers", "2",
    ])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: population.size") and "GiB" in lines[0]
    assert not out.exists()  # nothing started, nothing written


def test_replicates_that_still_fail_are_reported(tmp_path, monkeypatch):
    """Failures inside workers (here: an in-process cluster, so the model can be made to fail on purpose)."""
    from dask.distributed import LocalCluster

    import zerosim.api
    from zerosim.errors import StateError

    real_run = zerosim.api.run

    def failing_run(scenario, **kwargs):
        if scenario.seeding[0].count == 7:
            raise StateError("compartment: broken on purpose")
        return real_run(scenario, **kwargs)

    monkeypatch.setattr(zerosim.api, "run", failing_run)
    out = tmp_path / "ens"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                      dashboard_address=None) as cluster:
        result = CliRunner().invoke(app, [
            "ensemble", "well-mixed", "--runs", "2", "--population", "2000", "--days", "5", "--out", str(out),
            "--sweep", "seeding.0.count=5,7", "--scheduler", cluster.scheduler_address,
        ])
    assert result.exit_code == 1, result.output
    assert "failed: sweep" in result.stderr and "broken on purpose" in result.stderr
    failures = json.loads((out / "failures.json").read_text())
    assert len(failures) == 2 and all("StateError" in f["error"] for f in failures)
    meta = json.loads((out / "ensemble.json").read_text())
    assert meta["succeeded"] == 2 and meta["failed"] == 2
    # a closing summary per sweep point: what the replicates found
    assert "seeding.0.count=5: 2 replicates; infections median" in result.stdout
    assert "seeding.0.count=7: no replicate succeeded (2 failed)" in " ".join(result.stdout.split())

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
