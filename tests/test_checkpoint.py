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


# -- the checkpoint format: arrays and JSON, never pickle (issue 15, case 1) -------------------------
import json  # noqa: E402
import pickle  # noqa: E402

import numpy as np  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from zerosim.cli.app import app  # noqa: E402
from zerosim.io.checkpoint import CHECKPOINT_INDEX, CHECKPOINT_VERSION  # noqa: E402

SMALL = {"population.size": 5_000, "duration_days": 12, "seed": 3, "policy": "dynamic-zero-2022"}


def resume_cli(run_dir):
    return CliRunner().invoke(app, ["run", "--resume", str(run_dir), "--no-figures", "--quiet"])


def assert_one_line(result, *fragments, code=2):
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A run killed on day 8 after a checkpoint at day 5 (and its uninterrupted twin)."""
    root = tmp_path_factory.mktemp("checkpoints")
    full = zerosim.run("demo", overrides=SMALL, out=root / "full", figures=False)
    with pytest.raises(Killed):
        zerosim.run("demo", overrides=SMALL, out=root / "killed", figures=False, checkpoint_every=5,
                    on_day=kill_after(7))
    return root / "killed", full


def copy_run(source, target):
    import shutil

    shutil.copytree(source, target)
    return target


def test_checkpoint_is_json_and_npz_without_pickle(killed_run):
    killed, _ = killed_run
    index = json.loads((killed / CHECKPOINT_INDEX).read_text())
    assert index["version"] == CHECKPOINT_VERSION and index["next_day"] == 5 and len(index["scenario_hash"]) == 16
    arrays = list(killed.glob("checkpoint-*.npz"))
    assert [path.name for path in arrays] == [index["arrays_file"]]
    with np.load(arrays[0], allow_pickle=False) as loaded:  # would raise on any object (pickled) array
        assert all(loaded[key].dtype.kind in "biuf" for key in loaded.files)
    assert not list(killed.glob("*.pkl")) and not list(killed.glob("*.tmp"))


def test_resume_from_the_new_format_matches_the_full_run(killed_run, tmp_path):
    killed, full = killed_run
    run_dir = copy_run(killed, tmp_path / "r")
    result = resume_cli(run_dir)
    assert result.exit_code == 0, result.output
    resumed = zerosim.read_results(run_dir)
    pd.testing.assert_frame_equal(resumed.timeseries, full.timeseries)
    assert not (run_dir / CHECKPOINT_INDEX).exists() and not list(run_dir.glob("checkpoint-*"))


def test_a_checkpoint_naming_the_old_store_class_still_resumes(killed_run, tmp_path):
    """InfectedAgents was ActiveAgents before issue 17: a checkpoint written then names the old class."""
    killed, full = killed_run
    run_dir = copy_run(killed, tmp_path / "old")
    index = run_dir / CHECKPOINT_INDEX
    text = index.read_text()
    assert '"InfectedAgents"' in text
    index.write_text(text.replace('"InfectedAgents"', '"ActiveAgents"'))
    result = resume_cli(run_dir)
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(zerosim.read_results(run_dir).timeseries, full.timeseries)


class _Exploit:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_checkpoint_is_never_unpickled(tmp_path):
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    marker = tmp_path / "pwned"
    (run_dir / "checkpoint.pkl").write_bytes(pickle.dumps({"version": 3, "x": _Exploit(marker)}))
    assert_one_line(resume_cli(run_dir), "checkpoint.pkl", "never read")
    assert not marker.exists()


def test_a_pickle_inside_the_array_file_is_refused(killed_run, tmp_path):
    run_dir = copy_run(killed_run[0], tmp_path / "r")
    marker = tmp_path / "pwned"
    index = json.loads((run_dir / CHECKPOINT_INDEX).read_text())
    path = run_dir / index["arrays_file"]
    with np.load(path, allow_pickle=False) as loaded:
        arrays = {key: loaded[key] for key in loaded.files}
    arrays["a0"] = np.array([_Exploit(marker)], dtype=object)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)
    assert_one_line(resume_cli(run_dir), "malformed")
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["not json", "a list", "other version", "other token", "truncated arrays",
                                    "no arrays file", "unknown class", "bad day", "deep nesting", "wrong dtype"])
def test_a_malformed_checkpoint_is_one_line_and_exit_2(killed_run, tmp_path, damage):
    run_dir = copy_run(killed_run[0], tmp_path / "r")
    path = run_dir / CHECKPOINT_INDEX
    index = json.loads(path.read_text())
    arrays = run_dir / index["arrays_file"]
    if damage == "not json":
        path.write_text("{not json")
    elif damage == "a list":
        path.write_text("[1, 2, 3]")
    elif damage == "other version":
        index["version"] = 99
    elif damage == "other token":
        index["token"] = "0" * 16
    elif damage == "truncated arrays":
        arrays.write_bytes(arrays.read_bytes()[:1000])
    elif damage == "no arrays file":
        arrays.unlink()
    elif damage == "unknown class":
        index["state"]["stores"] = {"__object__": "Popen", "fields": {}}
    elif damage == "bad day":
        index["next_day"] = 10_000
    elif damage == "deep nesting":
        index["state"]["stores"] = json.loads("[" * 500 + "]" * 500)
    elif damage == "wrong dtype":
        index["state"]["arrays"][0][1] = index["state"]["arrays"][1][1]  # age gets sex's (int8) array
    if damage not in ("not json", "a list", "truncated arrays", "no arrays file"):
        path.write_text(json.dumps(index))
    result = resume_cli(run_dir)
    assert_one_line(result, "--resume")
    assert "other version" != damage or "version 99" in result.stderr


def test_a_checkpoint_of_another_scenario_is_refused(killed_run, tmp_path):
    run_dir = copy_run(killed_run[0], tmp_path / "r")
    text = (run_dir / "scenario.yaml").read_text()
    (run_dir / "scenario.yaml").write_text(text.replace("seed: 3", "seed: 4"))
    assert_one_line(resume_cli(run_dir), "another scenario")
    index = json.loads((run_dir / CHECKPOINT_INDEX).read_text())
    (run_dir / "scenario.yaml").write_text(text)
    index["scenario"]["seed"] = 4  # the scenario no longer matches its own hash
    (run_dir / CHECKPOINT_INDEX).write_text(json.dumps(index))
    assert_one_line(resume_cli(run_dir), "scenario_hash")


def test_resume_of_a_missing_folder_is_exit_2(tmp_path):
    assert_one_line(resume_cli(tmp_path / "nowhere"), "--resume", "not a directory")
    assert_one_line(resume_cli(tmp_path), "--resume", "checkpoint.json")
