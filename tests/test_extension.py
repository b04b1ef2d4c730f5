"""A component from another installed package (issue 17): declared states, measures and settings reach the
run's state, its outputs, `compare` and the report; zerosim itself is not edited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import zerosim
from zerosim.engine.component import Measure, Phase
from zerosim.engine.simulation import Simulation
from zerosim.errors import StateError
from zerosim.population.state import ArraySpec, Travel

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mask_mandate"


@dataclass
class Counter:
    """A component declaring one per-agent array and one measure."""

    name: str = "counter"
    kind: ClassVar[str] = "counter"
    phase: ClassVar[Phase] = Phase.POLICY
    states: ClassVar[tuple] = (ArraySpec.of("days_counted", "int16", 0, "days seen", travel=Travel.WITH_PERSON),)
    measures: ClassVar[tuple] = (Measure("counted", "agents counted", "people", aggregate="max"),)
    reads: ClassVar[frozenset[str]] = frozenset()
    writes: ClassVar[frozenset[str]] = frozenset({"days_counted"})

    def setup(self, state, rng):
        pass

    def step(self, state, day, rng):
        state.days_counted[:] += 1

    def report(self, state, day):
        return {"counted": float(state.size)}


def test_declared_states_join_the_state_and_travel_with_people(make_state):
    state = make_state(2_000)
    assert not state.has_array("days_counted")
    simulation = Simulation(state, [Counter()], days=3, seed=1)
    simulation.run()
    assert state.days_counted.dtype == np.int16 and (state.days_counted == 3).all()
    assert state.schema["days_counted"].owner == "counter"
    assert "days_counted" in state.travel_columns()
    assert "household_id" not in state.travel_columns() and "age" in state.travel_columns()
    assert list(simulation.recorder.scalars["counted"]) == [2_000.0] * 3


def test_a_state_declared_twice_with_another_type_is_refused(make_state):
    @dataclass
    class Clash(Counter):
        name: str = "clash"
        kind: ClassVar[str] = "clash"
        states: ClassVar[tuple] = (ArraySpec.of("days_counted", "float32", 0, "clash"),)
        measures: ClassVar[tuple] = ()
        writes: ClassVar[frozenset[str]] = frozenset()

    with pytest.raises(StateError, match="days_counted"):
        Simulation(make_state(500), [Counter(), Clash()], days=1, seed=1)


def test_a_measure_declared_by_two_components_is_refused(make_state):
    @dataclass
    class Twin(Counter):
        name: str = "twin"
        kind: ClassVar[str] = "twin"
        states: ClassVar[tuple] = ()
        writes: ClassVar[frozenset[str]] = frozenset()

    with pytest.raises(StateError, match="'counted' is declared by both"):
        Simulation(make_state(500), [Counter(), Twin()], days=1, seed=1)


def test_an_unknown_component_kind_is_one_line_naming_the_field():
    with pytest.raises(zerosim.ScenarioError, match=r"^components\.no_such_thing: no installed package"):
        zerosim.load_scenario("demo", {"components": {"no_such_thing": {}}})
    with pytest.raises(zerosim.ScenarioError, match=r"^components\.testing: a built-in part"):
        zerosim.load_scenario("demo", {"components": {"testing": {}}})


def test_a_scenario_without_extensions_keeps_its_hash_and_file():
    scenario = zerosim.load_scenario("demo")
    assert "components" not in scenario.to_yaml()


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> Path:
    """The example package installed as a user would (pip), into a folder put on PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                             str(EXAMPLE)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return target


def _zerosim(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-c", "from zerosim.cli.app import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_the_example_package_is_one_module_and_its_packaging():
    files = sorted(p.name for p in EXAMPLE.iterdir() if p.is_file())
    assert files == ["README.md", "mask_mandate.py", "pyproject.toml"]


def test_an_installed_component_runs_from_a_scenario_and_shows_everywhere(installed_example, tmp_path):
    base, masked = tmp_path / "none", tmp_path / "masks"
    common = ["-n", "20000", "-d", "40", "-q", "--no-figures"]
    assert _zerosim(installed_example, "run", "demo", *common, "--out", str(base)).returncode == 0
    done = _zerosim(installed_example, "run", "demo", *common, "--out", str(masked),
                    "--set", "components.mask_mandate.start_day=5")
    assert done.returncode == 0, done.stderr
    summary = json.loads((masked / "summary.json").read_text())
    timeseries = pd.read_parquet(masked / "timeseries.parquet")
    assert summary["extensions"] == ["mask_mandate"]
    assert summary["measures"]["masked_person_days"] == {
        "label": "person-days masked", "unit": "person-days", "aggregate": "sum", "table": "timeseries",
        "component": "mask_mandate"}
    assert timeseries["mask_wearers"].iloc[:5].sum() == 0 and timeseries["mask_wearers"].iloc[5:].min() > 0
    assert summary["masked_person_days"] == timeseries["masked_person_days"].sum()
    assert summary["mask_wearers"] == timeseries["mask_wearers"].max()
    # the same seed without masks infects more people
    assert summary["infections"] < json.loads((base / "summary.json").read_text())["infections"]
    compared = _zerosim(installed_example, "compare", str(base), str(masked), "--json")
    assert compared.returncode == 0, compared.stderr
    assert "masked_person_days" in compared.stdout and "none+mask_mandate" in compared.stdout
    report = _zerosim(installed_example, "report", str(masked), str(base), "--out", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert "Person-days masked" in (tmp_path / "r.html").read_text()


def test_bad_settings_of_an_installed_component_are_one_line(installed_example):
    result = _zerosim(installed_example, "validate", "demo", "--set", "components.mask_mandate.effectiveness=2")
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: components.mask_mandate.effectiveness: must be <= 1.0, got 2; "
                                     "give a value in range")
