"""Checkpoints: a killed run keeps what was done, and --resume finishes it to the same result."""

from __future__ import annotations

import pandas as pd
import pytest

import zerosim
from zerosim.api import CHECKPOINT_FILE, resume

OVERRIDES = {"population.size": 30_000, "duration_days": 30, "seed": 9, "policy": "dynamic-zero-2022"}


class Killed(Exception):
    pass


def kill_after(day_to_die):
    def on_day(day):
        if day == day_to_die:
            raise Killed

    return on_day


@pytest.mark.parametrize("behaviour", [False, True])
def test_resume_gives_the_uninterrupted_result(tmp_path, behaviour):
    overrides = {**OVERRIDES, "behaviour": {"enabled": behaviour}}
    full = zerosim.run("demo", overrides=overrides, out=tmp_path / "full", figures=False)
    with pytest.raises(Killed):
        zerosim.run("demo", overrides=overrides, out=tmp_path / "killed", figures=False, checkpoint_every=10,
                    on_day=kill_after(24))
    killed = tmp_path / "killed"
    assert (killed / CHECKPOINT_FILE).exists()
    partial = pd.read_parquet(killed / "timeseries.parquet")  # flushed at the day-20 checkpoint
    assert len(partial) == 20
    pd.testing.assert_frame_equal(partial, full.timeseries.iloc[:20].reset_index(drop=True))
    resumed = resume(killed, figures=False)
    pd.testing.assert_frame_equal(resumed.timeseries, full.timeseries)
    pd.testing.assert_frame_equal(resumed.ledger, full.ledger)
    assert resumed.summary["ledger"] == full.summary["ledger"]
    assert not (killed / CHECKPOINT_FILE).exists()


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(zerosim.OutputError, match="--resume"):
        resume(tmp_path)
